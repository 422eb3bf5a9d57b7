import CopaCore
@testable import Engine
import Foundation
import Testing

/// The resolver against apt's own solver on random small universes: each
/// case writes an installed status file and a flat repository, asks
/// `apt-get -s install` (apt reading only these, `-o Dir::State::status=`
/// and friends) and the resolver for the same request. Whenever apt finds a
/// solution that removes nothing (the resolver never removes), the resolver
/// must find one installing the same versions. apt only installs each
/// package's candidate (its highest version), so where the only solution
/// needs a lower version apt gives up and the resolver may still succeed.
@Suite struct ResolverAptPropertyTests {
    static let aptGet = "/usr/bin/apt-get"
    static let cases = 300

    /// A fixed-seed SplitMix64, so a failing case can be run again by seed.
    struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Case {
        var installed: [String] = []
        var available: [String] = []
        var request: [String] = []
    }

    /// Packages p0…pN installed at 1.0 (whose relationships hold among
    /// themselves) with 2.0 and maybe 3.0 available, and n0, not installed;
    /// later versions depend on each other with `=`, `>=` and `<<` and
    /// `Breaks` older ones; one or two installed packages are requested.
    static func generate(seed: UInt64) -> Case {
        var random = Random(state: seed)
        let count = Int.random(in: 3...5, using: &random)
        let names = (0..<count).map { "p\($0)" }
        var versions: [String: [String]] = [:]
        for name in names { versions[name] = Bool.random(using: &random) ? ["1.0", "2.0", "3.0"] : ["1.0", "2.0"] }
        versions["n0"] = Bool.random(using: &random) ? ["1.0", "2.0"] : ["2.0"]
        var result = Case()
        for name in names + ["n0"] {
            for version in versions[name]! {
                var fields: [String: String] = [:]
                var depends: [String] = []
                var breaks: [String] = []
                for other in names + ["n0"] where other != name {
                    let roll = Int.random(in: 0..<10, using: &random)
                    if version == "1.0" {
                        // Relationships of the installed versions hold in the image.
                        guard name != "n0", other != "n0" else { continue }
                        if roll == 0 { depends.append("\(other) (= 1.0)") } else if roll == 1 { depends.append("\(other) (>= 1.0)") }
                        continue
                    }
                    let target = versions[other]!.randomElement(using: &random)!
                    switch roll {
                    case 0: depends.append("\(other) (= \(target))")
                    case 1, 2: depends.append("\(other) (>= \(target))")
                    case 3: depends.append("\(other) (<< \(target))")
                    case 4: if target != "1.0" { breaks.append("\(other) (<< \(target))") }
                    default: break
                    }
                }
                if !depends.isEmpty { fields["Depends"] = depends.joined(separator: ", ") }
                if !breaks.isEmpty { fields["Breaks"] = breaks.joined(separator: ", ") }
                result.available.append(ResolverTests.paragraph(name, version, fields, installed: false))
                if version == "1.0", name != "n0" {
                    result.installed.append(ResolverTests.paragraph(name, version, fields, installed: true))
                }
            }
        }
        result.request = Array(names.shuffled(using: &random).prefix(Int.random(in: 1...2, using: &random))).sorted()
        return result
    }

    @Test(.enabled(if: DpkgTestSupport.hasTool(aptGet), "needs apt-get"))
    func resolverFindsWhatAptFinds() throws {
        let directory = try DpkgTestSupport.temporaryDirectory("apt-property")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var aptSolved = 0, agreed = 0, onlyOurs = 0
        for index in 0..<Self.cases {
            let seed = UInt64(index) &* 7919 &+ 1
            let sample = Self.generate(seed: seed)
            let apt = try Self.aptSolution(sample, in: directory + "/\(index)")
            let requests = sample.request.map { ResolverTests.update($0, "2.0") }
            let ours = try? ResolverTests.Universe(installed: sample.installed, available: sample.available).resolver().resolve(requests)
            let ourVersions = ours.map { plan in
                Dictionary(uniqueKeysWithValues: plan.installs.map { ($0.package.name, $0.package.version.description) })
            }
            guard let apt else {
                if ours != nil { onlyOurs += 1 }
                continue
            }
            aptSolved += 1
            #expect(ourVersions == apt, "seed \(seed): request \(sample.request); apt \(apt), ours \(ourVersions.map { "\($0)" } ?? "failed")\n\(sample.available.joined(separator: "\n"))")
            if ourVersions == apt { agreed += 1 }
        }
        #expect(aptSolved >= Self.cases / 8, "the generator gives apt solvable cases: \(aptSolved) of \(Self.cases)")
        print("ResolverAptPropertyTests: \(Self.cases) random universes; apt solved \(aptSolved) without removals, the resolver agreed on \(agreed); \(onlyOurs) solved only by the resolver (a non-candidate version)")
    }

    /// `apt-get -s install` on the case's files: package → version apt
    /// installs, or nil when apt finds no solution or one that removes.
    static func aptSolution(_ sample: Case, in root: String) throws -> [String: String]? {
        let fm = FileManager.default
        for directory in ["repo", "lists/partial", "cache/archives/partial", "empty"] {
            try fm.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try sample.installed.joined(separator: "\n").write(toFile: root + "/status", atomically: true, encoding: .utf8)
        try sample.available.joined(separator: "\n").write(toFile: root + "/repo/Packages", atomically: true, encoding: .utf8)
        try "deb [trusted=yes] file:\(root)/repo ./\n".write(toFile: root + "/sources.list", atomically: true, encoding: .utf8)
        try "".write(toFile: root + "/apt.conf", atomically: true, encoding: .utf8)
        let options = [
            "Dir::State::status=\(root)/status", "Dir::State::Lists=\(root)/lists", "Dir::Cache=\(root)/cache",
            "Dir::Etc::SourceList=\(root)/sources.list", "Dir::Etc::SourceParts=\(root)/empty",
            "Dir::Etc::Parts=\(root)/empty", "Dir::Etc::PreferencesParts=\(root)/empty",
            "Dir::Etc::Preferences=\(root)/empty/none", "APT::Architecture=amd64", "APT::Architectures::=amd64",
            "Debug::NoLocking=true", "Acquire::Languages=none", "APT::Install-Recommends=false",
        ].flatMap { ["-o", $0] }
        setenv("APT_CONFIG", root + "/apt.conf", 1)
        defer { unsetenv("APT_CONFIG") }
        let update = try DpkgTestSupport.run(aptGet, options + ["-qq", "update"])
        try #require(update.status == 0, "apt-get update: \(update.stderr)")
        let install = try DpkgTestSupport.run(aptGet, options + ["-s", "install"] + sample.request)
        guard install.status == 0 else { return nil }
        var versions: [String: String] = [:]
        for line in install.text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.first == "Remv" { return nil }
            guard words.first == "Inst", words.count >= 3 else { continue }
            // "Inst p1 [1.0] (3.0 repo [amd64])" or "Inst n0 (2.0 repo [amd64])"
            let version = words.first { $0.hasPrefix("(") }.map { String($0.dropFirst()) }
            if let version { versions[String(words[1])] = version }
        }
        return versions
    }
}

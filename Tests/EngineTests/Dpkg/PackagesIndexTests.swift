import Foundation
import Testing
@testable import Engine

@Suite("PackagesIndex")
struct PackagesIndexTests {
    static func record(_ name: String, _ version: String, arch: String = "amd64", extra: String = "") -> String {
        let digest = String(repeating: "ab", count: 32)
        return """
            Package: \(name)
            Version: \(version)
            Architecture: \(arch)
            \(extra)Filename: pool/main/\(name.prefix(1))/\(name)/\(name)_\(version)_\(arch).deb
            Size: 1234
            SHA256: \(digest)
            Description: test
             package


            """
    }

    @Test func indexesRecordsByNameAndProvides() throws {
        let text = Self.record("libssl3", "3.0.11-1~deb12u2", extra: "Multi-Arch: same\nSource: openssl\nDepends: libc6 (>= 2.34)\n")
            + Self.record("libssl3", "3.0.15-1~deb12u1", extra: "Multi-Arch: same\nSource: openssl (3.0.15-1~deb12u1)\nPre-Depends: libc6\nBreaks: old (<< 2)\nConflicts: other\n")
            + Self.record("libssl3", "3.0.16-1", arch: "arm64")
            + Self.record("postfix", "3.7.10-0+deb12u1", extra: "Provides: mail-transport-agent, default-mta (= 1)\n")
            + Self.record("tzdata", "2024a-0+deb12u1", arch: "all")
        let index = try PackagesIndex(parsing: text)
        #expect(index.records.count == 5)
        #expect(index.records(named: "libssl3").count == 3)
        let newest = try #require(index.newest(named: "libssl3", architecture: "amd64"))
        #expect(newest.version == (try DebianVersion("3.0.15-1~deb12u1")))
        #expect(newest.multiArch == .same && newest.source == "openssl")
        #expect(newest.preDepends.description == "libc6" && newest.breaks.description == "old (<< 2)")
        #expect(newest.conflicts.description == "other" && newest.depends.groups.isEmpty)
        #expect(newest.filename == "pool/main/l/libssl3/libssl3_3.0.15-1~deb12u1_amd64.deb")
        #expect(newest.size == 1234 && newest.sha256 == String(repeating: "ab", count: 32))
        #expect(newest.paragraph["Description"] == "test\n package")
        #expect(index.newest(named: "tzdata", architecture: "arm64")?.architecture == "all")
        #expect(index.record(named: "libssl3", version: try DebianVersion("3.0.11-1~deb12u2"), architecture: "amd64") != nil)
        #expect(index.providers(of: "default-mta").map(\.providedVersion) == [try DebianVersion("1")])
        let context = RelationshipContext(dependentArchitecture: "amd64", nativeArchitecture: "amd64")
        #expect(try RelationshipField(.depends, parsing: "mail-transport-agent, libssl3 (>= 3.0.15)").isSatisfied(by: index, context: context))
    }

    @Test func rejectsRecordsMissingWhatAptNeeds() throws {
        let good = Self.record("a", "1")
        for (field, replacement) in [("Size: 1234", "Size: big"), ("SHA256: ", "SHA1: "), ("Version: 1", "Version: x"), ("Filename:", "File:")] {
            let broken = good.replacingOccurrences(of: field, with: replacement)
            #expect {
                try PackagesIndex(parsing: broken)
            } throws: { error in
                (error as? EngineError)?.message.contains("'a'") == true
            }
        }
        #expect(throws: EngineError.self) { try PackagesIndex(parsing: good + "Package: b\nDepends: c (>= \n") }
    }

    /// The machine's own index (decompressed by the real tool): every
    /// paragraph becomes a record, and names and versions agree with grep.
    @Test func parsesTheMachinesPackagesIndex() throws {
        guard let index = try DpkgTestSupport.smallestPackagesIndex() else { return }
        let parsed = try PackagesIndex(parsing: index.text)
        let scratch = try DpkgTestSupport.temporaryDirectory("packages")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try index.text.write(toFile: scratch + "/Packages", atomically: true, encoding: .utf8)
        let names = try DpkgTestSupport.output("/bin/grep", ["^Package: ", scratch + "/Packages"])
            .split(separator: "\n").map { String($0.dropFirst("Package: ".count)) }
        let versions = try DpkgTestSupport.output("/bin/grep", ["^Version: ", scratch + "/Packages"])
            .split(separator: "\n").map { String($0.dropFirst("Version: ".count)) }
        #expect(parsed.records.map(\.name) == names)
        #expect(parsed.records.map(\.version.description) == versions)
        #expect(parsed.records.allSatisfy { $0.filename.hasPrefix("pool/") && $0.sha256.count == 64 })
    }
}

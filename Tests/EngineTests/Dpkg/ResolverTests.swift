import CopaCore
@testable import Engine
import Foundation
import Testing

/// The resolver as data: an installed status file, a repository index, a
/// request; no services.
@Suite struct ResolverTests {
    /// A package paragraph; `fields` adds Depends, Breaks, Provides...
    static func paragraph(_ name: String, _ version: String, arch: String = "amd64", _ fields: [String: String] = [:],
                          installed: Bool) -> String {
        var lines = ["Package: \(name)"]
        if installed { lines.append("Status: install ok installed") }
        lines += ["Version: \(version)", "Architecture: \(arch)", "Maintainer: Test <t@example.invalid>"]
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) { lines.append("\(key): \(value)") }
        if !installed {
            let digest = String(repeating: "a", count: 64)
            lines += ["Filename: pool/\(name)_\(version)_\(arch).deb", "Size: 1", "SHA256: \(digest)"]
        }
        lines.append("Description: test package \(name)")
        return lines.joined(separator: "\n") + "\n"
    }

    struct Universe {
        var installed: [String] = []
        var available: [String] = []

        func resolver(ignoreErrors: Bool = false) throws -> Resolver {
            let database = try DpkgDatabase(statusFile: installed.joined(separator: "\n"))
            var index = AvailablePackages()
            index.addIndex(Array(available.joined(separator: "\n").utf8), baseURI: "http://repo.example/debian", architecture: "amd64")
            return Resolver(database: database, available: index, architecture: "amd64", ignoreErrors: ignoreErrors)
        }
    }

    static func update(_ name: String, _ fixed: String, installed: String = "") -> UpdateManifest.Update {
        UpdateManifest.Update(name: name, installedVersion: installed, fixedVersion: fixed, vulnerabilityIDs: ["CVE-2099-1"])
    }

    static func versions(_ plan: ResolutionPlan) -> [String: String] {
        Dictionary(uniqueKeysWithValues: plan.installs.map { ("\($0.package.name):\($0.package.architecture)", $0.package.version.description) })
    }

    /// bookworm-security's perl, with the relationships its Packages index
    /// gives them (5.36.0-7+deb12u4): perl pins perl-base and libperl5.36
    /// with `=`, libperl5.36 needs perl-modules-5.36 at least its version,
    /// and nothing pins perl-base to the new version but perl itself.
    static func perl(_ version: String, installed: Bool) -> [String] {
        [
            paragraph("perl-base", version, ["Pre-Depends": "libc6 (>= 2.35)", "Breaks": "perl (<< 5.36.0~), perl-modules (<< 5.36.0~)"],
                      installed: installed),
            paragraph("perl-modules-5.36", version, arch: "all",
                      ["Depends": "perl-base (>= 5.36.0-1)", "Breaks": "perl (<< 5.36.0~)", "Provides": "perl-modules"],
                      installed: installed),
            paragraph("libperl5.36", version, ["Depends": "libc6 (>= 2.35), perl-modules-5.36 (>= \(version))"], installed: installed),
            paragraph("perl", version, ["Depends": "perl-base (= \(version)), perl-modules-5.36 (>= \(version)), libperl5.36 (= \(version))"],
                      installed: installed),
        ]
    }

    static let old = "5.36.0-7+deb12u3"
    static let new = "5.36.0-7+deb12u4"

    static var perlUniverse: Universe {
        Universe(installed: [paragraph("libc6", "2.36-9", installed: true)] + perl(old, installed: true),
                 available: [paragraph("libc6", "2.36-9", installed: false)] + perl(old, installed: false) + perl(new, installed: false))
    }

    static let chain = ["libperl5.36", "perl", "perl-base", "perl-modules-5.36"]

    /// The strict chain resolves whatever order its members come in (it used
    /// to fail: "the update leaves perl's dependency libperl5.36 (= …u3) unmet").
    @Test(arguments: permutations(chain))
    func aStrictChainResolvesInAnyOrder(order: [String]) throws {
        let plan = try Self.perlUniverse.resolver().resolve(order.map { Self.update($0, Self.new) })
        #expect(Self.versions(plan) == [
            "perl:amd64": Self.new, "perl-base:amd64": Self.new, "libperl5.36:amd64": Self.new, "perl-modules-5.36:all": Self.new,
        ])
        #expect(plan.outcomes.filter { $0.kind == .updated }.count == 4)
    }

    /// One pinned member reported: the others come along, each with its
    /// reason. (perl-modules-5.36 alone is not pinned by anything: apt
    /// upgrades it alone, and so do we.)
    @Test(arguments: ["libperl5.36", "perl", "perl-base"])
    func oneMemberOfAChainPullsInTheRest(name: String) throws {
        let plan = try Self.perlUniverse.resolver().resolve([Self.update(name, Self.new)])
        #expect(Self.versions(plan).values.allSatisfy { $0 == Self.new })
        #expect(Self.versions(plan).count == 4, "\(Self.versions(plan))")
        let reasons = plan.installs.filter { $0.package.name != name }.map(\.reason)
        #expect(reasons.allSatisfy { if case .requested = $0 { false } else { true } })
    }

    @Test func anUnpinnedMemberMovesAlone() throws {
        let plan = try Self.perlUniverse.resolver().resolve([Self.update("perl-modules-5.36", Self.new)])
        #expect(Self.versions(plan) == ["perl-modules-5.36:all": Self.new])
    }

    @Test func breaksForceAnUpgrade() throws {
        let universe = Universe(
            installed: [Self.paragraph("libfoo1", "1.0-1", installed: true), Self.paragraph("foo-tools", "1.0-1", ["Depends": "libfoo1"], installed: true)],
            available: [Self.paragraph("libfoo1", "1.0-2", ["Breaks": "foo-tools (<< 1.0-2)"], installed: false),
                        Self.paragraph("foo-tools", "1.0-2", ["Depends": "libfoo1 (>= 1.0-2)"], installed: false)])
        let plan = try universe.resolver().resolve([Self.update("libfoo1", "1.0-2")])
        #expect(Self.versions(plan) == ["libfoo1:amd64": "1.0-2", "foo-tools:amd64": "1.0-2"])
        let tools = try #require(plan.installs.first { $0.package.name == "foo-tools" })
        guard case .upgradedFor(let why) = tools.reason else { Issue.record("\(tools.reason)"); return }
        #expect(why.contains("breaks foo-tools 1.0-1"))
    }

    /// A new dependency on a virtual package that an installed package provides.
    @Test func aVirtualDependencyHeldByAnInstalledProvider() throws {
        let universe = Universe(
            installed: [Self.paragraph("mailer", "1.0", installed: true),
                        Self.paragraph("exim", "4.96", ["Provides": "mail-transport-agent"], installed: true)],
            available: [Self.paragraph("mailer", "1.1", ["Depends": "mail-transport-agent | postfix"], installed: false)])
        let plan = try universe.resolver().resolve([Self.update("mailer", "1.1")])
        #expect(Self.versions(plan) == ["mailer:amd64": "1.1"])
    }

    /// A Multi-Arch: same library and its strict dependent.
    @Test func aMultiArchSameLibraryMovesItsStrictDependent() throws {
        let universe = Universe(
            installed: [Self.paragraph("libz1", "1.2-1", ["Multi-Arch": "same"], installed: true),
                        Self.paragraph("libz-dev", "1.2-1", ["Multi-Arch": "same", "Depends": "libz1 (= 1.2-1)"], installed: true)],
            available: [Self.paragraph("libz1", "1.2-2", ["Multi-Arch": "same"], installed: false),
                        Self.paragraph("libz-dev", "1.2-2", ["Multi-Arch": "same", "Depends": "libz1 (= 1.2-2)"], installed: false)])
        let plan = try universe.resolver().resolve([Self.update("libz1", "1.2-2")])
        #expect(Self.versions(plan) == ["libz1:amd64": "1.2-2", "libz-dev:amd64": "1.2-2"])
    }

    /// When the first version tried leads nowhere, the next one is tried.
    @Test func aDeadEndBacktracksToTheNextCandidate() throws {
        let universe = Universe(
            installed: [Self.paragraph("app", "1.0", ["Depends": "libx (= 1.0)"], installed: true), Self.paragraph("libx", "1.0", installed: true)],
            available: [Self.paragraph("libx", "1.1", installed: false),
                        // The newest app wants a library nobody has; the one before fits.
                        Self.paragraph("app", "1.2", ["Depends": "libx (= 1.1), libmissing"], installed: false),
                        Self.paragraph("app", "1.1", ["Depends": "libx (= 1.1)"], installed: false)])
        let plan = try universe.resolver().resolve([Self.update("libx", "1.1")])
        #expect(Self.versions(plan) == ["libx:amd64": "1.1", "app:amd64": "1.1"])
    }

    /// A set no repository can satisfy fails with the chain that fails.
    @Test func anUnsatisfiableSetNamesTheChain() throws {
        var universe = Self.perlUniverse
        // perl-base u4 is missing from the repository.
        universe.available.removeAll { $0.contains("Package: perl-base\n") && $0.contains(Self.new) }
        #expect {
            try universe.resolver().resolve([Self.update("perl", Self.new)])
        } throws: { error in
            "\(error)".contains("perl \(Self.new) needs perl-base (= \(Self.new)) (Depends), and no configured repository has a version")
        }
        // Reached through a repair: the message says which decision led there.
        #expect {
            try universe.resolver().resolve([Self.update("libperl5.36", Self.new)])
        } throws: { error in
            let message = "\(error)"
            return message.contains("needs perl-base (= \(Self.new))")
                && message.contains("→ perl \(Self.new) for the update leaves perl's dependency libperl5.36 (= \(Self.old)) unmet)")
        }
        // With --ignore-errors the request is reported, and nothing is half-installed.
        let plan = try universe.resolver(ignoreErrors: true).resolve([Self.update("perl", Self.new), Self.update("libc6", "2.36-9")])
        #expect(plan.outcomes.first { $0.name == "perl" }?.kind == .errored)
        #expect(plan.installs.isEmpty, "\(Self.versions(plan))")
    }
}

/// Every ordering of `items`.
func permutations<T>(_ items: [T]) -> [[T]] {
    guard items.count > 1 else { return [items] }
    return items.indices.flatMap { index -> [[T]] in
        var rest = items
        let first = rest.remove(at: index)
        return permutations(rest).map { [first] + $0 }
    }
}

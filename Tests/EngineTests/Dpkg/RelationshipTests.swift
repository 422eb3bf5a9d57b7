import Foundation
import Testing
@testable import Engine

@Suite("Relationship")
struct RelationshipTests {
    @Test func parsesGroupsAlternativesAndRestrictions() throws {
        let field = try RelationshipField(.depends, parsing: """
            libc6 (>= 2.34), libgcc-s1 (>=4.2) | gcc-12-base:any ( << 13 ),
             foo:amd64 [!i386 !armel] <!nocheck> <stage1 cross>, bar (> 1), baz (<1~)
            """)
        #expect(field.groups.count == 5)
        let libc = try #require(field.groups.first?.alternatives.first)
        #expect(libc.name == "libc6")
        #expect(libc.version == Relationship.VersionConstraint(.laterOrEqual, try DebianVersion("2.34")))
        let second = field.groups[1].alternatives
        #expect(second.map(\.name) == ["libgcc-s1", "gcc-12-base"])
        #expect(second[1].architectureQualifier == "any")
        #expect(second[1].version?.relation == .earlier)
        let foo = field.groups[2].alternatives[0]
        #expect(foo.architectureQualifier == "amd64")
        #expect(foo.architectures == [.init("i386", negated: true), .init("armel", negated: true)])
        #expect(foo.profiles == [[.init("nocheck", negated: true)], [.init("stage1"), .init("cross")]])
        // Policy 7.1: the obsolete '>' and '<' mean '>=' and '<='.
        #expect(field.groups[3].alternatives[0].version?.relation == .laterOrEqual)
        #expect(field.groups[4].alternatives[0].version?.relation == .earlierOrEqual)
        #expect(field.description == "libc6 (>= 2.34), libgcc-s1 (>= 4.2) | gcc-12-base:any (<< 13), foo:amd64 [!i386 !armel] <!nocheck> <stage1 cross>, bar (>= 1), baz (<= 1~)")
        #expect(try RelationshipField(.depends, parsing: field.description) == field)
        #expect(try RelationshipField(.depends, parsing: "  ").groups.isEmpty)
    }

    @Test func rejectsWhatPolicyForbids() throws {
        let cases: [(RelationshipKind, String)] = [
            (.conflicts, "a | b"), (.provides, "virtual (>= 1)"), (.depends, "a (>= 1"), (.depends, "a (~ 1)"),
            (.depends, "a, , b"), (.depends, "a b"), (.depends, "-a"), (.depends, "a (>= x1)"),
            (.depends, "a [amd64 !i386]"), (.depends, "a [amd64"), (.depends, "a:"),
        ]
        for (kind, text) in cases {
            #expect(throws: EngineError.self, "\(kind) '\(text)'") { try RelationshipField(kind, parsing: text) }
        }
        #expect(try RelationshipField(.provides, parsing: "virtual (= 1.0), other").groups.count == 2)
    }

    /// Every relationship field dpkg accepted on this machine parses, and
    /// prints back to a string that parses to the same value.
    @Test func parsesEveryRelationshipOnThisMachine() throws {
        let paragraphs = try ControlFile.parse(try DpkgTestSupport.readText("/var/lib/dpkg/status"))
        var parsed = 0
        for paragraph in paragraphs {
            for kind in RelationshipKind.allCases where paragraph.contains(kind.fieldName) {
                let field = try RelationshipField(kind, in: paragraph)
                #expect(try RelationshipField(kind, parsing: field.description) == field)
                parsed += 1
            }
        }
        #expect(parsed > paragraphs.count / 2)
    }

    /// dpkg only leaves packages configured when their dependencies hold and
    /// nothing installed conflicts with or breaks them, so on a system where
    /// `dpkg --audit` is clean every check must pass against the installed set.
    @Test func installedSystemSatisfiesItself() throws {
        let audit = try DpkgTestSupport.run("/usr/bin/dpkg", ["--audit"])
        try #require(audit.status == 0 && audit.text.isEmpty, "dpkg --audit reports problems: \(audit.text)")
        let native = try DpkgTestSupport.nativeArchitecture()
        let database = try DpkgDatabase(statusFile: try DpkgTestSupport.readText("/var/lib/dpkg/status"))
        let universe = try database.universe()
        for package in database.installed {
            let context = RelationshipContext(dependentArchitecture: package.architecture, nativeArchitecture: native)
            for kind in [RelationshipKind.depends, .preDepends] {
                let field = try RelationshipField(kind, in: package.paragraph)
                let missing = field.unsatisfiedGroups(in: universe, context: context)
                #expect(missing.isEmpty, "\(package.name) \(kind.fieldName): \(missing)")
            }
            for kind in [RelationshipKind.conflicts, .breaks] {
                let field = try RelationshipField(kind, in: package.paragraph)
                let hits = field.matchingPackages(in: universe, context: context, declaredBy: package.name)
                #expect(hits.isEmpty, "\(package.name) \(kind.fieldName) hits \(hits.map(\.name))")
            }
        }
    }

    /// Planned changes: removing libc6 breaks bash's Pre-Depends, as dpkg
    /// would refuse; a libc6 upgrade keeps it satisfied.
    @Test func plannedChangesAreSeen() throws {
        let native = try DpkgTestSupport.nativeArchitecture()
        let database = try DpkgDatabase(statusFile: try DpkgTestSupport.readText("/var/lib/dpkg/status"))
        let bash = try #require(database.package("bash"))
        let preDepends = try RelationshipField(.preDepends, in: bash.paragraph)
        try #require(preDepends.groups.contains { $0.alternatives.contains { $0.name == "libc6" } })
        let context = RelationshipContext(dependentArchitecture: bash.architecture, nativeArchitecture: native)
        let installed = try database.universe()
        #expect(preDepends.isSatisfied(by: installed, context: context))
        #expect(!preDepends.isSatisfied(by: installed.applying(installing: [], removing: ["libc6"]), context: context))
        let libc = try #require(database.packages(named: "libc6").first)
        let upgraded = UniversePackage(
            name: "libc6", version: try DebianVersion("99:1.0"), architecture: libc.architecture, multiArch: libc.multiArch)
        let future = installed.applying(installing: [upgraded])
        #expect(preDepends.isSatisfied(by: future, context: context))
        #expect(future.packages(named: "libc6").map(\.version) == [upgraded.version])
    }

    static func universe() throws -> PackageSet {
        func package(_ name: String, _ version: String, _ arch: String, _ multiArch: MultiArch = .no, provides: String = "") throws -> UniversePackage {
            let provided = try RelationshipField(.provides, parsing: provides).groups.flatMap(\.alternatives)
            return UniversePackage(name: name, version: try DebianVersion(version), architecture: arch, multiArch: multiArch, provides: provided)
        }
        return PackageSet([
            try package("libc6", "2.36-9", "amd64", .same),
            try package("libc6", "2.36-9", "i386", .same),
            try package("perl", "5.36.0-7", "amd64", .allowed),
            try package("make", "4.3-4", "amd64", .foreign),
            try package("python3", "3.11.2-1", "amd64", .allowed),
            try package("tzdata", "2024a-0", "all", .foreign),
            try package("libfoo", "1.0", "all"),
            try package("postfix", "3.7.10-0", "amd64", provides: "mail-transport-agent, default-mta (= 3.7.10-0)"),
        ])
    }

    @Test func followsDpkgArchitectureRules() throws {
        let universe = try Self.universe()
        let amd64 = RelationshipContext(dependentArchitecture: "amd64", nativeArchitecture: "amd64")
        let i386 = RelationshipContext(dependentArchitecture: "i386", nativeArchitecture: "amd64")
        let all = RelationshipContext(dependentArchitecture: "all", nativeArchitecture: "amd64")
        func holds(_ text: String, _ context: RelationshipContext, _ kind: RelationshipKind = .depends) throws -> Bool {
            try RelationshipField(kind, parsing: text).isSatisfied(by: universe, context: context)
        }
        #expect(try holds("libc6 (>= 2.36)", i386))
        #expect(try !holds("libc6 (>> 2.36-9)", i386))
        #expect(try !holds("perl", i386), "M-A allowed needs :any from another architecture")
        #expect(try holds("perl:any", i386))
        #expect(try holds("perl", amd64))
        #expect(try holds("make", i386), "M-A foreign satisfies any architecture")
        #expect(try holds("python3:any", RelationshipContext(dependentArchitecture: "arm64", nativeArchitecture: "amd64")))
        #expect(try holds("libfoo", amd64), "all counts as native")
        #expect(try !holds("libfoo", i386))
        #expect(try holds("libc6", all), "an arch-all dependent depends as native")
        #expect(try holds("libc6:i386", amd64))
        #expect(try !holds("libc6:arm64", amd64))
        #expect(try holds("tzdata:native", i386))
    }

    @Test func followsDpkgProvidesRules() throws {
        let universe = try Self.universe()
        let context = RelationshipContext(dependentArchitecture: "amd64", nativeArchitecture: "amd64")
        func holds(_ text: String) throws -> Bool {
            try RelationshipField(.depends, parsing: text).isSatisfied(by: universe, context: context)
        }
        #expect(try holds("mail-transport-agent"))
        #expect(try !holds("mail-transport-agent (>= 1)"), "an unversioned Provides never satisfies a versioned dependency")
        #expect(try holds("default-mta (>= 3.7)"))
        #expect(try !holds("default-mta (>> 3.7.10-0)"))
        #expect(try holds("missing | mail-transport-agent"))
        #expect(try !holds("missing | also-missing"))
        #expect(try holds("missing [i386]"), "an alternative restricted away leaves the group satisfied")
    }

    @Test func conflictsApplyToEveryArchitecture() throws {
        let universe = try Self.universe()
        let context = RelationshipContext(dependentArchitecture: "arm64", nativeArchitecture: "amd64")
        let conflicts = try RelationshipField(.conflicts, parsing: "libc6 (<< 3), mail-transport-agent, perl:i386")
        let hits = conflicts.matchingPackages(in: universe, context: context, declaredBy: "exim4")
        #expect(Set(hits.map { "\($0.name):\($0.architecture)" }) == ["libc6:amd64", "libc6:i386", "postfix:amd64"])
        #expect(conflicts.matchingPackages(in: universe, context: context, declaredBy: "postfix").count == 2,
                "a package never conflicts with itself through what it provides")
    }

    @Test func plannedMultiArchInstallsReplaceLikeDpkg() throws {
        let universe = try Self.universe()
        let newLibc = UniversePackage(name: "libc6", version: try DebianVersion("2.36-9+deb12u4"), architecture: "amd64", multiArch: .same)
        let future = universe.applying(installing: [newLibc])
        #expect(Set(future.packages(named: "libc6").map { "\($0.architecture) \($0.version)" }) == ["amd64 2.36-9+deb12u4", "i386 2.36-9"])
        let crossgrade = UniversePackage(name: "perl", version: try DebianVersion("5.36.0-8"), architecture: "arm64", multiArch: .allowed)
        #expect(universe.applying(installing: [crossgrade]).packages(named: "perl") == [crossgrade])
    }

    @Test func matchesArchitectureWildcards() {
        #expect(DebianArchitecture.matches("any", "arm64"))
        #expect(DebianArchitecture.matches("linux-any", "amd64"))
        #expect(DebianArchitecture.matches("any-arm", "armhf"))
        #expect(DebianArchitecture.matches("any-amd64", "kfreebsd-amd64"))
        #expect(!DebianArchitecture.matches("kfreebsd-any", "amd64"))
        #expect(!DebianArchitecture.matches("i386", "amd64"))
        let restricted = Relationship(name: "x", architectures: [.init("linux-any", negated: true)])
        #expect(!restricted.isActive(onArchitecture: "amd64", profiles: []))
        #expect(restricted.isActive(onArchitecture: "hurd-i386", profiles: []))
        let profiled = Relationship(name: "x", profiles: [[.init("nocheck", negated: true)]])
        #expect(profiled.isActive(onArchitecture: "amd64", profiles: []))
        #expect(!profiled.isActive(onArchitecture: "amd64", profiles: ["nocheck"]))
    }
}

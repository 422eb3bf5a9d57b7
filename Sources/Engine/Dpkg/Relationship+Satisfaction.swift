/// Where a relationship is evaluated: who declares it, and on what system.
public struct RelationshipContext: Sendable, Hashable {
    /// The `Architecture` of the package that declares the relationship.
    public var dependentArchitecture: String
    /// dpkg's native architecture, which `all` packages count as.
    public var nativeArchitecture: String
    /// Active build profiles for `<...>` restrictions (none on an installed system).
    public var buildProfiles: Set<String>

    public init(dependentArchitecture: String, nativeArchitecture: String, buildProfiles: Set<String> = []) {
        self.dependentArchitecture = dependentArchitecture
        self.nativeArchitecture = nativeArchitecture
        self.buildProfiles = buildProfiles
    }
}

extension Relationship {
    /// The packages of `universe` this alternative names: real packages with
    /// a matching version, and providers whose `Provides` matches (an
    /// unversioned `Provides` never satisfies a versioned relationship, as in
    /// dpkg ≥ 1.17.11). Architectures are checked as dpkg's `archsatisfied`.
    public func matches(in universe: any PackageUniverse, kind: RelationshipKind, context: RelationshipContext) -> [UniversePackage] {
        var found = universe.packages(named: name).filter { package in
            (version?.isSatisfied(by: package.version) ?? true) && allowsArchitecture(of: package, kind: kind, context: context)
        }
        for provider in universe.providers(of: name) {
            if let version {
                guard let provided = provider.providedVersion, version.isSatisfied(by: provided) else { continue }
            }
            guard allowsArchitecture(of: provider.package, kind: kind, context: context) else { continue }
            if !found.contains(provider.package) { found.append(provider.package) }
        }
        return found
    }

    /// dpkg's `archsatisfied` (lib/dpkg/depcon.c): Multi-Arch: foreign
    /// packages satisfy any architecture; `:any` accepts Multi-Arch: allowed
    /// packages, and every package for Breaks/Conflicts/Replaces; otherwise the
    /// architectures must be equal, with `all` counted as native.
    func allowsArchitecture(of package: UniversePackage, kind: RelationshipKind, context: RelationshipContext) -> Bool {
        if package.multiArch == .foreign { return true }
        let qualifier = architectureQualifier ?? (kind.unqualifiedMeansAnyArchitecture ? "any" : nil)
        if qualifier == "any" {
            return package.multiArch == .allowed || kind.unqualifiedMeansAnyArchitecture
        }
        func resolved(_ architecture: String) -> String {
            architecture.isEmpty || architecture == "all" || architecture == "native"
                ? context.nativeArchitecture : architecture
        }
        return resolved(qualifier ?? context.dependentArchitecture) == resolved(package.architecture)
    }

    /// Whether the `[arch]` and `<profile>` restrictions (Policy 7.1) keep
    /// this alternative for the given host architecture and profiles.
    public func isActive(onArchitecture architecture: String, profiles active: Set<String>) -> Bool {
        let architectureOK: Bool
        if architectures.isEmpty {
            architectureOK = true
        } else if architectures.allSatisfy(\.negated) {
            architectureOK = !architectures.contains { DebianArchitecture.matches($0.name, architecture) }
        } else {
            architectureOK = architectures.contains { DebianArchitecture.matches($0.name, architecture) }
        }
        let profilesOK = profiles.isEmpty || profiles.contains { list in
            list.allSatisfy { $0.negated != active.contains($0.name) }
        }
        return architectureOK && profilesOK
    }
}

extension RelationshipGroup {
    /// The alternatives whose restrictions keep them in `context`.
    func activeAlternatives(_ context: RelationshipContext) -> [Relationship] {
        alternatives.filter { $0.isActive(onArchitecture: context.dependentArchitecture, profiles: context.buildProfiles) }
    }

    /// True when some alternative matches a package; a group whose
    /// alternatives are all restricted away holds trivially (as
    /// dpkg-checkbuilddeps reduces it).
    public func isSatisfied(by universe: any PackageUniverse, kind: RelationshipKind, context: RelationshipContext) -> Bool {
        let active = activeAlternatives(context)
        return active.isEmpty || active.contains { !$0.matches(in: universe, kind: kind, context: context).isEmpty }
    }
}

extension RelationshipField {
    /// The groups no package of `universe` satisfies (for the dependency
    /// kinds; empty means the field holds).
    public func unsatisfiedGroups(in universe: any PackageUniverse, context: RelationshipContext) -> [RelationshipGroup] {
        groups.filter { !$0.isSatisfied(by: universe, kind: kind, context: context) }
    }

    public func isSatisfied(by universe: any PackageUniverse, context: RelationshipContext) -> Bool {
        unsatisfiedGroups(in: universe, context: context).isEmpty
    }

    /// For Breaks/Conflicts: the packages of `universe` the field hits,
    /// leaving out the declaring package itself (a package may conflict with
    /// a virtual name it provides, Policy 7.6.2).
    public func matchingPackages(in universe: any PackageUniverse, context: RelationshipContext, declaredBy declarer: String) -> [UniversePackage] {
        var hits: [UniversePackage] = []
        for group in groups {
            for alternative in group.activeAlternatives(context) {
                for package in alternative.matches(in: universe, kind: kind, context: context)
                where package.name != declarer && !hits.contains(package) {
                    hits.append(package)
                }
            }
        }
        return hits
    }
}

/// Architecture wildcards in `[...]` restrictions (Policy 11.1): `any`,
/// `<os>-any`, `any-<cpu>` and `<abi>-<os>-<cpu>` forms over Debian port names.
enum DebianArchitecture {
    /// Port names whose CPU differs from the name (`dpkg-architecture -L`).
    private static let cpuOfPort: [String: String] = [
        "armhf": "arm", "armel": "arm", "x32": "amd64", "powerpc": "powerpc", "ppc64el": "ppc64el",
    ]

    /// (abi, os, cpu) of a port name: `amd64` is gnu-linux-amd64,
    /// `kfreebsd-amd64` is gnu-kfreebsd-amd64, `musl-linux-arm64` as written.
    static func tuple(_ architecture: String) -> [String] {
        let parts = architecture.split(separator: "-").map(String.init)
        switch parts.count {
        case 1: return ["gnu", "linux", cpuOfPort[architecture] ?? architecture]
        case 2: return ["gnu", parts[0], parts[1]]
        default: return Array(parts.suffix(3))
        }
    }

    static func matches(_ pattern: String, _ architecture: String) -> Bool {
        if pattern == architecture || pattern == "any" { return true }
        guard pattern.contains("any") else { return false }
        var wanted = pattern.split(separator: "-").map(String.init)
        if wanted.count == 2 { wanted.insert("any", at: 0) }
        let actual = tuple(architecture)
        guard wanted.count == 3 else { return false }
        return zip(wanted, actual).allSatisfy { $0 == "any" || $0 == $1 }
    }
}

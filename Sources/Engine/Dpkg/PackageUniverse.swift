/// The `Multi-Arch` field (Debian Policy 5.6.31 / the MultiArch spec).
public enum MultiArch: String, Sendable, Hashable, CaseIterable {
    case no
    case same
    case foreign
    case allowed

    /// Reads the field value; an absent (or empty, as dpkg-query prints it) field means `no`.
    public init(field: String?) throws {
        guard let field, !field.isEmpty else {
            self = .no
            return
        }
        guard let value = MultiArch(rawValue: field.lowercased()) else {
            throw EngineError(.invalidInput, "'\(field)' is not a valid Multi-Arch value (use no, same, foreign or allowed)")
        }
        self = value
    }
}

/// A binary package as relationship checks see it.
public struct UniversePackage: Sendable, Hashable {
    public let name: String
    public let version: DebianVersion
    /// A Debian architecture name, or `all`.
    public let architecture: String
    public let multiArch: MultiArch
    /// The package's `Provides` entries (virtual names, optionally `(= version)`).
    public let provides: [Relationship]

    public init(name: String, version: DebianVersion, architecture: String, multiArch: MultiArch = .no, provides: [Relationship] = []) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.multiArch = multiArch
        self.provides = provides
    }

    /// Reads the fields of a status or `Packages` paragraph.
    public init(paragraph: ControlParagraph) throws {
        guard let name = paragraph["Package"], let versionText = paragraph["Version"] else {
            throw EngineError(.invalidInput, "a package paragraph lacks its Package or Version field")
        }
        let provides = try RelationshipField(.provides, in: paragraph)
        self.init(
            name: name, version: try DebianVersion(versionText),
            architecture: paragraph["Architecture"] ?? "",
            multiArch: try MultiArch(field: paragraph["Multi-Arch"]),
            provides: provides.groups.flatMap(\.alternatives))
    }
}

/// A package that provides a virtual name, with the version it provides
/// (nil for an unversioned `Provides`).
public struct UniverseProvider: Sendable, Hashable {
    public let package: UniversePackage
    public let providedVersion: DebianVersion?

    public init(package: UniversePackage, providedVersion: DebianVersion?) {
        self.package = package
        self.providedVersion = providedVersion
    }
}

/// The packages a relationship is checked against: what is installed, what a
/// repository offers, or what will be installed once planned changes apply
/// (see `PackageSet.applying`).
public protocol PackageUniverse: Sendable {
    /// Every package named `name`, of any architecture.
    func packages(named name: String) -> [UniversePackage]
    /// Every package whose `Provides` names `name`.
    func providers(of name: String) -> [UniverseProvider]
}

/// An in-memory universe indexed by name and by provided name.
public struct PackageSet: PackageUniverse, Hashable {
    public let all: [UniversePackage]
    private let byName: [String: [UniversePackage]]
    private let byProvided: [String: [UniverseProvider]]

    public init(_ packages: [UniversePackage]) {
        self.all = packages
        self.byName = Dictionary(grouping: packages, by: \.name)
        var provided: [String: [UniverseProvider]] = [:]
        for package in packages {
            for entry in package.provides {
                provided[entry.name, default: []].append(
                    UniverseProvider(package: package, providedVersion: entry.version?.version))
            }
        }
        self.byProvided = provided
    }

    public func packages(named name: String) -> [UniversePackage] { byName[name] ?? [] }

    public func providers(of name: String) -> [UniverseProvider] { byProvided[name] ?? [] }

    /// The set after installing `installs` and removing `removals` (names).
    /// An install replaces what dpkg would replace: for a Multi-Arch: same
    /// package, the same name on the same architecture plus any instance that
    /// is not Multi-Arch: same; otherwise every instance of the name (one
    /// architecture at a time, so a crossgrade replaces too).
    public func applying(installing installs: [UniversePackage], removing removals: Set<String> = []) -> PackageSet {
        var result = all.filter { !removals.contains($0.name) }
        for install in installs {
            result.removeAll { existing in
                guard existing.name == install.name else { return false }
                guard install.multiArch == .same, existing.multiArch == .same else { return true }
                return existing.architecture == install.architecture
            }
            result.append(install)
        }
        return PackageSet(result)
    }

    public static func == (lhs: PackageSet, rhs: PackageSet) -> Bool { lhs.all == rhs.all }
    public func hash(into hasher: inout Hasher) { hasher.combine(all) }
}

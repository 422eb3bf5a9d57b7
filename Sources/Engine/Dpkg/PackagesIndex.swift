/// A repository's `Packages` index (already decompressed), indexed by
/// package name and by provided name. It is itself a `PackageUniverse`, so
/// relationships can be checked against what the repository offers.
public struct PackagesIndex: Sendable, PackageUniverse {
    /// Every record, in file order.
    public let records: [PackageRecord]
    private let byName: [String: [Int]]
    private let byProvided: [String: [Int]]

    /// Parses the whole index; any malformed paragraph fails it, naming the package.
    public init(parsing text: String) throws {
        let paragraphs: [ControlParagraph]
        do {
            paragraphs = try ControlFile.parse(text)
        } catch let error as EngineError {
            throw EngineError(error.code, "the Packages index is malformed: \(error.message)")
        }
        try self.init(records: paragraphs.map(PackageRecord.init))
    }

    public init(records: [PackageRecord]) {
        self.records = records
        var names: [String: [Int]] = [:]
        var provided: [String: [Int]] = [:]
        for (position, record) in records.enumerated() {
            names[record.name, default: []].append(position)
            for group in record.provides.groups {
                for alternative in group.alternatives where provided[alternative.name]?.last != position {
                    provided[alternative.name, default: []].append(position)
                }
            }
        }
        self.byName = names
        self.byProvided = provided
    }

    /// Every record named `name` (all versions and architectures), in file order.
    public func records(named name: String) -> [PackageRecord] {
        (byName[name] ?? []).map { records[$0] }
    }

    /// The highest version of `name` for `architecture` (or `all`).
    public func newest(named name: String, architecture: String) -> PackageRecord? {
        records(named: name)
            .filter { $0.architecture == architecture || $0.architecture == "all" }
            .max { $0.version < $1.version }
    }

    /// The record of `name` at exactly `version` for `architecture` (or `all`).
    public func record(named name: String, version: DebianVersion, architecture: String) -> PackageRecord? {
        records(named: name).first {
            $0.version == version && ($0.architecture == architecture || $0.architecture == "all")
        }
    }

    public func packages(named name: String) -> [UniversePackage] {
        records(named: name).map(\.universePackage)
    }

    public func providers(of name: String) -> [UniverseProvider] {
        var result: [UniverseProvider] = []
        for position in byProvided[name] ?? [] {
            let record = records[position]
            for group in record.provides.groups {
                for entry in group.alternatives where entry.name == name {
                    result.append(UniverseProvider(package: record.universePackage, providedVersion: entry.version?.version))
                }
            }
        }
        return result
    }
}

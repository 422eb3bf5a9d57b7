/// One paragraph of a repository's `Packages` index (Debian Repository
/// Format; fields as in Policy 5.3 plus `Filename`, `Size` and `SHA256`).
public struct PackageRecord: Sendable, Hashable {
    public let name: String
    public let version: DebianVersion
    public let architecture: String
    public let multiArch: MultiArch
    /// The `.deb` path relative to the repository URI (`pool/main/a/apt/apt_2.6.1_amd64.deb`).
    public let filename: String
    public let size: Int64
    /// 64 lower-case hex digits.
    public let sha256: String
    public let depends: RelationshipField
    public let preDepends: RelationshipField
    public let breaks: RelationshipField
    public let conflicts: RelationshipField
    public let provides: RelationshipField
    /// The source package name (`Source` without its version, or the package name).
    public let source: String
    public let paragraph: ControlParagraph

    /// Reads and validates a `Packages` paragraph. Throws
    /// `EngineError.invalidInput` naming the package and the field at fault.
    public init(paragraph: ControlParagraph) throws {
        guard let name = paragraph["Package"], !name.isEmpty else {
            throw EngineError(.invalidInput, "a Packages paragraph has no Package field")
        }
        do {
            self.name = name
            self.version = try DebianVersion(try Self.required("Version", in: paragraph))
            self.architecture = try Self.required("Architecture", in: paragraph)
            self.multiArch = try MultiArch(field: paragraph["Multi-Arch"])
            self.filename = try Self.required("Filename", in: paragraph)
            guard let size = Int64(try Self.required("Size", in: paragraph)), size >= 0 else {
                throw EngineError(.invalidInput, "Size '\(paragraph["Size"] ?? "")' is not a byte count")
            }
            self.size = size
            let digest = try Self.required("SHA256", in: paragraph).lowercased()
            guard digest.utf8.count == 64, digest.allSatisfy(\.isHexDigit) else {
                throw EngineError(.invalidInput, "SHA256 '\(digest)' is not 64 hex digits")
            }
            self.sha256 = digest
            self.depends = try RelationshipField(.depends, in: paragraph)
            self.preDepends = try RelationshipField(.preDepends, in: paragraph)
            self.breaks = try RelationshipField(.breaks, in: paragraph)
            self.conflicts = try RelationshipField(.conflicts, in: paragraph)
            self.provides = try RelationshipField(.provides, in: paragraph)
            let sourceField = paragraph["Source"] ?? ""
            let sourceName = sourceField.prefix(while: { $0 != " " && $0 != "(" })
            self.source = sourceName.isEmpty ? name : String(sourceName)
            self.paragraph = paragraph
        } catch let error as EngineError {
            throw EngineError(error.code, "package '\(name)' in the Packages index: \(error.message)")
        }
    }

    /// The record as relationship checks see it.
    public var universePackage: UniversePackage {
        UniversePackage(
            name: name, version: version, architecture: architecture, multiArch: multiArch,
            provides: provides.groups.flatMap(\.alternatives))
    }

    private static func required(_ field: String, in paragraph: ControlParagraph) throws -> String {
        guard let value = paragraph[field], !value.isEmpty else {
            throw EngineError(.invalidInput, "the \(field) field is missing")
        }
        return value
    }
}

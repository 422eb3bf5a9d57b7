/// A binary package a verified repository offers: its `Packages` paragraph
/// and where to download it from.
public struct AvailablePackage: Sendable, Hashable {
    public let paragraph: ControlParagraph
    public let universe: UniversePackage
    /// The repository's base URI (`URIs:` of the source), without a trailing slash.
    public let baseURI: String
    /// `Filename`, relative to `baseURI` (Debian Policy 5.6.? / apt's Packages index).
    public let filename: String
    public let size: Int64
    public let sha256: String

    public var name: String { universe.name }
    public var version: DebianVersion { universe.version }
    public var architecture: String { universe.architecture }
    public var url: String { baseURI + "/" + filename }

    public init(paragraph: ControlParagraph, baseURI: String) throws {
        let universe = try UniversePackage(paragraph: paragraph)
        guard let filename = paragraph["Filename"], !filename.isEmpty,
              !filename.split(separator: "/").contains("..") else {
            throw EngineError(.verification, "package \(universe.name) in \(baseURI) has no usable Filename")
        }
        guard let sizeText = paragraph["Size"], let size = Int64(sizeText), size >= 0 else {
            throw EngineError(.verification, "package \(universe.name) in \(baseURI) has no Size")
        }
        guard let sha256 = paragraph["SHA256"]?.lowercased(), sha256.count == 64,
              sha256.allSatisfy(\.isHexDigit) else {
            // apt-secure(8): without a strong hash the .deb cannot be tied to
            // the signed Release file, so it is not used.
            throw EngineError(.verification, "package \(universe.name) in \(baseURI) has no SHA256")
        }
        self.paragraph = paragraph
        self.universe = universe
        self.baseURI = baseURI
        self.filename = filename
        self.size = size
        self.sha256 = sha256
    }

    func relationships(_ kind: RelationshipKind) throws -> RelationshipField {
        try RelationshipField(kind, in: paragraph)
    }
}

/// Every package the image's repositories offer, by name. Paragraphs are
/// kept raw and turned into `AvailablePackage`s only when a name is asked
/// for: an archive's index has tens of thousands, a patch needs a handful.
public struct AvailablePackages: Sendable {
    private var byName: [String: [(paragraph: ControlParagraph, baseURI: String)]] = [:]
    public private(set) var count = 0

    public init() {}

    public init(_ packages: [AvailablePackage]) {
        for package in packages { add(package.paragraph, baseURI: package.baseURI, architecture: package.architecture) }
    }

    /// Adds a paragraph of a Packages index if it is for `architecture` or `all`.
    public mutating func add(_ paragraph: ControlParagraph, baseURI: String, architecture: String) {
        guard let name = paragraph["Package"], let arch = paragraph["Architecture"],
              arch == architecture || arch == "all" else { return }
        byName[name, default: []].append((paragraph, baseURI))
        count += 1
    }

    /// Versions of `name` installable on `architecture` (`all` packages count
    /// for every architecture), highest first. Entries that do not parse are
    /// left out: one broken paragraph must not hide the others.
    public func candidates(_ name: String, architecture: String) -> [AvailablePackage] {
        (byName[name] ?? [])
            .compactMap { try? AvailablePackage(paragraph: $0.paragraph, baseURI: $0.baseURI) }
            .filter { $0.architecture == architecture || $0.architecture == "all" }
            .sorted { $0.version > $1.version }
    }
}

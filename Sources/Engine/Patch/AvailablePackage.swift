import Foundation

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

/// Every package the image's repositories offer, by name. An archive's
/// index has tens of thousands of paragraphs and a patch needs a handful, so
/// the index is only split into paragraphs here (one pass over the bytes,
/// reading the `Package` and `Architecture` lines) and a paragraph is parsed
/// when its name is asked for.
public struct AvailablePackages: Sendable {
    private var byName: [String: [(text: String, baseURI: String)]] = [:]
    public private(set) var count = 0

    public init() {}

    public init(_ packages: [AvailablePackage]) {
        for package in packages {
            byName[package.name, default: []].append((package.paragraph.serialized, package.baseURI))
            count += 1
        }
    }

    /// Adds every package of `other`.
    public mutating func merge(_ other: AvailablePackages) {
        byName.merge(other.byName) { $0 + $1 }
        count += other.count
    }

    /// Adds the paragraphs of a `Packages` index that are for `architecture` or `all`.
    public mutating func addIndex(_ bytes: [UInt8], baseURI: String, architecture: String) {
        PackagesIndexSplitter.forEachParagraph(bytes) { name, arch, text in
            guard arch == architecture || arch == "all" else { return }
            byName[name, default: []].append((text(), baseURI))
            count += 1
        }
    }

    /// Versions of `name` installable on `architecture` (`all` packages count
    /// for every architecture), highest first. Entries that do not parse are
    /// left out: one broken paragraph must not hide the others.
    public func candidates(_ name: String, architecture: String) -> [AvailablePackage] {
        (byName[name] ?? [])
            .compactMap { entry in
                (try? ControlFile.parse(entry.text))?.first.flatMap { try? AvailablePackage(paragraph: $0, baseURI: entry.baseURI) }
            }
            .filter { $0.architecture == architecture || $0.architecture == "all" }
            .sorted { $0.version > $1.version }
    }
}

/// Splits a `Packages` index into paragraphs without parsing them.
enum PackagesIndexSplitter {
    /// Calls `body` with each paragraph's `Package` and `Architecture` values
    /// and a closure that makes its text (only called for paragraphs kept).
    static func forEachParagraph(_ bytes: [UInt8], _ body: (String, String, () -> String) -> Void) {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let count = buffer.count
            var paragraphStart = 0
            var lineStart = 0
            var name: String?
            var architecture: String?
            func finish(_ end: Int) {
                if let name, let architecture, end > paragraphStart {
                    let start = paragraphStart
                    body(name, architecture) {
                        String(decoding: UnsafeBufferPointer(start: base + start, count: end - start), as: UTF8.self)
                    }
                }
                name = nil
                architecture = nil
            }
            while lineStart < count {
                let remaining = count - lineStart
                let newline = memchr(base + lineStart, 10, remaining).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? count
                let length = newline - lineStart
                if length == 0 {
                    finish(lineStart)
                    paragraphStart = newline + 1
                } else if let value = value(of: "Package:", base + lineStart, length) {
                    name = value
                } else if let value = value(of: "Architecture:", base + lineStart, length) {
                    architecture = value
                }
                lineStart = newline + 1
            }
            finish(count)
        }
    }

    private static func value(of field: StaticString, _ line: UnsafePointer<UInt8>, _ length: Int) -> String? {
        let size = field.utf8CodeUnitCount
        guard length > size, memcmp(line, field.utf8Start, size) == 0 else { return nil }
        let value = String(decoding: UnsafeBufferPointer(start: line + size, count: length - size), as: UTF8.self)
        return value.trimmingCharacters(in: .whitespaces)
    }
}

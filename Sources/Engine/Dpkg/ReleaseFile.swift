import Foundation

/// A repository's `Release` file, or the signed text of its `InRelease`
/// (Debian Repository Format, https://wiki.debian.org/DebianRepository/Format#A.22Release.22_files).
/// Parsing does not verify the signature: hand the original InRelease bytes
/// to gpgv for that; this reads what it describes.
public struct ReleaseFile: Sendable, Hashable {
    /// One line of the `SHA256` field: an index file below the release's directory.
    public struct FileEntry: Sendable, Hashable {
        /// The path relative to the `dists/<suite>` directory, e.g. `main/binary-amd64/Packages.xz`.
        public let path: String
        public let size: Int64
        /// 64 lower-case hex digits.
        public let sha256: String
    }

    public let origin: String?
    public let label: String?
    public let suite: String?
    public let codename: String?
    public let version: String?
    /// The `Date` field as written (RFC 2822 in UTC).
    public let date: String?
    public let validUntil: String?
    public let architectures: [String]
    public let components: [String]
    /// `Acquire-By-Hash: yes`: indexes may be fetched as `.../by-hash/SHA256/<digest>`.
    public let acquireByHash: Bool
    /// The `SHA256` entries in file order.
    public let sha256: [FileEntry]
    public let paragraph: ControlParagraph

    /// Parses a plain `Release` file or a clear-signed `InRelease` (detected
    /// by its armor line; the signed text is extracted first).
    public init(parsing text: String) throws {
        let body = text.hasPrefix(Self.signedMessageHeader) ? try Self.signedText(ofClearSigned: text) : text
        let paragraphs: [ControlParagraph]
        do {
            paragraphs = try ControlFile.parse(body)
        } catch let error as EngineError {
            throw EngineError(error.code, "the Release file is malformed: \(error.message)")
        }
        guard paragraphs.count == 1, let paragraph = paragraphs.first else {
            throw EngineError(.invalidInput, "a Release file must hold exactly one paragraph, not \(paragraphs.count)")
        }
        func words(_ name: String) -> [String] {
            (paragraph[name] ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
        }
        self.origin = paragraph["Origin"]
        self.label = paragraph["Label"]
        self.suite = paragraph["Suite"]
        self.codename = paragraph["Codename"]
        self.version = paragraph["Version"]
        self.date = paragraph["Date"]
        self.validUntil = paragraph["Valid-Until"]
        self.architectures = words("Architectures")
        self.components = words("Components")
        self.acquireByHash = paragraph["Acquire-By-Hash"]?.lowercased() == "yes"
        self.sha256 = try Self.parseChecksums(paragraph["SHA256"] ?? "")
        self.paragraph = paragraph
    }

    /// The entry for `path` (e.g. `main/binary-amd64/Packages.xz`), if listed.
    public func entry(for path: String) -> FileEntry? {
        sha256.first { $0.path == path }
    }

    /// `Date` as an instant, when it is in the RFC 2822 form the archive writes.
    public var parsedDate: Date? { date.flatMap(Self.parseDate) }
    public var parsedValidUntil: Date? { validUntil.flatMap(Self.parseDate) }

    static func parseDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEE, d MMM yyyy HH:mm:ss zzz", "EEE, dd MMM yyyy HH:mm:ss Z"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// Lines of `digest size path` after an empty first line.
    private static func parseChecksums(_ value: String) throws -> [FileEntry] {
        var entries: [FileEntry] = []
        for line in value.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 3 else {
                throw EngineError(.invalidInput, "SHA256 line '\(line.trimmingCharacters(in: .whitespaces))' is not 'digest size path'")
            }
            let digest = parts[0].lowercased()
            guard digest.count == 64, digest.allSatisfy(\.isHexDigit), let size = Int64(parts[1]), size >= 0 else {
                throw EngineError(.invalidInput, "SHA256 line for '\(parts[2])' has a bad digest or size")
            }
            entries.append(FileEntry(path: String(parts[2]), size: size, sha256: digest))
        }
        return entries
    }
}

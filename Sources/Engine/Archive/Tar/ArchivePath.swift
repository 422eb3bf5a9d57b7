/// A path inside an archive (image layer or .deb data), normalized so that
/// equal files have equal paths: no leading "./" or "/", no empty or "."
/// components, no trailing slash, ".." resolved. The root is the empty path.
///
/// Building one rejects what would escape the extraction root: a ".." that
/// climbs above it, NUL bytes, empty names. Layer producers write "./etc/x",
/// "etc/x" or "/etc/x" for the same file (OCI image-spec layer.md leaves the
/// spelling open), so every consumer compares normalized paths.
public struct ArchivePath: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Components joined by "/"; "" for the root.
    public let value: String

    public static let root = ArchivePath(trusted: "")

    private init(trusted value: String) {
        self.value = value
    }

    /// Normalizes an entry name as found in an archive. Names that denote the
    /// root itself ("./", "/", ".") give `.root`, which layers commonly contain.
    public init(normalizing raw: String) throws {
        guard !raw.isEmpty else { throw EngineError(.archive, "archive entry has an empty name; refusing to unpack it") }
        guard !raw.utf8.contains(0) else { throw ArchivePath.rejected(raw, "has a NUL byte in its name") }
        guard let components = ArchivePath.resolve(raw, from: []) else {
            throw ArchivePath.rejected(raw, "climbs above the archive root with \"..\"")
        }
        value = components.joined(separator: "/")
    }

    public var isRoot: Bool { value.isEmpty }
    public var description: String { value }

    public var components: [Substring] {
        value.split(separator: "/")
    }

    /// The last component; empty for the root.
    public var name: Substring {
        value.split(separator: "/").last ?? ""
    }

    /// The containing directory; nil for the root.
    public var parent: ArchivePath? {
        guard !isRoot else { return nil }
        guard let slash = value.lastIndex(of: "/") else { return .root }
        return ArchivePath(trusted: String(value[..<slash]))
    }

    /// True when `self` lies strictly below `ancestor`.
    public func isDescendant(of ancestor: ArchivePath) -> Bool {
        if ancestor.isRoot { return !isRoot }
        return value.count > ancestor.value.count && value.hasPrefix(ancestor.value + "/")
    }

    /// The absolute form, "/etc/passwd", as dpkg and users write paths.
    public var absolute: String { "/" + value }

    public static func < (lhs: ArchivePath, rhs: ArchivePath) -> Bool {
        lhs.value < rhs.value
    }

    // MARK: - Link targets

    /// Validates a hard link target: it names an entry of the same archive, so
    /// it must be an in-root path like any entry name (a leading "/" is
    /// stripped, as tar does). `entry` is the link's own name, for the message.
    public static func hardLinkTarget(_ target: String, of entry: String) throws -> ArchivePath {
        guard !target.isEmpty, let components = resolve(target, from: []), !components.isEmpty else {
            throw rejected(entry, "is a hard link to \"\(target)\", which is not a path inside the archive")
        }
        return ArchivePath(trusted: components.joined(separator: "/"))
    }

    /// Validates a symbolic link target. Absolute targets are allowed: they
    /// resolve inside the container's root at run time. Relative targets are
    /// resolved from the link's directory and must not climb above the root,
    /// which is what a naive extractor would follow out of its directory.
    public static func checkSymlinkTarget(_ target: String, of link: ArchivePath) throws {
        guard !target.isEmpty else { throw rejected(link.value, "is a symbolic link with an empty target") }
        guard !target.utf8.contains(0) else { throw rejected(link.value, "is a symbolic link whose target contains a NUL byte") }
        if target.hasPrefix("/") { return }
        let directory = link.parent?.components.map(String.init) ?? []
        guard resolve(target, from: directory) != nil else {
            throw rejected(link.value, "is a symbolic link to \"\(target)\", which climbs above the archive root")
        }
    }

    // MARK: - Resolution

    /// Applies the components of `path` to `base`; nil on NUL bytes or a ".."
    /// at the root. A leading "/" is treated like "./".
    static func resolve(_ path: String, from base: [String]) -> [String]? {
        guard !path.utf8.contains(0) else { return nil }
        var stack = base
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                guard stack.popLast() != nil else { return nil }
            default:
                stack.append(String(component))
            }
        }
        return stack
    }

    private static func rejected(_ entry: String, _ reason: String) -> EngineError {
        let shown = entry.replacingNULs()
        return EngineError(.archive, "archive entry \"\(shown)\" \(reason); refusing to unpack it")
    }
}

extension String {
    /// Makes NUL bytes visible in messages instead of truncating them.
    fileprivate func replacingNULs() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\u{0}" ? "\u{2400}" : $0 }))
    }
}

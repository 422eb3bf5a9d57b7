/// The final state of selected files after all of an image's layers are
/// applied, as `LayerFileCollector` computes it.
///
/// Paths are normalized `ArchivePath` values: relative to the root, no
/// leading "/" ("etc/os-release"). Lookups accept either spelling.
public struct CollectedFiles: Sendable {
    public struct Entry: Sendable, Hashable {
        /// The header from the layer that last wrote the path, with `path`
        /// normalized. For hard links `linkName` is the normalized target.
        public let header: TarHeader
        /// The bytes of a regular file, or of a hard link's target when that
        /// target was collected too; nil for every other type.
        public let content: [UInt8]?

        public init(header: TarHeader, content: [UInt8]?) {
            self.header = header
            self.content = content
        }
    }

    /// Every path the predicate selected that exists at the end, except
    /// directories only implied by deeper paths (those are in `directories`).
    public let entries: [String: Entry]
    /// Selected paths that are directories at the end, with or without an entry.
    public let directories: Set<String>
    /// MD5 (lower-case hex) of every regular file under etc/, selected or not:
    /// dpkg compares conffiles by MD5 (deb-conffiles(5)).
    public let etcMD5: [String: String]
    /// Every non-directory path (files, links, devices, fifos) at the end.
    public let existingPaths: Set<String>
    /// Every directory at the end, selected or not.
    public let allDirectories: Set<String>
    /// Every symbolic link at the end, selected or not, with its target as
    /// stored: dpkg follows directory symlinks (merged /usr) when it unpacks.
    public let symlinks: [String: String]

    public init(entries: [String: Entry], directories: Set<String>, etcMD5: [String: String], existingPaths: Set<String>,
                allDirectories: Set<String> = [], symlinks: [String: String] = [:]) {
        self.entries = entries
        self.directories = directories
        self.etcMD5 = etcMD5
        self.existingPaths = existingPaths
        self.allDirectories = allDirectories
        self.symlinks = symlinks
    }

    public func entry(at path: String) -> Entry? {
        Self.key(path).flatMap { entries[$0] }
    }

    public func content(of path: String) -> [UInt8]? {
        entry(at: path)?.content
    }

    /// The target of a symbolic link, as stored (possibly relative).
    public func symlinkTarget(of path: String) -> String? {
        guard let entry = entry(at: path), entry.header.type == .symlink else { return nil }
        return entry.header.linkName
    }

    private static func key(_ path: String) -> String? {
        (try? ArchivePath(normalizing: path))?.value
    }
}

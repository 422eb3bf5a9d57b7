/// One tar entry's metadata, independent of how the archive encoded it
/// (ustar fields, GNU long-name records or PAX extended headers).
///
/// Formats: POSIX.1-2001 pax (IEEE Std 1003.1, "pax" utility, ustar
/// Interchange Format and pax Header Block) and the GNU tar extensions
/// (GNU tar manual, "Basic Tar Format").
public struct TarHeader: Sendable, Hashable {
    public enum EntryType: Sendable, Hashable, CaseIterable {
        /// Typeflag '0' (or NUL, or '7' contiguous file).
        case regular
        /// Typeflag '1': `linkName` names an earlier entry of the archive.
        case hardlink
        /// Typeflag '2'.
        case symlink
        /// Typeflag '3', character device.
        case char
        /// Typeflag '4', block device.
        case block
        /// Typeflag '5'.
        case directory
        /// Typeflag '6'.
        case fifo

        /// Entries of these types carry no data blocks, whatever their size field says.
        public var hasContent: Bool { self == .regular }
    }

    /// The entry name as the archive spells it (not normalized; see
    /// `ArchivePath`). Names are decoded as UTF-8; invalid bytes become U+FFFD.
    public var path: String
    public var type: EntryType
    /// Permission bits including set-user-ID, set-group-ID and sticky (0o7777).
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    public var uname: String
    public var gname: String
    /// Modification time in seconds since the epoch (fractions dropped).
    public var mtime: Int64
    /// Content length in bytes; 0 for every type but `.regular`.
    public var size: Int64
    /// Target of a hard or symbolic link.
    public var linkName: String
    public var devMajor: Int
    public var devMinor: Int
    /// PAX extended-header records not mapped to a field above, such as
    /// `SCHILY.xattr.<name>` (extended attributes, as GNU tar and Go write
    /// them). Values are decoded as UTF-8.
    public var paxRecords: [String: String]

    public init(
        path: String, type: EntryType = .regular, mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0,
        uname: String = "", gname: String = "", mtime: Int64 = 0, size: Int64 = 0, linkName: String = "",
        devMajor: Int = 0, devMinor: Int = 0, paxRecords: [String: String] = [:]
    ) {
        self.path = path
        self.type = type
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.uname = uname
        self.gname = gname
        self.mtime = mtime
        self.size = size
        self.linkName = linkName
        self.devMajor = devMajor
        self.devMinor = devMinor
        self.paxRecords = paxRecords
    }
}

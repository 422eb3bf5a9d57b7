/// dpkg's record of the packages in a root file system, read as data from
/// one of the forms images carry:
/// - `var/lib/dpkg/status`: one file of paragraphs (dpkg(1), deb822(5));
/// - `var/lib/dpkg/status.d/`: distroless images, one file per package
///   (named after it) holding its paragraph, next to `<name>.md5sums` files;
/// - a `dpkg-query` listing (`Package:`/`Version:` lines with no separators),
///   which is what some scanners and Copa's own tooling record.
///
/// The value is immutable: `replacing(_:)` builds a new database, and the
/// serializers keep every untouched paragraph (and status.d file) byte-identical.
public struct DpkgDatabase: Sendable {
    /// Which form the database was read from, which decides how it is written back.
    public enum Layout: Sendable, Hashable {
        case statusFile
        case statusDirectory
        case queryListing
    }

    /// One paragraph of the database, installed or not, where it came from.
    struct Entry: Sendable {
        var paragraph: ControlParagraph
        /// The package, when its state is `installed`.
        var package: InstalledPackage?
        /// Name and architecture, for matching replacements and ordering.
        var name: String
        var architecture: String
        var multiArch: MultiArch
        /// For status.d: the file holding the paragraph.
        var file: String?
    }

    public let layout: Layout
    var entries: [Entry]
    /// For status.d: original text of each file, to write untouched files back as they were.
    var originalFiles: [String: String]
    /// Names of status.d files that held no paragraphs (md5sums, ...), kept for completeness.
    public let otherFiles: [String]
    private let byName: [String: [Int]]

    init(layout: Layout, entries: [Entry], originalFiles: [String: String] = [:], otherFiles: [String] = []) {
        self.layout = layout
        self.entries = entries
        self.originalFiles = originalFiles
        self.otherFiles = otherFiles
        var index: [String: [Int]] = [:]
        for (position, entry) in entries.enumerated() where entry.package != nil {
            index[entry.name, default: []].append(position)
        }
        self.byName = index
    }

    /// Every installed package, in database order.
    public var installed: [InstalledPackage] { entries.compactMap(\.package) }

    /// The installed packages named `name` (several only for Multi-Arch: same).
    public func packages(named name: String) -> [InstalledPackage] {
        (byName[name] ?? []).compactMap { entries[$0].package }
    }

    /// Looks up `name` or `name:arch`. A bare name finds the package when
    /// exactly one architecture of it is installed, as dpkg-query does; a
    /// qualified name also finds packages of that architecture that are not
    /// Multi-Arch: same (`dpkg-query -W bash:amd64` works).
    public func package(_ query: String) -> InstalledPackage? {
        if let colon = query.firstIndex(of: ":") {
            let name = String(query[..<colon])
            let architecture = String(query[query.index(after: colon)...])
            return packages(named: name).first { $0.architecture == architecture }
        }
        let candidates = packages(named: query)
        return candidates.count == 1 ? candidates.first : nil
    }

    /// The installed packages as a relationship universe.
    public func universe() throws -> PackageSet {
        PackageSet(try installed.map { try $0.universePackage() })
    }
}

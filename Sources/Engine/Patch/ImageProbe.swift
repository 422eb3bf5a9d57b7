/// What the patch needs to know about an image, read from its layers as data:
/// the OS, the dpkg database, apt sources and keyrings, the files the dpkg
/// database lists, and enough of the file system to write whiteouts and
/// handle conffiles. Built with `LayerFileCollector` without extracting anything.
struct ImageProbe: Sendable {
    static let statusPath = "var/lib/dpkg/status"
    static let statusDirectoryPath = "var/lib/dpkg/status.d"
    static let infoDirectory = "var/lib/dpkg/info"

    let osRelease: OSRelease
    let database: DpkgDatabase
    /// Contents of the files the probe keeps (see `keeps`).
    let files: [String: [UInt8]]
    /// MD5 of every regular file under etc/, for conffile decisions.
    let etcMD5: [String: String]
    private let nonDirectories: Set<String>
    private let directories: Set<String>
    private let symlinks: [String: String]
    /// Absolute path → info basenames of the packages whose `.list` names it.
    private let owners: [String: [String]]
    /// Headers of the kept files the effects read (mode and owner for `treeNode`).
    private let keptHeaders: [String: TarHeader]

    /// The dpkg database an earlier patch layer of ours left on top of the
    /// probed layers; nil when there is no such layer.
    let databaseWithPreviousPatch: DpkgDatabase?

    /// Probes `layers`; with `previousPatch`, also reads the database as that
    /// layer leaves it, continuing the same walk instead of reading the base
    /// layers a second time.
    init(layers: [Descriptor], previousPatch: Descriptor? = nil, cache: OCILayout) throws {
        let collector = LayerFileCollector(matching: Self.keeps)
        for layer in layers { try collector.addLayer(try cache.openBlob(layer.digest)) }
        let collected = collector.result()
        if let previousPatch {
            try collector.addLayer(try cache.openBlob(previousPatch.digest))
            databaseWithPreviousPatch = try Self.readDatabase(collector.result().entries.compactMapValues(\.content))
        } else {
            databaseWithPreviousPatch = nil
        }
        files = collected.entries.compactMapValues(\.content)
        keptHeaders = collected.entries.filter { MaintainerEffects.reads($0.key) }.mapValues(\.header)
        etcMD5 = collected.etcMD5
        nonDirectories = collected.existingPaths
        directories = collected.allDirectories
        symlinks = collected.symlinks
        osRelease = try Self.readOSRelease(files: files, symlinks: symlinks)
        database = try Self.readDatabase(files)
        var owners: [String: [String]] = [:]
        let prefix = Self.infoDirectory + "/"
        for (path, bytes) in files where path.hasPrefix(prefix) && path.hasSuffix(".list") {
            let basename = String(path.dropFirst(prefix.count).dropLast(".list".count))
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                owners[String(line), default: []].append(basename)
            }
        }
        self.owners = owners
    }

    var databaseLayout: String {
        switch database.layout {
        case .statusFile: "dpkg status file"
        case .statusDirectory: "distroless status.d"
        case .queryListing: "dpkg-query listing"
        }
    }

    /// Debian, Ubuntu and their derivatives (`ID_LIKE=debian`) are dpkg-based.
    func checkSupported() throws {
        guard osRelease.id == "debian" || osRelease.id == "ubuntu" || osRelease.isLike("debian") else {
            throw EngineError(.unsupportedOS,
                "the image is \(osRelease.prettyName) (ID=\(osRelease.id)); this project patches Debian and Ubuntu (dpkg) images only")
        }
    }

    func fileExists(_ path: String) -> Bool { nonDirectories.contains(path) }

    /// `path` with every parent directory that is a symlink in the image
    /// replaced by its target, as dpkg follows such directories when it
    /// unpacks (merged-/usr images have /lib → usr/lib). Writing `lib/x` into
    /// a layer where `lib` is a symlink would otherwise create a real `lib/`
    /// directory that hides the link and everything it points to.
    func resolvingParents(_ path: String) -> String {
        var components = path.split(separator: "/").map(String.init)
        guard components.count > 1 else { return path }
        var index = 0
        var hops = 0
        while index < components.count - 1 {
            let prefix = components[0...index].joined(separator: "/")
            if let target = symlinks[prefix], hops < 32 {
                hops += 1
                let base = target.hasPrefix("/") ? [] : Array(components[0..<index])
                guard let resolved = ArchivePath.resolve(target, from: base) else { return path }
                components = resolved + components[(index + 1)...]
                index = 0
                continue
            }
            index += 1
        }
        return components.joined(separator: "/")
    }

    func directoryExists(_ path: String) -> Bool { directories.contains(path) }

    /// Absolute paths the package's `info/<pkg>.list` names; for distroless
    /// images, which have no lists, the files its `status.d/<pkg>.md5sums`
    /// names (md5sums(5): "<md5>  <path without leading slash>"). Nil when
    /// the image records neither.
    func listedFiles(of package: InstalledPackage) -> [String]? {
        if let bytes = files["\(Self.infoDirectory)/\(package.infoFileBasename).list"] {
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        guard let bytes = files["\(Self.statusDirectoryPath)/\(package.name).md5sums"] else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let space = line.firstIndex(of: " ") else { return nil }
            let path = line[space...].drop { $0 == " " }
            return path.isEmpty ? nil : "/" + path
        }
    }

    func isOwnedByAnotherPackage(_ path: String, than package: InstalledPackage) -> Bool {
        (owners["/" + path] ?? []).contains { $0 != package.infoFileBasename }
    }

    /// Suffixes of the package's files in info/ (`list`, `md5sums`, `postinst`, ...).
    func infoMembers(of package: InstalledPackage) -> [String] {
        let prefix = "\(Self.infoDirectory)/\(package.infoFileBasename)."
        return nonDirectories.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            .filter { !$0.contains("/") }.sorted()
    }

    /// The image's node at `path` (not following a final symlink), for
    /// maintainer-script effects (`PatchedTree`): contents only of kept files.
    func treeNode(_ path: String) -> TreeNode? {
        if let target = symlinks[path] { return .symlink(target: target) }
        if directories.contains(path) { return .directory }
        guard nonDirectories.contains(path) else { return nil }
        let header = keptHeaders[path]
        if let header, header.type != .regular, header.type != .hardlink { return .other }
        return .regular(content: files[path], mode: header?.mode ?? 0o644, uid: header?.uid ?? 0, gid: header?.gid ?? 0)
    }

    /// The image's file system as effects read it, before the patch.
    var tree: PatchedTree { PatchedTree(lookup: treeNode, children: treeChildren) }

    /// Names directly inside a directory of the image.
    func treeChildren(_ directory: String) -> [String] {
        nonDirectories.compactMap { PatchedTree.childName(of: $0, in: directory) }
            + directories.compactMap { PatchedTree.childName(of: $0, in: directory) }
    }

    /// Files whose contents the probe needs.
    static func keeps(_ path: String) -> Bool {
        if path == "etc/os-release" || path == "usr/lib/os-release" { return true }
        if MaintainerEffects.reads(path) { return true }
        if path == statusPath { return true }
        if path.hasPrefix(statusDirectoryPath + "/") { return true }
        if path.hasPrefix(infoDirectory + "/") { return path.hasSuffix(".list") }
        if path == "etc/apt/sources.list" || path == "etc/apt/trusted.gpg" { return true }
        for directory in ["etc/apt/sources.list.d/", "etc/apt/trusted.gpg.d/", "usr/share/keyrings/", "etc/apt/keyrings/"]
        where path.hasPrefix(directory) {
            return true
        }
        return false
    }

    /// A file's contents, following symlinks (relative or absolute, within the root).
    static func file(_ path: String, files: [String: [UInt8]], symlinks: [String: String]) -> [UInt8]? {
        var current = path
        for _ in 0..<16 {
            if let bytes = files[current] { return bytes }
            guard let target = symlinks[current] else { return nil }
            let base = target.hasPrefix("/") ? [] : current.split(separator: "/").dropLast().map(String.init)
            guard let resolved = ArchivePath.resolve(target, from: base) else { return nil }
            current = resolved.joined(separator: "/")
        }
        return nil
    }

    private static func readOSRelease(files: [String: [UInt8]], symlinks: [String: String]) throws -> OSRelease {
        for path in ["etc/os-release", "usr/lib/os-release"] {
            if let bytes = file(path, files: files, symlinks: symlinks) {
                return try OSRelease(parsing: String(decoding: bytes, as: UTF8.self))
            }
        }
        throw EngineError(.unsupportedOS,
            "the image has no /etc/os-release or /usr/lib/os-release; this project patches Debian and Ubuntu images only")
    }

    static func readDatabase(_ files: [String: [UInt8]]) throws -> DpkgDatabase {
        if let status = files[statusPath] {
            return try DpkgDatabase(statusFile: String(decoding: status, as: UTF8.self))
        }
        let prefix = statusDirectoryPath + "/"
        let entries = files.filter { $0.key.hasPrefix(prefix) && !$0.key.dropFirst(prefix.count).contains("/") }
        guard !entries.isEmpty else {
            throw EngineError(.unsupportedOS,
                "the image has no dpkg database (/var/lib/dpkg/status or status.d/); only dpkg-based images are patched")
        }
        return try DpkgDatabase(statusDirectory: entries.keys.sorted().compactMap { path in
            entries[path].map { .init(name: String(path.dropFirst(prefix.count)), text: String(decoding: $0, as: UTF8.self)) }
        })
    }
}

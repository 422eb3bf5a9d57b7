/// Reads an image's layers in order and computes the final state of the
/// paths the patch cares about, applying OCI whiteouts (image-spec layer.md,
/// "Whiteouts": `.wh.<name>` hides `<name>` of lower layers; `.wh..wh..opq`
/// hides everything below its directory in lower layers, not in its own).
///
/// Each layer streams through decompression and the tar reader once; only
/// small metadata files are kept in memory, plus the set of paths.
struct LayerScan: Sendable {
    private(set) var files: [String: [UInt8]] = [:]
    private(set) var symlinks: [String: String] = [:]
    private(set) var etcMD5: [String: String] = [:]
    private(set) var nonDirectories: Set<String> = []
    private(set) var directories: Set<String> = []

    /// One kept file is at most this large (a dpkg status file of a big image is a few MB).
    static let fileLimit = 64 << 20

    /// Files whose contents the probe needs.
    static func keeps(_ path: String) -> Bool {
        if path == "etc/os-release" || path == "usr/lib/os-release" { return true }
        if path == ImageProbe.statusPath { return true }
        if path.hasPrefix(ImageProbe.statusDirectoryPath + "/") { return true }
        if path.hasPrefix(ImageProbe.infoDirectory + "/") { return path.hasSuffix(".list") }
        if path == "etc/apt/sources.list" || path == "etc/apt/trusted.gpg" { return true }
        for directory in ["etc/apt/sources.list.d/", "etc/apt/trusted.gpg.d/", "usr/share/keyrings/", "etc/apt/keyrings/"]
        where path.hasPrefix(directory) {
            return true
        }
        return false
    }

    static func scan(_ layers: [any ByteSource]) throws -> LayerScan {
        var state = LayerScan()
        for layer in layers {
            var upper = LayerScan()
            var hidden: [String] = []
            var opaque: [String] = []
            let reader = TarReader(try decompressingSource(layer))
            while let header = try reader.next() {
                let path = try ArchivePath(normalizing: header.path)
                guard !path.isRoot else { continue }
                let name = path.name
                let parent = path.parent?.value ?? ""
                if name == ".wh..wh..opq" {
                    opaque.append(parent)
                } else if name.hasPrefix(".wh.") {
                    let target = String(name.dropFirst(4))
                    hidden.append(parent.isEmpty ? target : parent + "/" + target)
                } else {
                    try upper.add(header, path: path.value, reader: reader)
                }
            }
            for path in hidden { state.remove(path, includingItself: true) }
            for directory in opaque { state.remove(directory, includingItself: false) }
            state.merge(upper)
        }
        return state
    }

    /// A file's contents, following symlinks (relative or absolute, within the root).
    func file(_ path: String) -> [UInt8]? {
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

    private mutating func add(_ header: TarHeader, path: String, reader: TarReader) throws {
        if header.type == .directory {
            directories.insert(path)
            return
        }
        nonDirectories.insert(path)
        if header.type == .symlink {
            symlinks[path] = header.linkName
            return
        }
        guard header.type == .regular else { return }
        let keep = Self.keeps(path)
        let hashEtc = path.hasPrefix("etc/")
        guard keep || hashEtc else { return }
        if keep {
            guard header.size <= Int64(Self.fileLimit) else {
                throw EngineError(.archive, "/\(path) in the image is \(header.size) bytes; more than the \(Self.fileLimit)-byte limit")
            }
            let bytes = try reader.contentSource().readAll(limit: Self.fileLimit)
            files[path] = bytes
            if hashEtc { etcMD5[path] = MD5.hexDigest(of: bytes) }
            return
        }
        var md5 = MD5()
        let content = reader.contentSource()
        while true {
            let chunk = try content.read(maxLength: 256 << 10)
            if chunk.isEmpty { break }
            md5.update(chunk)
        }
        etcMD5[path] = md5.hexDigest()
    }

    /// Removes `path` (when `includingItself`) and everything below it.
    private mutating func remove(_ path: String, includingItself: Bool) {
        let prefix = path.isEmpty ? "" : path + "/"
        func hides(_ candidate: String) -> Bool {
            (includingItself && candidate == path) || candidate.hasPrefix(prefix)
        }
        files = files.filter { !hides($0.key) }
        symlinks = symlinks.filter { !hides($0.key) }
        etcMD5 = etcMD5.filter { !hides($0.key) }
        nonDirectories = nonDirectories.filter { !hides($0) }
        directories = directories.filter { !hides($0) }
    }

    /// Lays an upper layer's entries over this state. A path the upper layer
    /// writes replaces whatever the lower layers had there.
    private mutating func merge(_ upper: LayerScan) {
        for path in upper.nonDirectories {
            directories.remove(path)
            files[path] = nil
            symlinks[path] = nil
            etcMD5[path] = nil
        }
        nonDirectories.formUnion(upper.nonDirectories)
        directories.formUnion(upper.directories.subtracting(upper.nonDirectories))
        files.merge(upper.files) { $1 }
        symlinks.merge(upper.symlinks) { $1 }
        etcMD5.merge(upper.etcMD5) { $1 }
    }
}

/// Reads an image's layers in order and computes the final state of the
/// files a predicate selects, with OCI whiteouts applied (image-spec
/// layer.md, "Whiteouts"):
///
/// - `.wh.<name>` deletes `<name>` (and anything below it) from lower layers;
/// - `.wh..wh..opq` makes its directory opaque: everything below it from
///   lower layers is hidden, entries of the same layer stay.
///
/// Whiteouts only ever apply to lower layers, so each layer is read in full
/// first and applied in two steps: its deletions, then its entries in order.
///
/// Besides the selected files it records the MD5 of every regular file under
/// etc/ and the set of all non-directory paths, which dpkg database edits need.
public final class LayerFileCollector {
    /// The default bound on one selected file's size held in memory.
    public static let defaultFileSizeLimit = 64 << 20
    static let whiteoutPrefix = ".wh."
    static let opaqueMarker = ".wh..wh..opq"

    private let predicate: (String) -> Bool
    private let fileSizeLimit: Int
    private let tree = LayerTree()
    private var layerCount = 0

    /// - Parameters:
    ///   - predicate: selects normalized paths ("etc/os-release", "var/lib/dpkg/status").
    ///   - fileSizeLimit: a selected regular file larger than this fails the collection.
    public init(matching predicate: @escaping (String) -> Bool, fileSizeLimit: Int = LayerFileCollector.defaultFileSizeLimit) {
        self.predicate = predicate
        self.fileSizeLimit = fileSizeLimit
    }

    /// Reads all `layers` (lowest first) and returns the result.
    public static func collect(
        layers: [ByteSource], matching predicate: @escaping (String) -> Bool,
        fileSizeLimit: Int = defaultFileSizeLimit
    ) throws -> CollectedFiles {
        let collector = LayerFileCollector(matching: predicate, fileSizeLimit: fileSizeLimit)
        for layer in layers { try collector.addLayer(layer) }
        return collector.result()
    }

    /// Applies the next layer (its tar stream, compressed or not).
    public func addLayer(_ layer: ByteSource) throws {
        layerCount += 1
        let reader = TarReader(try decompressingSource(layer))
        var changes = LayerChanges()
        while let header = try reader.next() {
            try record(header, from: reader, into: &changes)
        }
        for path in changes.whiteouts { try tree.remove(path) }
        for path in changes.opaqueDirectories {
            if let directory = try tree.node(at: path), directory.kind == .directory {
                directory.children.removeAll()
            }
        }
        for change in changes.entries { try apply(change) }
    }

    /// The state after the layers added so far.
    public func result() -> CollectedFiles {
        var entries: [String: CollectedFiles.Entry] = [:]
        var directories: Set<String> = []
        var etcMD5: [String: String] = [:]
        var existing: Set<String> = []
        var allDirectories: Set<String> = []
        var symlinks: [String: String] = [:]
        tree.walk { path, node in
            guard !path.isEmpty else { return }
            if node.kind == .directory {
                allDirectories.insert(path)
                if predicate(path) { directories.insert(path) }
            } else {
                existing.insert(path)
            }
            if case .symlink(let target) = node.kind { symlinks[path] = target }
            if var entry = node.payload.entry {
                // A layer may have written the file through a symlinked directory; report where it lives.
                if entry.header.path != path {
                    var header = entry.header
                    header.path = path
                    entry = CollectedFiles.Entry(header: header, content: entry.content)
                }
                entries[path] = entry
            }
            if let md5 = node.payload.md5 { etcMD5[path] = md5 }
        }
        return CollectedFiles(entries: entries, directories: directories, etcMD5: etcMD5, existingPaths: existing,
                              allDirectories: allDirectories, symlinks: symlinks)
    }

    // MARK: - Reading one layer

    private struct Change {
        var path: [String]
        var kind: LayerTree.Kind
        var payload: LayerTree.Payload
        /// For hard links: the target, whose payload is copied when applied.
        var hardLinkTarget: [String]?
    }

    private struct LayerChanges {
        var whiteouts: [[String]] = []
        var opaqueDirectories: [[String]] = []
        var entries: [Change] = []
    }

    private func record(_ header: TarHeader, from reader: TarReader, into changes: inout LayerChanges) throws {
        let path = try ArchivePath(normalizing: header.path)
        guard !path.isRoot else { return }
        var components = path.components.map(String.init)
        let name = components.removeLast()
        if name.hasPrefix(Self.whiteoutPrefix) {
            if name == Self.opaqueMarker {
                changes.opaqueDirectories.append(components)
            } else if !name.hasPrefix(Self.whiteoutPrefix + Self.whiteoutPrefix) {
                // Other ".wh..wh." names are aufs bookkeeping, not whiteouts.
                let hidden = String(name.dropFirst(Self.whiteoutPrefix.count))
                guard !hidden.isEmpty, hidden != ".", hidden != ".." else {
                    throw EngineError(.archive, "layer \(layerCount) has a malformed whiteout \"\(header.path)\"")
                }
                changes.whiteouts.append(components + [hidden])
            }
            return
        }
        changes.entries.append(try change(for: header, at: path, from: reader))
    }

    private func change(for header: TarHeader, at path: ArchivePath, from reader: TarReader) throws -> Change {
        let selected = predicate(path.value)
        var stored = header
        stored.path = path.value
        var change = Change(path: path.components.map(String.init), kind: .other, payload: LayerTree.Payload())
        switch header.type {
        case .directory:
            change.kind = .directory
        case .symlink:
            change.kind = .symlink(target: header.linkName)
        case .hardlink:
            let target = try ArchivePath.hardLinkTarget(header.linkName, of: header.path)
            stored.linkName = target.value
            change.hardLinkTarget = target.components.map(String.init)
        case .regular:
            let underEtc = path.value.hasPrefix("etc/")
            if selected || underEtc {
                let (content, md5) = try readContent(of: header, at: path, from: reader, keep: selected)
                if selected { change.payload.entry = CollectedFiles.Entry(header: stored, content: content) }
                if underEtc { change.payload.md5 = md5 }
            }
        case .char, .block, .fifo:
            break
        }
        if selected, change.payload.entry == nil {
            change.payload.entry = CollectedFiles.Entry(header: stored, content: nil)
        }
        return change
    }

    /// Streams a regular file's content through MD5, keeping the bytes when asked.
    private func readContent(of header: TarHeader, at path: ArchivePath, from reader: TarReader, keep: Bool) throws -> ([UInt8]?, String) {
        if keep, header.size > Int64(fileSizeLimit) {
            throw EngineError(.archive, "\"/\(path.value)\" in layer \(layerCount) is \(header.size) bytes, over the \(fileSizeLimit)-byte limit for files read into memory")
        }
        var md5 = MD5()
        var content: [UInt8] = []
        if keep { content.reserveCapacity(Int(header.size)) }
        while true {
            let chunk = try reader.readContent(maxLength: 256 << 10)
            if chunk.isEmpty { break }
            md5.update(chunk)
            if keep { content += chunk }
        }
        return (keep ? content : nil, md5.hexDigest())
    }

    // MARK: - Applying one layer

    private func apply(_ change: Change) throws {
        var payload = change.payload
        if let target = change.hardLinkTarget {
            // A hard link shares its target's data: copy what was collected of it.
            let source = try tree.node(at: target)?.payload
            if let entry = payload.entry, entry.content == nil, let content = source?.entry?.content {
                payload.entry = CollectedFiles.Entry(header: entry.header, content: content)
            }
            if change.path.first == "etc" { payload.md5 = source?.md5 }
        }
        try tree.insert(LayerTree.Node(kind: change.kind, payload: payload), at: change.path)
    }
}

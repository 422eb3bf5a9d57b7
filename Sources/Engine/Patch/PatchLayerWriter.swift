/// The patch layer as written: its descriptor, diff_id and what users should know.
struct PatchLayer: Sendable {
    let descriptor: Descriptor
    let diffID: Digest
    let warnings: [PatchWarning]
    /// Maintainer-script effects reproduced as data, for the log.
    let notes: [String]
}

/// Writes the one patch layer in a single streaming pass:
/// tar → SHA-256 (diff_id) → gzip → the cache's blob writer (digest).
///
/// For each planned package it does what dpkg's unpack and configure do to
/// the file system and database (deb(5), dpkg(1)), as data:
/// - the `.deb`'s data.tar entries (conffiles the image changed are written as
///   `<path>.dpkg-dist` instead, like dpkg with `--force-confold`);
/// - whiteouts for files the old version had and the new one has not;
/// - `info/<pkg>.list`, the control members (`md5sums`, `conffiles`, maintainer
///   scripts, `triggers`, ...) and whiteouts for old members that are gone;
/// - the package's paragraph in `status` (or `status.d/<pkg>`).
struct PatchLayerWriter {
    let probe: ImageProbe
    let plan: ResolutionPlan
    /// SHA-256 of each .deb → its downloaded file.
    let debs: [String: String]
    /// mtime of the files the writer makes itself (database, lists).
    let mtime: Int64
    let mediaType: MediaType
    let cache: OCILayout
    let scratch: String
    /// The image's dpkg architecture.
    let architecture: String

    func write() throws -> PatchLayer {
        let blob = try cache.blobWriter()
        let gzip = try GzipCompressSink(blob, level: 6)
        let uncompressed = SHA256Sink(downstream: gzip)
        let tar = TarWriter(uncompressed)
        var state = LayerState()
        state.libraries = LayerLibraries(architecture: architecture, probe: probe)
        var paragraphs: [ControlParagraph] = []
        var warnings: [PatchWarning] = []
        for install in plan.orderedInstalls {
            guard let path = debs[install.package.sha256] else {
                throw EngineError(.internal, "\(install.package.name) was planned but not downloaded")
            }
            let unpacked = try DebUnpacker(probe: probe, install: install, debPath: path, mtime: mtime)
                .unpack(into: tar, state: &state)
            paragraphs.append(unpacked.statusParagraph)
            warnings += unpacked.warnings
        }
        let effects = try MaintainerEffectWriter(probe: probe, plan: plan, mtime: mtime).write(into: tar, state: &state)
        if !effects.resolved.isEmpty { warnings.removeAll { effects.resolved.contains($0.message) } }
        warnings += effects.warnings
        try writeDatabase(paragraphs, into: tar)
        try tar.finish()
        let (diffID, _) = uncompressed.finalize()
        let (digest, size) = try blob.commit()
        return PatchLayer(descriptor: Descriptor(mediaType: mediaType, digest: digest, size: size),
                          diffID: diffID, warnings: warnings, notes: effects.notes)
    }

    /// `status` rewritten with the new paragraphs (every other paragraph
    /// byte-identical), or the changed `status.d/<pkg>` files.
    private func writeDatabase(_ paragraphs: [ControlParagraph], into tar: TarWriter) throws {
        let updated = try probe.database.replacing(paragraphs)
        switch probe.database.layout {
        case .statusFile, .queryListing:
            try tar.appendFile(ImageProbe.statusPath, bytes: Array(updated.serializedStatusFile().utf8), mtime: mtime)
        case .statusDirectory:
            let before = Dictionary(probe.database.serializedStatusDirectory().map { ($0.name, $0.text) },
                                    uniquingKeysWith: { first, _ in first })
            for file in updated.serializedStatusDirectory() where before[file.name] != file.text {
                try tar.appendFile(ImageProbe.statusDirectoryPath + "/" + file.name, bytes: Array(file.text.utf8), mtime: mtime)
            }
        }
    }

}

extension TarWriter {
    /// A root-owned regular file the writer makes itself (database, lists, whiteouts).
    func appendFile(_ path: String, bytes: [UInt8], mode: UInt32 = 0o644, mtime: Int64) throws {
        try append(TarHeader(path: path, type: .regular, mode: mode, uid: 0, gid: 0, uname: "root", gname: "root",
                             mtime: mtime, size: Int64(bytes.count)), bytes: bytes)
    }

    /// An OCI whiteout (image-spec layer.md, "Whiteouts"): `.wh.<name>` in the
    /// same directory hides `<name>` of lower layers.
    func appendWhiteout(of path: String, mtime: Int64) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) + "/" } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        try appendFile(directory + ".wh." + name, bytes: [], mtime: mtime)
    }
}

/// Paths already in the layer, so two packages shipping one directory (or a
/// file moved between them) give one entry, and whiteouts never hide a path
/// the layer itself writes.
struct LayerState {
    var written: Set<String> = []
    var whitedOut: Set<String> = []
    /// What the layer wrote where maintainer-script effects look
    /// (`MaintainerEffects.reads`): files with their bytes, links, directories.
    var nodes: [String: TreeNode] = [:]
    /// Control members the effects need, by package name (ca-certificates' `config`).
    var controlMembers: [String: [String: [UInt8]]] = [:]
    /// Triggers the installed packages activate (deb-triggers(5)).
    var activatedTriggers: Set<String> = []
    /// What the ldconfig effect reads from the layer; nil when the image's
    /// architecture is not one `ELFLibrary` models.
    var libraries: LayerLibraries?
}

/// The libraries the layer writes where ldconfig looks.
struct LayerLibraries {
    let architecture: String
    let reader: ELFLibrary.Reader
    /// Real paths of the directories ldconfig searches in the image.
    let directories: Set<String>
    /// Regular files written into those directories, as ldconfig reads them.
    var files: [String: LDConfigUpdate.LayerLibrary] = [:]

    /// Files larger than this are not held in memory to read their soname.
    static let readLimit = 64 << 20

    init?(architecture: String, probe: ImageProbe) {
        guard let reader = ELFLibrary.Reader(architecture: architecture),
              let triplet = LDConfigUpdate.triplets[architecture],
              let directories = try? LDConfigUpdate.searchedDirectories(in: probe.tree, triplet: triplet) else { return nil }
        self.architecture = architecture
        self.reader = reader
        self.directories = Set(directories.map(\.real))
    }

    /// Whether ldconfig would look at a file the layer writes at `path`.
    func wants(_ path: String) -> Bool {
        guard let slash = path.lastIndex(of: "/") else { return false }
        return directories.contains(String(path[..<slash])) && ELFLibrary.looksLikeLibrary(String(path[path.index(after: slash)...]))
    }
}

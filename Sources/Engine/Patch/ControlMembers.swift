/// The members of a .deb's control archive (deb(5), deb-control(5)).
struct ControlMembers {
    /// Member name (`control`, `md5sums`, `conffiles`, `postinst`, ...) → bytes.
    let members: [String: [UInt8]]

    /// Control members are small; anything larger is not a real package.
    static let memberLimit = 16 << 20

    static func read(_ archive: TarReader, package: String) throws -> ControlMembers {
        var members: [String: [UInt8]] = [:]
        while let header = try archive.next() {
            let path = try ArchivePath(normalizing: header.path)
            guard header.type == .regular, path.components.count == 1 else { continue }
            guard header.size <= Int64(memberLimit) else {
                throw EngineError(.archive, "the control member \(path) of \(package) is \(header.size) bytes")
            }
            members[String(path.name)] = try archive.contentSource().readAll(limit: memberLimit)
        }
        return ControlMembers(members: members)
    }

    /// The `control` paragraph, checked against what the signed index promised.
    func paragraph(expecting package: AvailablePackage) throws -> ControlParagraph {
        guard let bytes = members["control"] else {
            throw EngineError(.archive, "\(package.url) has no control file")
        }
        let paragraphs = try ControlFile.parse(String(decoding: bytes, as: UTF8.self))
        guard paragraphs.count == 1, let paragraph = paragraphs.first else {
            throw EngineError(.archive, "the control file of \(package.url) holds \(paragraphs.count) paragraphs")
        }
        guard paragraph["Package"] == package.name,
              let version = paragraph["Version"], (try? DebianVersion(version)) == package.version,
              paragraph["Architecture"] == package.architecture else {
            throw EngineError(.verification,
                "\(package.url) is not \(package.name) \(package.version) (\(package.architecture)) as the index says")
        }
        return paragraph
    }

    /// Absolute paths listed in `conffiles`. Lines flagged `remove-on-upgrade`
    /// (dpkg ≥ 1.20.6) name files to drop, not to install, and are skipped.
    var conffiles: [String] {
        guard let bytes = members["conffiles"] else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard let path = words.last, path.hasPrefix("/"), !words.contains("remove-on-upgrade") else { return nil }
            return String(path)
        }
    }

    /// Triggers the package activates (deb-triggers(5): `activate`,
    /// `activate-await`, `activate-noawait`).
    var activatedTriggers: [String] {
        guard let bytes = members["triggers"] else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count >= 2, words[0].hasPrefix("activate") else { return nil }
            return String(words[1])
        }
    }
}

/// Streams a .deb's data archive into the layer, recording what dpkg records.
struct DataEntries {
    let probe: ImageProbe
    let install: ResolutionPlan.Install
    let conffiles: [String]
    let mtime: Int64

    /// The `.list` lines: `/.` then every path in archive order (dpkg's format).
    private(set) var list: [String] = ["/."]
    /// MD5 of each conffile as the package ships it.
    private(set) var conffileMD5: [String: String] = [:]
    private(set) var shipsSharedLibraries = false

    init(probe: ImageProbe, install: ResolutionPlan.Install, conffiles: [String], mtime: Int64) {
        self.probe = probe
        self.install = install
        self.conffiles = conffiles
        self.mtime = mtime
    }

    mutating func write(from data: TarReader, into tar: TarWriter, state: inout LayerState,
                        warnings: inout [PatchWarning]) throws {
        let conffileSet = Set(conffiles)
        let oldConffiles = install.replacing.map { Self.recordedConffiles($0.paragraph) } ?? [:]
        while let header = try data.next() {
            let path = try ArchivePath(normalizing: header.path)
            guard !path.isRoot else { continue }
            list.append(path.absolute)
            var entry = header
            entry.path = probe.resolvingParents(path.value)
            switch header.type {
            case .hardlink:
                entry.linkName = probe.resolvingParents(try ArchivePath.hardLinkTarget(header.linkName, of: header.path).value)
            case .symlink:
                try ArchivePath.checkSymlinkTarget(header.linkName, of: path)
                state.nodes[entry.path] = .symlink(target: header.linkName)
            case .directory:
                if MaintainerEffects.reads(entry.path + "/") { state.nodes[entry.path] = .directory }
                // Existing directories (and directory symlinks such as a
                // merged-/usr /lib) keep the image's metadata, as dpkg leaves them.
                guard !probe.directoryExists(entry.path), !probe.fileExists(entry.path),
                      state.written.insert(entry.path).inserted else { continue }
                try tar.append(entry, content: nil)
                continue
            default:
                break
            }
            if path.value.contains("/lib/") || path.value.hasPrefix("lib/"), path.name.contains(".so") {
                shipsSharedLibraries = true
            }
            if header.type == .regular, conffileSet.contains(path.absolute) {
                try writeConffile(entry, from: data, recorded: oldConffiles[path.absolute], into: tar,
                                  state: &state, warnings: &warnings)
                continue
            }
            guard state.written.insert(entry.path).inserted else { continue }
            if header.type == .regular || header.type == .hardlink, state.libraries?.wants(entry.path) == true {
                try writeLibrary(entry, from: data, into: tar, state: &state)
                continue
            }
            if header.type == .regular, MaintainerEffects.reads(entry.path) {
                let bytes = try data.contentSource().readAll(limit: ControlMembers.memberLimit)
                state.nodes[entry.path] = .regular(content: bytes, mode: entry.mode, uid: entry.uid, gid: entry.gid)
                try tar.append(entry, bytes: bytes)
                continue
            }
            try tar.append(entry, content: header.size > 0 ? data.contentSource() : nil)
        }
    }

    /// A file where ldconfig looks: held in memory once to read its soname
    /// and ABI as ldconfig would (`ELFLibrary`).
    private func writeLibrary(_ entry: TarHeader, from data: TarReader, into tar: TarWriter, state: inout LayerState) throws {
        guard let reader = state.libraries?.reader, entry.type == .regular, entry.size <= Int64(LayerLibraries.readLimit) else {
            state.libraries?.files[entry.path] = .unread
            try tar.append(entry, content: entry.size > 0 ? data.contentSource() : nil)
            return
        }
        let bytes = try data.contentSource().readAll(limit: LayerLibraries.readLimit)
        state.libraries?.files[entry.path] = ELFLibrary.read(bytes, reader: reader).map { .library($0) } ?? .skipped
        try tar.append(entry, bytes: bytes)
    }

    /// dpkg's conffile rules on upgrade: if the image's copy differs from the
    /// hash dpkg recorded for the old version, the admin changed it; keep it
    /// and put the new one beside it as `.dpkg-dist` (what `--force-confold`
    /// does). A conffile the admin deleted stays deleted.
    private mutating func writeConffile(_ header: TarHeader, from data: TarReader, recorded: String?, into tar: TarWriter,
                                        state: inout LayerState, warnings: inout [PatchWarning]) throws {
        let bytes = try data.contentSource().readAll(limit: ControlMembers.memberLimit)
        let md5 = MD5.hexDigest(of: bytes)
        let absolute = "/" + header.path
        conffileMD5[absolute] = md5
        var entry = header
        entry.path = probe.resolvingParents(header.path)
        let current = probe.etcMD5[entry.path]
        if recorded != nil, current == nil, !probe.fileExists(entry.path) {
            warnings.append(PatchWarning(package: install.package.name, kind: "conffile-deleted",
                                         message: "\(absolute) was deleted in the image and is not recreated"))
            return
        }
        // Without a recorded hash for an upgraded package (distroless status.d
        // has no Conffiles field) the image's copy is taken as the old
        // version's, so it is replaced.
        let changedByImage = recorded.map { current != nil && current != md5 && current != $0 }
            ?? (install.replacing == nil && current != nil && current != md5)
        if changedByImage {
            entry.path += ".dpkg-dist"
            warnings.append(PatchWarning(package: install.package.name, kind: "conffile-kept",
                message: "\(absolute) was changed in the image and is kept; the package's new version is \(absolute).dpkg-dist"))
        }
        guard state.written.insert(entry.path).inserted else { return }
        try tar.append(entry, bytes: bytes)
    }

    /// The `Conffiles` field of a status paragraph: ` /path md5 [obsolete]` lines.
    static func recordedConffiles(_ paragraph: ControlParagraph) -> [String: String] {
        var result: [String: String] = [:]
        for line in (paragraph["Conffiles"] ?? "").split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count >= 2, words[0].hasPrefix("/") else { continue }
            result[String(words[0])] = String(words[1])
        }
        return result
    }
}

/// Unpacks one `.deb` into the patch layer as dpkg would install it over the
/// version the image has (deb(5); dpkg's unpack, then configure without scripts).
struct DebUnpacker {
    let probe: ImageProbe
    let install: ResolutionPlan.Install
    let debPath: String
    let mtime: Int64

    struct Unpacked {
        let statusParagraph: ControlParagraph
        let warnings: [PatchWarning]
    }

    /// Control members dpkg keeps in its info directory (everything but
    /// `control` itself, which goes into the status paragraph).
    static let scriptMembers: Set<String> = ["preinst", "postinst", "prerm", "postrm", "config"]

    func unpack(into tar: TarWriter, state: inout LayerState) throws -> Unpacked {
        let package = install.package
        let deb = try DebPackageReader(FileSource(path: debPath))
        let control = try ControlMembers.read(try deb.controlArchive(), package: package.name)
        let paragraph = try control.paragraph(expecting: package)
        let conffiles = control.conffiles
        var warnings: [PatchWarning] = []
        var data = DataEntries(probe: probe, install: install, conffiles: conffiles, mtime: mtime)
        try data.write(from: try deb.dataArchive(), into: tar, state: &state, warnings: &warnings)

        let basename = package.universe.multiArch == .same ? "\(package.name):\(package.architecture)" : package.name
        if !(try removeDroppedFiles(newList: Set(data.list), into: tar, state: &state)) {
            warnings.append(PatchWarning(package: package.name, kind: "old-files-unknown",
                message: "the image records no file list for the old version, so files it shipped and the new version does not are left in place"))
        }
        try writeInfo(control: control, list: data.list, basename: basename, into: tar, state: &state)

        if MaintainerEffects.reproduced.contains(package.name) {
            state.controlMembers[package.name] = control.members
        }
        let triggers = control.activatedTriggers
        state.activatedTriggers.formUnion(triggers)
        for effect in MaintainerEffects.effects(package: package.name, controlMembers: Set(control.members.keys),
                                                triggers: triggers, shipsSharedLibraries: data.shipsSharedLibraries) {
            warnings.append(PatchWarning(package: package.name, kind: effect.kind, message: effect.message))
        }
        return Unpacked(statusParagraph: try statusParagraph(paragraph, conffileMD5: data.conffileMD5, conffiles: conffiles),
                        warnings: warnings)
    }

    /// Files of the old version the new one no longer ships are whited out,
    /// unless another package owns them too (dpkg leaves shared files alone)
    /// or they are directories (which may hold other packages' files).
    /// Returns false when the image has no record of the old version's files.
    private func removeDroppedFiles(newList: Set<String>, into tar: TarWriter, state: inout LayerState) throws -> Bool {
        guard let old = install.replacing else { return true }
        guard let oldFiles = probe.listedFiles(of: old) else { return false }
        for oldPath in oldFiles where !newList.contains(oldPath) {
            let listed = String(oldPath.dropFirst())
            let path = probe.resolvingParents(listed)
            guard probe.fileExists(path), !state.written.contains(path),
                  !probe.isOwnedByAnotherPackage(listed, than: old) else { continue }
            guard state.whitedOut.insert(path).inserted else { continue }
            try tar.appendWhiteout(of: path, mtime: mtime)
        }
        return true
    }

    /// `info/<pkg>.list` and the control members, or for distroless images
    /// `status.d/<pkg>.md5sums`; old members the new version lacks are whited out.
    private func writeInfo(control: ControlMembers, list: [String], basename: String,
                           into tar: TarWriter, state: inout LayerState) throws {
        switch probe.database.layout {
        case .statusDirectory:
            if let md5sums = control.members["md5sums"] {
                let path = ImageProbe.statusDirectoryPath + "/\(install.package.name).md5sums"
                try tar.appendFile(path, bytes: md5sums, mtime: mtime)
                state.written.insert(path)
            }
        case .statusFile, .queryListing:
            let directory = ImageProbe.infoDirectory
            let listText = list.joined(separator: "\n") + "\n"
            try tar.appendFile("\(directory)/\(basename).list", bytes: Array(listText.utf8), mtime: mtime)
            var written: Set<String> = ["list"]
            for (member, bytes) in control.members.sorted(by: { $0.key < $1.key }) where member != "control" {
                let mode: UInt32 = Self.scriptMembers.contains(member) ? 0o755 : 0o644
                try tar.appendFile("\(directory)/\(basename).\(member)", bytes: bytes, mode: mode, mtime: mtime)
                written.insert(member)
            }
            if let old = install.replacing {
                for member in probe.infoMembers(of: old) where !written.contains(member) {
                    let path = "\(directory)/\(old.infoFileBasename).\(member)"
                    if state.whitedOut.insert(path).inserted { try tar.appendWhiteout(of: path, mtime: mtime) }
                }
            }
        }
    }

    /// The database paragraph: the .deb's control fields with `Status` (for a
    /// status file) after `Package`, and `Conffiles` with the MD5 of each
    /// conffile as the package ships it (dpkg records the distributed
    /// version's hash even when the admin's copy is kept).
    private func statusParagraph(_ control: ControlParagraph, conffileMD5: [String: String],
                                 conffiles: [String]) throws -> ControlParagraph {
        var fields: [ControlField] = []
        let withStatus = probe.database.layout != .statusDirectory
        for field in control.fields {
            if field.name.lowercased() == "description", !conffiles.isEmpty {
                fields.append(try conffilesField(conffileMD5: conffileMD5, conffiles: conffiles))
            }
            guard field.name.lowercased() != "status", field.name.lowercased() != "conffiles" else { continue }
            fields.append(field)
            if field.name.lowercased() == "package", withStatus {
                fields.append(try ControlField(name: "Status", value: "install ok installed"))
            }
        }
        if !conffiles.isEmpty, !fields.contains(where: { $0.name == "Conffiles" }) {
            fields.append(try conffilesField(conffileMD5: conffileMD5, conffiles: conffiles))
        }
        return try ControlParagraph(fields)
    }

    private func conffilesField(conffileMD5: [String: String], conffiles: [String]) throws -> ControlField {
        let lines = conffiles.map { " \($0) \(conffileMD5[$0] ?? "newconffile")" }
        return try ControlField(name: "Conffiles", value: "\n" + lines.joined(separator: "\n"))
    }
}

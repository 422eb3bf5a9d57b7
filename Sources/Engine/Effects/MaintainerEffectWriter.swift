/// Runs the maintainer-script effects the native executor reproduces as data
/// on the tree the patch layer leaves, and appends what they change to the
/// layer: new and replaced files and links, whiteouts for removed ones.
struct MaintainerEffectWriter {
    let probe: ImageProbe
    let plan: ResolutionPlan
    let mtime: Int64

    struct Written {
        var warnings: [PatchWarning] = []
        var notes: [String] = []
        /// Messages of the packages' warnings for effects reproduced here.
        var resolved: Set<String> = []
    }

    func write(into tar: TarWriter, state: inout LayerState) throws -> Written {
        var written = Written()
        var tree = makeTree(state)
        let packages = Set(plan.orderedInstalls.map(\.package.name))
        let triggered = state.activatedTriggers.intersection(MaintainerEffects.reproducedTriggers)
        if packages.contains("ca-certificates") || !triggered.isEmpty {
            let update = CACertificatesUpdate(
                packagedList: CACertificatesUpdate.packagedList(configScript: state.controlMembers["ca-certificates"]?["config"]),
                trustNew: CACertificatesUpdate.trustsNewCertificates(debconfDatabase: probe.files[MaintainerEffects.debconfDatabase]),
                runsPostinst: packages.contains("ca-certificates"),
                withoutScript: !probe.fileExists(CACertificatesUpdate.script),
                fresh: triggered.contains("update-ca-certificates-fresh"))
            if update.runsPostinst { createLocalCertificateDirectory(&tree) }
            let outcome = update.apply(to: &tree)
            let count = PEMFile.items(tree.content(CACertificatesUpdate.bundle) ?? []).count
            written.notes.append("update-ca-certificates reproduced: \(outcome.added) added, \(outcome.removed) removed; "
                + "/\(CACertificatesUpdate.bundle) holds \(count) certificates")
            written.notes += outcome.notes
            if !outcome.hooksNotRun.isEmpty {
                written.warnings.append(PatchWarning(package: "ca-certificates", kind: "trigger-not-run",
                    message: "the hooks in /\(CACertificatesUpdate.hooks) (\(outcome.hooksNotRun.joined(separator: ", "))) were not run: "
                        + "trust stores they derive from /etc/ssl/certs (such as Java's cacerts) are not regenerated"))
            }
        }
        if let libraries = state.libraries {
            updateLibraryCache(libraries, state: state, tree: &tree, written: &written)
        }
        try append(tree.changes, into: tar, state: &state, warnings: &written.warnings)
        return written
    }

    /// The ldconfig trigger's effect (`LDConfigUpdate`).
    private func updateLibraryCache(_ libraries: LayerLibraries, state: LayerState, tree: inout PatchedTree,
                                    written: inout Written) {
        let links = state.nodes.compactMap { path, node -> String? in
            if case .symlink = node, libraries.wants(path) { path } else { nil }
        }
        let libcBin = plan.orderedInstalls.first { $0.package.name == "libc-bin" }
            .flatMap { install in install.replacing.map { (from: $0.version.description, to: install.package.version.description) } }
        guard let update = LDConfigUpdate(architecture: libraries.architecture, libraries: libraries.files, links: links,
                                          libcBin: libcBin) else { return }
        let touched = !libraries.files.isEmpty || !links.isEmpty || libcBin != nil
            || state.whitedOut.contains { libraries.wants($0) }
        switch update.apply(to: &tree) {
        case .unchanged(let entries):
            written.resolved = MaintainerEffects.ldconfigMessages
            if touched {
                written.notes.append("ldconfig reproduced: /\(LDConfigUpdate.cache) unchanged (\(entries) entries; no soname added or removed)")
            }
        case .rewritten(let added, let removed, let entries):
            written.resolved = MaintainerEffects.ldconfigMessages
            written.notes.append("ldconfig reproduced: /\(LDConfigUpdate.cache) rewritten with \(entries) entries"
                + (added.isEmpty ? "" : "; added \(added.joined(separator: ", "))")
                + (removed.isEmpty ? "" : "; removed \(removed.joined(separator: ", "))"))
        case .noCache:
            guard !probe.fileExists(LDConfigUpdate.program), !probe.fileExists("usr/" + LDConfigUpdate.program) else { return }
            written.resolved = MaintainerEffects.ldconfigMessages
            if touched {
                written.notes.append("ldconfig: the image has neither /\(LDConfigUpdate.cache) nor ldconfig; the loader searches its default directories")
            }
        case .notReproduced(let reason):
            guard touched else { return }
            written.resolved = MaintainerEffects.ldconfigMessages
            written.warnings.append(PatchWarning(package: "libc-bin", kind: "trigger-not-run",
                message: "the ldconfig trigger was not reproduced (\(reason)): /\(LDConfigUpdate.cache) is left as it was"))
        }
    }

    /// The postinst creates /usr/local/share/ca-certificates when it is missing.
    private func createLocalCertificateDirectory(_ tree: inout PatchedTree) {
        guard tree.node(CACertificatesUpdate.localCertificates) == nil,
              tree.node("usr/local/share") == .directory else { return }
        tree.set(CACertificatesUpdate.localCertificates, .directory)
    }

    private func makeTree(_ state: LayerState) -> PatchedTree {
        let probe = probe
        let nodes = state.nodes
        let written = state.written
        let whitedOut = state.whitedOut
        return PatchedTree(
            lookup: { path in
                if let node = nodes[path] { return node }
                if written.contains(path) { return .regular(content: nil, mode: 0o644, uid: 0, gid: 0) }
                if whitedOut.contains(path) { return nil }
                return probe.treeNode(path)
            },
            // Whited-out names are dropped by `PatchedTree.children`, whose
            // lookup above finds nothing for them.
            children: { directory in
                probe.treeChildren(directory) + written.compactMap { PatchedTree.childName(of: $0, in: directory) }
            })
    }

    /// The effects' changes as layer entries, in path order.
    private func append(_ changes: [String: TreeNode?], into tar: TarWriter, state: inout LayerState,
                        warnings: inout [PatchWarning]) throws {
        for path in changes.keys.sorted(by: PatchedTree.byteOrder) {
            guard !state.written.contains(path) else {
                warnings.append(PatchWarning(package: "", kind: "effect-conflict",
                    message: "/\(path) is both in a package and changed by a maintainer-script effect; the package's copy is kept"))
                continue
            }
            switch changes[path]! {
            case nil:
                guard probe.treeNode(path) != nil, state.whitedOut.insert(path).inserted else { continue }
                try tar.appendWhiteout(of: path, mtime: mtime)
            case .regular(let content, let mode, let uid, let gid)?:
                let bytes = content ?? []
                try tar.append(TarHeader(path: path, type: .regular, mode: mode, uid: uid, gid: gid,
                                         uname: uid == 0 ? "root" : "", gname: gid == 0 ? "root" : "",
                                         mtime: mtime, size: Int64(bytes.count)), bytes: bytes)
            case .symlink(let target)?:
                try tar.append(TarHeader(path: path, type: .symlink, mode: 0o777, uid: 0, gid: 0, uname: "root", gname: "root",
                                         mtime: mtime, linkName: target), content: nil)
            case .directory?:
                try tar.append(TarHeader(path: path, type: .directory, mode: 0o755, uid: 0, gid: 0, uname: "root", gname: "root",
                                         mtime: mtime), content: nil)
            case .other?:
                continue
            }
            state.written.insert(path)
        }
    }
}

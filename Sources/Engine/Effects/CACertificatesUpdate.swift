import Foundation

/// What Debian's ca-certificates postinst and `update-ca-certificates` do to
/// the file system, done as data (no image code runs):
///
/// 1. postinst `configure` (with debconf's answers as a non-interactive
///    upgrade gives them): `/etc/ca-certificates.conf` keeps every line,
///    certificates the package no longer ships become `!`-deselected, new ones
///    are appended (selected when `ca-certificates/trust_new_crts` is `yes`,
///    its default); a changed file leaves the old one as `.dpkg-old`.
/// 2. `update-ca-certificates`: `!` lines drop their `<name>.pem` links, the
///    selected certificates and those under /usr/local/share/ca-certificates
///    get `<name>.pem` links in /etc/ssl/certs and make up
///    `ca-certificates.crt` (each with a final newline); when a link changed,
///    dangling links are removed and `openssl rehash` links every
///    certificate and CRL by subject hash (`<hash>.<n>`, see `Rehash`).
///
/// Images without the script (distroless) are given what
/// `update-ca-certificates --default` would give: every certificate the
/// package ships in the bundle; their configuration file is not created, and
/// links are kept up to date only where the image has them.
struct CACertificatesUpdate {
    static let configuration = "etc/ca-certificates.conf"
    static let certificates = "usr/share/ca-certificates"
    static let localCertificates = "usr/local/share/ca-certificates"
    static let directory = "etc/ssl/certs"
    static let bundle = "etc/ssl/certs/ca-certificates.crt"
    static let hooks = "etc/ca-certificates/update.d"
    static let script = "usr/sbin/update-ca-certificates"

    struct Outcome {
        var added = 0
        var removed = 0
        /// Hooks in /etc/ca-certificates/update.d the trigger would have run.
        var hooksNotRun: [String] = []
        var notes: [String] = []
    }

    /// `CERTS_LIST` of the new package's debconf config script.
    var packagedList: [String]
    /// debconf's `ca-certificates/trust_new_crts`.
    var trustNew: Bool
    /// The package's postinst runs (ca-certificates itself is installed or
    /// upgraded), rather than only the trigger.
    var runsPostinst: Bool
    /// The image had no update-ca-certificates (distroless).
    var withoutScript: Bool
    /// Replace every link first (the `update-ca-certificates-fresh` trigger).
    var fresh = false

    func apply(to tree: inout PatchedTree) -> Outcome {
        var outcome = Outcome()
        let hadConfiguration = tree.isRegularFile(Self.configuration)
        let makesLinks = !withoutScript || tree.children(Self.directory).contains {
            if case .symlink? = tree.node(Self.directory + "/" + $0) { true } else { false }
        }
        if runsPostinst, !(withoutScript && !hadConfiguration) {
            updateConfiguration(&tree, outcome: &outcome)
        }
        let configuration = tree.content(Self.configuration) ?? []
        var run = Run(tree: tree, makesLinks: makesLinks)
        if configuration.isEmpty || fresh { run.clearLinks() }
        if withoutScript, !hadConfiguration {
            for entry in Self.find(Self.certificates, in: tree) { run.add(certificate: "/" + entry.path, real: entry.real) }
        }
        let lines = Self.readLines(configuration, trimming: true)
        for name in lines where name.hasPrefix("!") {
            run.remove(certificate: "/\(Self.certificates)/\(name.dropFirst())")
        }
        for name in lines where !name.isEmpty && !name.hasPrefix("#") && !name.hasPrefix("!") {
            let path = "/\(Self.certificates)/\(name)"
            guard tree.isRegularFile(String(path.dropFirst())) else {
                outcome.notes.append("\(path) not found, but listed in /\(Self.configuration)")
                continue
            }
            run.add(certificate: path, real: tree.resolve(String(path.dropFirst())) ?? String(path.dropFirst()))
        }
        for entry in Self.find(Self.localCertificates, in: tree) { run.add(certificate: "/" + entry.path, real: entry.real) }
        if run.added > 0 || run.removed > 0, makesLinks {
            run.removeDanglingLinks()
            Rehash(directory: Self.directory).apply(to: &run.tree)
        }
        if let bundle = run.bundle {
            let written = TreeNode.regular(content: bundle, mode: 0o644, uid: 0, gid: 0)
            if run.tree.node(Self.bundle) != written { run.tree.set(Self.bundle, written) }
        }
        tree = run.tree
        outcome.added = run.added
        outcome.removed = run.removed
        outcome.hooksNotRun = tree.children(Self.hooks)
        return outcome
    }

    /// The links and bundle `update-ca-certificates` writes.
    private struct Run {
        var tree: PatchedTree
        let makesLinks: Bool
        var added = 0
        var removed = 0
        var bundle: [UInt8]?

        /// `--fresh`: links into the certificate directories go, then links
        /// that are not to regular files.
        mutating func clearLinks() {
            guard makesLinks else { return }
            let links = tree.walk(CACertificatesUpdate.directory, followLinks: false)
            for entry in links {
                guard case .symlink(let target)? = tree.node(entry.path) else { continue }
                if target.hasPrefix("/" + CACertificatesUpdate.certificates) || target.hasPrefix("/" + CACertificatesUpdate.localCertificates) {
                    tree.set(entry.path, nil)
                }
            }
            for entry in tree.walk(CACertificatesUpdate.directory, followLinks: false) {
                guard case .symlink? = tree.node(entry.path), !tree.isRegularFile(entry.path) else { continue }
                tree.set(entry.path, nil)
            }
        }

        /// `add CERT`: the `.pem` link (spaces and commas as `_`, parentheses
        /// as `=`) unless it already points there, and the bundle's part.
        mutating func add(certificate path: String, real: String) {
            if makesLinks {
                let name = CACertificatesUpdate.basename(path, removing: ".crt")
                    .replacingOccurrences(of: " ", with: "_")
                    .replacingOccurrences(of: "(", with: "=").replacingOccurrences(of: ")", with: "=")
                    .replacingOccurrences(of: ",", with: "_")
                let pem = "\(CACertificatesUpdate.directory)/\(name).pem"
                if !tree.exists(pem) || tree.node(pem) != .symlink(target: path) {
                    tree.set(pem, .symlink(target: path))
                    added += 1
                }
            }
            var part = tree.content(real) ?? []
            if let last = part.last, last != 0x0A { part.append(0x0A) }
            bundle = (bundle ?? []) + part
        }

        /// `remove CERT`: drops `<name>.pem` when it is a link.
        mutating func remove(certificate path: String) {
            guard makesLinks else { return }
            let pem = "\(CACertificatesUpdate.directory)/\(CACertificatesUpdate.basename(path, removing: ".crt")).pem"
            guard case .symlink? = tree.node(pem) else { return }
            tree.set(pem, nil)
            removed += 1
        }

        /// Links under /etc/ssl/certs that lead nowhere (before rehashing).
        mutating func removeDanglingLinks() {
            for entry in tree.walk(CACertificatesUpdate.directory, followLinks: false) {
                guard case .symlink? = tree.node(entry.path), !tree.exists(entry.path) else { continue }
                tree.set(entry.path, nil)
            }
        }
    }

    /// The postinst's rewrite of /etc/ca-certificates.conf.
    private func updateConfiguration(_ tree: inout PatchedTree, outcome: inout Outcome) {
        var available = Set(packagedList)
        for entry in tree.walk(Self.certificates, followLinks: false) where entry.path.hasSuffix(".crt") {
            if case .regular? = tree.node(entry.path) {
                available.insert(String(entry.path.dropFirst(Self.certificates.count + 1)))
            }
        }
        let sortedAvailable = available.sorted(by: PatchedTree.byteOrder)
        let existing = tree.isRegularFile(Self.configuration) ? tree.content(Self.configuration) : nil
        // The config script: what is deselected stays so, what is selected
        // stays selected, and new certificates follow trust_new_crts.
        let text = existing.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let disabled = Set(lines.filter { $0.hasPrefix("!") }.map { String($0.dropFirst()) })
        let trusted = Set(lines.filter { !$0.hasPrefix("#") && !$0.hasPrefix("!") })
        let enabled = sortedAvailable.filter { !disabled.contains($0) && (trusted.contains($0) || trustNew) }
        let enabledSet = Set(enabled)

        var output: [String] = []
        if let existing {
            for line in Self.readLines(existing, trimming: true) {
                if line.hasPrefix("#") { output.append(line); continue }
                let name = line.hasPrefix("!") ? String(line.dropFirst()) : line
                if enabledSet.contains(name) {
                    output.append(name)
                } else if available.contains(name) || line.hasPrefix("!") {
                    output.append("!" + name)
                } else if tree.isRegularFile("\(Self.certificates)/\(name)") || tree.isRegularFile("\(Self.localCertificates)/\(name)") {
                    output.append(name)
                } else {
                    output.append("!" + name)
                }
            }
            for name in enabled where !output.contains(where: { $0.hasPrefix(name) }) { output.append(name) }
            for name in sortedAvailable where !enabledSet.contains(name) && !output.contains(where: { $0.hasPrefix("!" + name) }) {
                output.append("!" + name)
            }
            let bytes = Array(output.map { $0 + "\n" }.joined().utf8)
            guard bytes != existing else { return }
            if case .regular(_, let mode, let uid, let gid)? = tree.node(Self.configuration) {
                tree.set(Self.configuration + ".dpkg-old", .regular(content: existing, mode: mode, uid: uid, gid: gid))
            }
            tree.set(Self.configuration, .regular(content: bytes, mode: 0o644, uid: 0, gid: 0))
            outcome.notes.append("/\(Self.configuration) updated (the previous one is /\(Self.configuration).dpkg-old)")
        } else {
            let selected = (enabled + sortedAvailable).sorted(by: PatchedTree.byteOrder)
            var counts: [(String, Int)] = []
            for name in selected {
                if let last = counts.last, last.0 == name { counts[counts.count - 1].1 += 1 } else { counts.append((name, 1)) }
            }
            let body = counts.map { $0.1 >= 2 ? $0.0 : "!" + $0.0 }.map { $0 + "\n" }.joined()
            tree.set(Self.configuration, .regular(content: Array((Self.newConfigurationHeader + body).utf8), mode: 0o644, uid: 0, gid: 0))
        }
    }

    /// Lines as a shell `while read` loop sees them: a last line without a
    /// newline is not read, and with `trimming`, surrounding blanks go.
    static func readLines(_ bytes: [UInt8], trimming: Bool) -> [String] {
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()
        guard trimming else { return lines }
        return lines.map { $0.trimmingCharacters(in: [" ", "\t"]) }
    }

    /// `find -L DIR -type f -name '*.crt' | sort`.
    static func find(_ directory: String, in tree: PatchedTree) -> [(path: String, real: String)] {
        tree.walk(directory, followLinks: true)
            .filter { entry in
                guard entry.path.hasSuffix(".crt"), case .regular? = tree.node(entry.real) else { return false }
                return true
            }
            .sorted { PatchedTree.byteOrder($0.path, $1.path) }
    }

    /// `basename PATH SUFFIX`.
    static func basename(_ path: String, removing suffix: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard name.hasSuffix(suffix), name != suffix else { return name }
        return String(name.dropLast(suffix.count))
    }

    /// The header the postinst writes to a new /etc/ca-certificates.conf.
    static let newConfigurationHeader = """
        # This file lists certificates that you wish to use or to ignore to be
        # installed in /etc/ssl/certs.
        # update-ca-certificates(8) will update /etc/ssl/certs by reading this file.
        #
        # This is autogenerated by dpkg-reconfigure ca-certificates.
        # Certificates should be installed under /usr/share/ca-certificates
        # and files with extension '.crt' is recognized as available certs.
        #
        # line begins with # is comment.
        # line begins with ! is certificate filename to be deselected.
        #

        """

    /// `CERTS_LIST="a, b, ..."` from the package's debconf config script.
    static func packagedList(configScript: [UInt8]?) -> [String] {
        guard let configScript else { return [] }
        for line in String(decoding: configScript, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CERTS_LIST=\"") {
            return line.dropFirst("CERTS_LIST=\"".count).prefix { $0 != "\"" }
                .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return []
    }

    /// debconf's stored answer (var/cache/debconf/config.dat); `yes` when unset.
    static func trustsNewCertificates(debconfDatabase: [UInt8]?) -> Bool {
        guard let debconfDatabase else { return true }
        var inQuestion = false
        for line in String(decoding: debconfDatabase, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { inQuestion = false; continue }
            if line == "Name: ca-certificates/trust_new_crts" { inQuestion = true }
            if inQuestion, line.hasPrefix("Value:") {
                let value = line.dropFirst("Value:".count).trimmingCharacters(in: .whitespaces)
                return value.isEmpty || value == "yes"
            }
        }
        return true
    }
}

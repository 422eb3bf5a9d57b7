@testable import Engine
import Foundation
import Testing

/// `CACertificatesUpdate` against the real `update-ca-certificates` (and the
/// real `openssl rehash` it calls): the same starting tree, one copy updated
/// by the script, one by the data model, every entry of /etc/ssl/certs
/// compared. The script runs on the host with its directory options pointing
/// into the copy, so its links carry the copy's prefix, which is stripped
/// before comparing.
@Suite struct CACertificatesUpdateTests {
    static let script = "/usr/sbin/update-ca-certificates"
    static var available: Bool {
        X509HashTests.available && FileManager.default.isExecutableFile(atPath: script)
            && FileManager.default.fileExists(atPath: "/etc/ssl/certs/ca-certificates.crt")
    }

    @Test(.enabled(if: available, "needs the host's ca-certificates, update-ca-certificates and openssl"))
    func linksAndBundleMatchTheRealScript() throws {
        let (real, model) = try makeRoots()
        try runScript(root: real, extra: [])
        let outcome = try runModel(root: model, withoutScript: false)
        #expect(outcome.added > 0 && outcome.removed > 0, "the scenario adds and removes links: \(outcome)")
        let compared = try compareCertificateDirectories(real: real, model: model)
        print("CACertificatesUpdateTests: \(compared.entries) entries of /etc/ssl/certs identical (\(compared.hashLinks) hash links, bundle \(compared.bundleBytes) bytes)")
    }

    /// Distroless images: no script, no configuration; the bundle is what
    /// `update-ca-certificates --default` writes.
    @Test(.enabled(if: available, "needs the host's ca-certificates, update-ca-certificates and openssl"))
    func bundleWithoutTheScriptIsTheDefaultSelection() throws {
        let (real, model) = try makeRoots()
        for root in [real, model] {
            try FileManager.default.removeItem(atPath: root + "/etc/ca-certificates.conf")
            for name in try FileManager.default.contentsOfDirectory(atPath: root + "/etc/ssl/certs") where name != "ca-certificates.crt" {
                try FileManager.default.removeItem(atPath: root + "/etc/ssl/certs/" + name)
            }
        }
        try runScript(root: real, extra: ["--default"])
        let outcome = try runModel(root: model, withoutScript: true)
        #expect(outcome.added == 0, "no links are made where the image had none")
        let realBundle = try Data(contentsOf: URL(fileURLWithPath: real + "/etc/ssl/certs/ca-certificates.crt"))
        let modelBundle = try Data(contentsOf: URL(fileURLWithPath: model + "/etc/ssl/certs/ca-certificates.crt"))
        #expect(realBundle == modelBundle)
        #expect(try FileManager.default.contentsOfDirectory(atPath: model + "/etc/ssl/certs") == ["ca-certificates.crt"])
        print("CACertificatesUpdateTests: distroless bundle of \(PEMFile.items(Array(modelBundle)).count) certificates identical")
    }

    /// Two copies of one starting tree: the host's certificates and links with
    /// a configuration that drops a few (their links must go), deselects one,
    /// names one that does not exist, a dangling link and hash link, and a
    /// local CA whose name has spaces, parentheses and a comma.
    private func makeRoots() throws -> (real: String, model: String) {
        let base = try DpkgTestSupport.temporaryDirectory("ca-certificates")
        let fm = FileManager.default
        let conf = try String(contentsOfFile: "/etc/ca-certificates.conf", encoding: .utf8)
        var lines = conf.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let selected = lines.indices.filter { !lines[$0].hasPrefix("#") && !lines[$0].hasPrefix("!") && !lines[$0].isEmpty }
        try #require(selected.count > 20)
        lines[selected[3]] = "!" + lines[selected[3]]
        lines.remove(at: selected[10])
        lines.insert("mozilla/No_Such_Root.crt", at: selected[12])
        let local = base + "/local.crt"
        _ = try DpkgTestSupport.output("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                             "-keyout", base + "/local.key", "-out", local, "-days", "3650",
                                             "-subj", "/O=Example,  Inc./CN=  Test   CA (Local)"])
        var roots: [String] = []
        for name in ["real", "model"] {
            let root = base + "/" + name
            try fm.createDirectory(atPath: root + "/etc/ssl", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: root + "/usr/share", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: root + "/usr/local/share/ca-certificates/site", withIntermediateDirectories: true)
            try fm.copyItem(atPath: "/usr/share/ca-certificates", toPath: root + "/usr/share/ca-certificates")
            try fm.copyItem(atPath: "/etc/ssl/certs", toPath: root + "/etc/ssl/certs")
            try fm.copyItem(atPath: local, toPath: root + "/usr/local/share/ca-certificates/site/Example, Inc (Local).crt")
            try lines.joined(separator: "\n").write(toFile: root + "/etc/ca-certificates.conf", atomically: false, encoding: .utf8)
            let prefix = name == "real" ? root : ""
            let certs = root + "/etc/ssl/certs"
            for entry in try fm.contentsOfDirectory(atPath: certs) {
                guard let target = try? fm.destinationOfSymbolicLink(atPath: certs + "/" + entry), target.hasPrefix("/") else { continue }
                try fm.removeItem(atPath: certs + "/" + entry)
                try fm.createSymbolicLink(atPath: certs + "/" + entry, withDestinationPath: prefix + target)
            }
            try fm.createSymbolicLink(atPath: certs + "/Removed_Root.pem", withDestinationPath: prefix + "/usr/share/ca-certificates/mozilla/Removed_Root.crt")
            try fm.createSymbolicLink(atPath: certs + "/0badc0de.0", withDestinationPath: "Removed_Root.pem")
            roots.append(root)
        }
        return (roots[0], roots[1])
    }

    private func runScript(root: String, extra: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.script)
        process.arguments = ["--certsconf", root + "/etc/ca-certificates.conf", "--certsdir", root + "/usr/share/ca-certificates",
                             "--localcertsdir", root + "/usr/local/share/ca-certificates", "--etccertsdir", root + "/etc/ssl/certs",
                             "--hooksdir", ""] + extra
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "update-ca-certificates exited \(process.terminationStatus)")
    }

    private func runModel(root: String, withoutScript: Bool) throws -> CACertificatesUpdate.Outcome {
        var tree = DiskTree.tree(root)
        let outcome = CACertificatesUpdate(packagedList: [], trustNew: true, runsPostinst: false, withoutScript: withoutScript)
            .apply(to: &tree)
        try DiskTree.write(tree.changes, into: root)
        return outcome
    }

    private func compareCertificateDirectories(real: String, model: String) throws -> (entries: Int, hashLinks: Int, bundleBytes: Int) {
        let fm = FileManager.default
        let realNames = try fm.contentsOfDirectory(atPath: real + "/etc/ssl/certs").sorted()
        let modelNames = try fm.contentsOfDirectory(atPath: model + "/etc/ssl/certs").sorted()
        #expect(realNames == modelNames, "only real: \(Set(realNames).subtracting(modelNames).sorted()); only model: \(Set(modelNames).subtracting(realNames).sorted())")
        var hashLinks = 0
        for name in Set(realNames).intersection(modelNames) {
            let realPath = real + "/etc/ssl/certs/" + name
            let modelPath = model + "/etc/ssl/certs/" + name
            let realLink = try? fm.destinationOfSymbolicLink(atPath: realPath)
            let modelLink = try? fm.destinationOfSymbolicLink(atPath: modelPath)
            if let realLink {
                let normalized = realLink.hasPrefix(real) ? String(realLink.dropFirst(real.count)) : realLink
                #expect(normalized == modelLink, "\(name)")
                if Rehash.parseLinkName(name) != nil { hashLinks += 1 }
            } else {
                #expect(modelLink == nil, "\(name)")
                #expect(fm.contents(atPath: realPath) == fm.contents(atPath: modelPath), "\(name)")
                let realMode = try fm.attributesOfItem(atPath: realPath)[.posixPermissions] as? Int
                let modelMode = try fm.attributesOfItem(atPath: modelPath)[.posixPermissions] as? Int
                #expect(realMode == modelMode, "\(name)")
            }
        }
        let bundle = fm.contents(atPath: model + "/etc/ssl/certs/ca-certificates.crt")?.count ?? 0
        return (realNames.count, hashLinks, bundle)
    }
}

/// A `PatchedTree` over a directory on disk, and writing its changes back.
enum DiskTree {
    static func tree(_ root: String) -> PatchedTree {
        PatchedTree(
            lookup: { path in
                let full = root + "/" + path
                var info = stat()
                guard lstat(full, &info) == 0 else { return nil }
                switch info.st_mode & S_IFMT {
                case S_IFLNK:
                    return (try? FileManager.default.destinationOfSymbolicLink(atPath: full)).map { .symlink(target: $0) }
                case S_IFDIR:
                    return .directory
                case S_IFREG:
                    return .regular(content: FileManager.default.contents(atPath: full).map { Array($0) },
                                    mode: UInt32(info.st_mode & 0o7777), uid: Int(info.st_uid), gid: Int(info.st_gid))
                default:
                    return .other
                }
            },
            children: { directory in (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)) ?? [] })
    }

    static func write(_ changes: [String: TreeNode?], into root: String) throws {
        let fm = FileManager.default
        for (path, node) in changes {
            let full = root + "/" + path
            if (try? fm.attributesOfItem(atPath: full)) != nil || (try? fm.destinationOfSymbolicLink(atPath: full)) != nil {
                try fm.removeItem(atPath: full)
            }
            switch node {
            case nil, .other?:
                break
            case .symlink(let target)?:
                try fm.createSymbolicLink(atPath: full, withDestinationPath: target)
            case .directory?:
                try fm.createDirectory(atPath: full, withIntermediateDirectories: true)
            case .regular(let content, let mode, _, _)?:
                try Data(content ?? []).write(to: URL(fileURLWithPath: full))
                chmod(full, mode_t(mode))
            }
        }
    }
}

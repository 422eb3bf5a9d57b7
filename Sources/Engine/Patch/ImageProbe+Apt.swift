import Foundation

extension ImageProbe {
    /// The apt sources to use: a job's `--apt-source` lines, else the image's
    /// own (`sources.list`, `sources.list.d/*.list` and deb822 `*.sources`),
    /// else — distroless images have none — the archive of the image's release.
    /// A mirror replaces each source's URI.
    func aptSources(options: PatchOptions, defaults: NativeExecutor.Defaults) throws -> [AptSource] {
        var sources: [AptSource] = []
        if !options.aptSources.isEmpty {
            for line in options.aptSources { sources += try AptSource.parseOneLine(line) }
        } else {
            sources = try imageSources()
            if sources.isEmpty { sources = try defaultSources() }
        }
        guard let mirror = options.aptMirror ?? defaults.aptMirror else { return sources }
        return try sources.map {
            try AptSource(uri: mirror, suite: $0.suite, components: $0.components, architectures: $0.architectures,
                          signedBy: $0.signedBy, trusted: $0.trusted, options: $0.options)
        }
    }

    private func imageSources() throws -> [AptSource] {
        var sources: [AptSource] = []
        for path in files.keys.sorted() {
            let text = { String(decoding: files[path] ?? [], as: UTF8.self) }
            do {
                if path == "etc/apt/sources.list"
                    || (path.hasPrefix("etc/apt/sources.list.d/") && path.hasSuffix(".list")) {
                    sources += try AptSource.parseOneLine(text())
                } else if path.hasPrefix("etc/apt/sources.list.d/") && path.hasSuffix(".sources") {
                    sources += try AptSource.parseDeb822(text())
                }
            } catch let error as EngineError {
                throw EngineError(error.code, "/\(path) in the image: \(error.message)")
            }
        }
        return sources
    }

    /// The official archive for the image's release (Debian or Ubuntu).
    private func defaultSources() throws -> [AptSource] {
        let codenames = ["10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie"]
        let id = osRelease.id == "ubuntu" || osRelease.isLike("ubuntu") ? "ubuntu" : "debian"
        guard let codename = osRelease.versionCodename ?? osRelease.versionID.flatMap({ codenames[$0] }) else {
            throw EngineError(.invalidInput,
                "the image has no apt sources and its os-release names no release; pass --apt-source")
        }
        if id == "ubuntu" {
            let uri = "http://archive.ubuntu.com/ubuntu"
            return try ["", "-updates", "-security"].map {
                try AptSource(uri: uri, suite: codename + $0, components: ["main", "universe"])
            }
        }
        return [
            try AptSource(uri: "http://deb.debian.org/debian", suite: codename, components: ["main"]),
            try AptSource(uri: "http://deb.debian.org/debian", suite: codename + "-updates", components: ["main"]),
            try AptSource(uri: "http://deb.debian.org/debian-security", suite: codename + "-security", components: ["main"]),
        ]
    }

    /// The image's keyrings as binary files in `scratch` (armored `.asc`
    /// files are dearmored, as apt does), plus the agent's. Keys from
    /// `trusted.gpg`/`trusted.gpg.d` are trusted for every source; keyrings
    /// elsewhere only for sources whose `Signed-By` names them. An image with
    /// no trusted keys (distroless) falls back to the host's archive keyrings.
    func keyrings(scratch: String, extra: [String]) throws -> KeyringSet {
        let directory = scratch + "/keyrings"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var set = KeyringSet()
        let candidates = files.keys.sorted().filter {
            $0 == "etc/apt/trusted.gpg" || $0.hasPrefix("etc/apt/trusted.gpg.d/")
                || $0.hasPrefix("usr/share/keyrings/") || $0.hasPrefix("etc/apt/keyrings/")
        }
        for (index, path) in candidates.enumerated() {
            guard let bytes = files[path], !bytes.isEmpty else { continue }
            let binary: [UInt8]
            if path.hasSuffix(".asc") {
                guard let decoded = try? ArmoredKey.dearmor(String(decoding: bytes, as: UTF8.self)) else { continue }
                binary = decoded
            } else if path.hasSuffix(".gpg") || path == "etc/apt/trusted.gpg" {
                binary = bytes
            } else {
                continue
            }
            let copy = "\(directory)/\(index).gpg"
            try Data(binary).write(to: URL(fileURLWithPath: copy))
            set.byImagePath["/" + path] = copy
            if path.hasPrefix("etc/apt/trusted.gpg") { set.trusted.append(copy) }
        }
        set.trusted += extra
        if set.trusted.isEmpty {
            set.trusted = ["/usr/share/keyrings/debian-archive-keyring.gpg", "/usr/share/keyrings/ubuntu-archive-keyring.gpg"]
                .filter { FileManager.default.fileExists(atPath: $0) }
        }
        return set
    }
}

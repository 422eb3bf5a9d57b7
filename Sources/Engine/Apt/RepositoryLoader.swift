import Foundation

/// Keyrings usable for signature checks, as binary files on the agent.
struct KeyringSet: Sendable {
    /// Every keyring: the image's trusted ones plus the agent's.
    var trusted: [String] = []
    /// Image path (e.g. /usr/share/keyrings/x.gpg) → agent copy, for `Signed-By`.
    var byImagePath: [String: String] = [:]
}

/// Loads the package indexes of apt sources the way apt does, with the same
/// checks (apt-secure(8)): the Release file must be signed by a trusted key
/// and not expired; each index must match the signed SHA-256 and size.
struct RepositoryLoader {
    let fetcher: HTTPFetcher
    let scratch: String
    let reporter: any PatchReporter
    let cache: PackagesIndexCache

    func load(sources: [AptSource], keyrings: KeyringSet, architecture: String) async throws -> AvailablePackages {
        guard !sources.isEmpty else {
            throw EngineError(.invalidInput, "the image has no apt sources; give the agent --apt-mirror or the job --apt-source")
        }
        // Sources are independent: fetch, verify and decompress them at once,
        // then merge in the order the image lists them, so the result does not
        // depend on which finished first.
        let parts = try await withThrowingTaskGroup(of: (Int, AvailablePackages).self) { group in
            for (index, source) in sources.enumerated() {
                group.addTask {
                    (index, try await self.load(source, keyrings: keyrings, architecture: architecture, number: index))
                }
            }
            var parts: [(Int, AvailablePackages)] = []
            for try await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }
        }
        var available = AvailablePackages()
        for (_, part) in parts { available.merge(part) }
        await reporter.log(.info, "\(available.count) package versions available from \(sources.count) source(s)")
        return available
    }

    private func load(_ source: AptSource, keyrings: KeyringSet, architecture: String, number: Int) async throws -> AvailablePackages {
        try Task.checkCancellation()
        let release = try await verifiedRelease(source, keyrings: keyrings, number: number)
        var available = AvailablePackages()
        for component in source.isFlat ? [""] : source.components {
            available.merge(try await packages(source, release: release, component: component, architecture: architecture))
        }
        await reporter.log(.debug, "\(source.distributionURI): \(release.codename ?? release.suite ?? source.suite) verified")
        return available
    }

    private func verifiedRelease(_ source: AptSource, keyrings: KeyringSet, number: Int) async throws -> ReleaseFile {
        let base = source.distributionURI
        let verifier = SignatureVerifier(keyrings: try keyringsFor(source, keyrings), scratch: scratch)
        let text: String
        if let inRelease = try await fetcher.fetch(base + "/InRelease", limit: 64 << 20) {
            let path = scratch + "/InRelease.\(number)"
            try Data(inRelease).write(to: URL(fileURLWithPath: path))
            try verifier.verify(signedFiles: [path], what: "\(base)/InRelease")
            text = String(decoding: inRelease, as: UTF8.self)
        } else if let release = try await fetcher.fetch(base + "/Release", limit: 64 << 20) {
            guard let signature = try await fetcher.fetch(base + "/Release.gpg", limit: 1 << 20) else {
                throw EngineError(.verification, "\(base) is not signed (no InRelease, no Release.gpg); unsigned repositories are not used")
            }
            let releasePath = scratch + "/Release.\(number)"
            let signaturePath = releasePath + ".gpg"
            try Data(release).write(to: URL(fileURLWithPath: releasePath))
            try Data(signature).write(to: URL(fileURLWithPath: signaturePath))
            try verifier.verify(signedFiles: [signaturePath, releasePath], what: "\(base)/Release")
            text = String(decoding: release, as: UTF8.self)
        } else {
            throw EngineError(.packageNotFound, "\(base) has no InRelease or Release file; is \(source.suite) a suite of \(source.uri)?")
        }
        let release = try ReleaseFile(parsing: text)
        if let validUntil = release.parsedValidUntil, validUntil < Date() {
            throw EngineError(.verification, "\(base)/InRelease expired at \(release.validUntil ?? "?") (Valid-Until); the mirror is stale")
        }
        return release
    }

    private func keyringsFor(_ source: AptSource, _ keyrings: KeyringSet) throws -> [String] {
        switch source.signedBy {
        case .keys(let keys):
            let files = keys.filter { $0.hasPrefix("/") }
            guard !files.isEmpty else { return keyrings.trusted }
            return files.compactMap { keyrings.byImagePath[$0] ?? (FileManager.default.fileExists(atPath: $0) ? $0 : nil) }
        case .armoredKey(let text):
            let path = scratch + "/signed-by-\(Digest.sha256(Array(text.utf8)).encoded.prefix(16)).gpg"
            try Data(try ArmoredKey.dearmor(text)).write(to: URL(fileURLWithPath: path))
            return [path]
        case nil:
            return keyrings.trusted
        }
    }

    /// One Packages index in the best compression the Release lists, checked
    /// against the signed hash. An index whose signed hash was seen before is
    /// taken from the agent's cache: the hash names its content exactly.
    private func packages(_ source: AptSource, release: ReleaseFile, component: String,
                          architecture: String) async throws -> AvailablePackages {
        let path = source.packagesIndexPath(component: component, architecture: architecture)
        guard let entry = [path + ".xz", path + ".gz", path].lazy.compactMap({ release.entry(for: $0) }).first else {
            throw EngineError(.packageNotFound,
                "\(source.distributionURI) has no \(path) for \(architecture) in its signed Release file")
        }
        let key = "\(entry.sha256) \(source.uri) \(architecture)"
        if let cached = await cache.packages(for: key) {
            await reporter.log(.debug, "\(source.distributionURI)/\(entry.path): from the agent's index cache")
            return cached
        }
        var packages = AvailablePackages()
        packages.addIndex(try await download(entry, of: source), baseURI: source.uri, architecture: architecture)
        await cache.store(packages, for: key)
        return packages
    }

    private func download(_ entry: ReleaseFile.FileEntry, of source: AptSource) async throws -> [UInt8] {
        let url = source.distributionURI + "/" + entry.path
        guard let bytes = try await fetcher.fetch(url, limit: Int(entry.size)) else {
            throw EngineError(.packageNotFound, "\(url) is listed in the Release file but missing")
        }
        let digest = Digest.sha256(bytes)
        guard digest.encoded == entry.sha256, Int64(bytes.count) == entry.size else {
            throw EngineError(.verification, "\(url) does not match the SHA-256 in the signed Release file")
        }
        return try decompressingSource(MemorySource(bytes)).readAll(limit: 1 << 30)
    }
}

/// Parsed Packages indexes by the SHA-256 their signed Release file gives, so
/// an agent patching many images of one release reads each index once. Holds
/// a few indexes (an archive's main index is tens of MB); the oldest goes first.
public actor PackagesIndexCache {
    private var entries: [String: AvailablePackages] = [:]
    private var order: [String] = []
    private let capacity: Int

    public init(capacity: Int = 8) {
        self.capacity = capacity
    }

    func packages(for key: String) -> AvailablePackages? {
        entries[key]
    }

    func store(_ packages: AvailablePackages, for key: String) {
        if entries.updateValue(packages, forKey: key) == nil { order.append(key) }
        while order.count > capacity {
            entries[order.removeFirst()] = nil
        }
    }
}

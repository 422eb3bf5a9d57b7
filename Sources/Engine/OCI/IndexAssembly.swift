import Foundation

/// What a reference holds, for a client planning one job per platform: an
/// image index's entries in order, or a single image and its platform.
public struct ImageSummary: Sendable {
    public struct Entry: Sendable {
        public var descriptor: Descriptor
        public var platform: Platform?
        /// An attestation manifest (BuildKit's `unknown/unknown` entries, or
        /// `vnd.docker.reference.type: attestation-manifest`): kept, never patched.
        public var isAttestation: Bool
    }

    public var descriptor: Descriptor
    public var isIndex: Bool
    public var entries: [Entry]
    /// A single image's platform, from its configuration.
    public var platform: Platform?
    public var annotations: [String: String]
    /// Filled by a tag listing instead of the rest.
    public var tags: [String] = []

    public init(descriptor: Descriptor, isIndex: Bool, entries: [Entry], platform: Platform?, annotations: [String: String],
                tags: [String] = []) {
        self.descriptor = descriptor
        self.isIndex = isIndex
        self.entries = entries
        self.platform = platform
        self.annotations = annotations
        self.tags = tags
    }

    /// The entries a job may patch: image manifests with a platform.
    public var patchable: [Entry] {
        entries.filter { !$0.isAttestation && $0.platform != nil && $0.descriptor.mediaType.isImageManifest }
    }

    static func isAttestation(_ entry: Descriptor) -> Bool {
        if entry.annotations?["vnd.docker.reference.type"] == "attestation-manifest" { return true }
        guard let platform = entry.platform else { return false }
        return platform.os == "unknown" && platform.architecture == "unknown"
    }
}

/// One platform of an index replaced by its patched manifest.
public struct PatchedManifest: Sendable, Hashable {
    /// The source index's entry (matched by digest).
    public var source: Descriptor
    /// The patched manifest, already stored at the target.
    public var patched: Descriptor

    public init(source: Descriptor, patched: Descriptor) {
        self.source = source
        self.patched = patched
    }
}

/// Reads what a reference holds, and writes an index whose patched
/// platforms replace their originals while everything else it lists stays
/// byte for byte: other platforms, attestation manifests, Windows entries,
/// fields this code does not know.
public struct IndexAssembler: Sendable {
    /// The annotation Copa adds to a patched index: when it was patched.
    public static let patchedAnnotation = "sh.copa.patched"
    static let maxNesting = 4

    let registry: RegistryClient
    let scratch: String

    public init(registry: RegistryClient, scratch: String) {
        self.registry = registry
        self.scratch = scratch
    }

    /// The tags of the repository (or layout) `reference` names.
    public func listTags(_ reference: ImageReference) async throws -> [String] {
        switch reference {
        case .registry(let registryReference):
            return try await registry.listTags(registryReference.repositoryLocation)
        case .layout(let path, _):
            return try OCILayout.open(at: path).readIndex().manifests.compactMap(\.refName)
        }
    }

    public func inspect(_ reference: ImageReference) async throws -> ImageSummary {
        let source = try makeImageSource(reference, client: registry)
        var (descriptor, bytes) = try await source.top()
        descriptor.mediaType = try ManifestResolver.manifestType(declared: descriptor.mediaType, bytes: bytes)
        guard descriptor.mediaType.isIndex else {
            let manifest = try ImageManifest(bytes: bytes)
            guard manifest.config.size <= ManifestResolver.maxConfigSize else {
                throw EngineError(.invalidInput, "\(reference) has a \(manifest.config.size)-byte image configuration; the limit is \(ManifestResolver.maxConfigSize)")
            }
            let sink = MemorySink()
            try await source.fetchBlob(manifest.config, to: sink)
            let config = try ImageConfiguration(bytes: sink.bytes)
            return ImageSummary(descriptor: descriptor, isIndex: false, entries: [], platform: config.platform,
                                annotations: manifest.annotations ?? [:])
        }
        let index = try ImageIndex(bytes: bytes)
        return ImageSummary(
            descriptor: descriptor, isIndex: true,
            entries: index.manifests.map {
                ImageSummary.Entry(descriptor: $0, platform: $0.platform, isAttestation: ImageSummary.isAttestation($0))
            },
            platform: nil, annotations: index.annotations ?? [:])
    }

    /// Writes `reference`'s index with `replacements` under `target`'s tag.
    /// Every replacement must name an image entry of the index, and its
    /// patched manifest must already be at the target. Entries kept as they
    /// are, when the target is another repository or layout, are copied
    /// there first (manifests, nested indexes, blobs); nothing is tagged
    /// until all of it is present.
    public func assemble(_ reference: ImageReference, target: ImageReference, replacements: [PatchedManifest],
                         sourceDateEpoch: Int64?, platformTags: Bool = false,
                         reporter: any PatchReporter) async throws -> Descriptor {
        let source = try makeImageSource(reference, client: registry)
        var (top, bytes) = try await source.top()
        top.mediaType = try ManifestResolver.manifestType(declared: top.mediaType, bytes: bytes)
        guard top.mediaType.isIndex else {
            throw EngineError(.invalidInput, "\(reference) is a single image, not an index: there is nothing to assemble")
        }
        let index = try ImageIndex(bytes: bytes)
        var document = try JSONValue(parsing: bytes)
        guard var entries = document["manifests"]?.arrayValue, entries.count == index.manifests.count else {
            throw EngineError(.invalidInput, "\(reference): the index's manifests cannot be read")
        }
        var byDigest: [Digest: PatchedManifest] = [:]
        for replacement in replacements {
            guard index.manifests.contains(where: { $0.digest == replacement.source.digest && $0.mediaType.isImageManifest }) else {
                let listed = index.platforms.map(\.description).joined(separator: ", ")
                throw EngineError(.invalidInput,
                    "\(reference) lists no image \(replacement.source.digest) (it has: \(listed)); was it retagged meanwhile?")
            }
            byDigest[replacement.source.digest] = replacement
        }

        let destination = try makeImageDestination(target, client: registry)
        let targetSource = try makeImageSource(target, client: registry)
        await reporter.step("assemble-index", .started, detail: "")
        // The patched manifests: present at the target, and what they say they are.
        var created: [String] = []
        var patchedBytes: [Digest: [UInt8]] = [:]
        for replacement in byDigest.values {
            let stored = try await targetSource.fetchManifest(replacement.patched)
            patchedBytes[replacement.source.digest] = stored
            let manifest = try ImageManifest(bytes: stored)
            guard manifest.config.size <= ManifestResolver.maxConfigSize else {
                throw EngineError(.invalidInput, "the patched manifest \(replacement.patched.digest) names a \(manifest.config.size)-byte configuration")
            }
            let configSink = MemorySink()
            try await targetSource.fetchBlob(manifest.config, to: configSink)
            if let time = try ImageConfiguration(bytes: configSink.bytes).created { created.append(time) }
        }
        // The kept entries: where the target is another place, copied there.
        let samePlace = source.location == destination.location
        for (position, entry) in index.manifests.enumerated() {
            if let replacement = byDigest[entry.digest] {
                entries[position].set("mediaType", .string(replacement.patched.mediaType.rawValue))
                entries[position].set("digest", .string(replacement.patched.digest.description))
                entries[position].set("size", JSONValue(replacement.patched.size))
                entries[position].set("data", nil)
            } else if !samePlace {
                try await copyManifest(entry, from: source, to: destination, depth: 0)
            }
        }
        document.set("manifests", .array(entries))
        if top.mediaType == .ociIndex {
            var annotations = document["annotations"]?.members ?? []
            let time = sourceDateEpoch.map { ImageExporter.rfc3339(Date(timeIntervalSince1970: TimeInterval($0))) }
                ?? created.max() ?? ImageExporter.rfc3339(Date(timeIntervalSince1970: 0))
            annotations.removeAll { $0.key == Self.patchedAnnotation }
            annotations.append(JSONMember(key: Self.patchedAnnotation, value: .string(time)))
            document.set("annotations", .object(annotations))
        }
        let assembled = document.canonicalBytes()
        _ = try ImageIndex(bytes: assembled)
        if platformTags, let tag = target.tagName {
            for entry in index.manifests {
                guard let replacement = byDigest[entry.digest], let bytes = patchedBytes[entry.digest],
                      let platform = entry.platform else { continue }
                let suffix = [platform.architecture, platform.variant].compactMap { $0 }.joined(separator: "-")
                let platformTag = try RegistryReference.validatedTag("\(tag)-\(suffix)")
                _ = try await destination.putManifest(bytes, mediaType: replacement.patched.mediaType, tag: platformTag)
                await reporter.log(.info, "tagged \(platform) as \(platformTag)")
            }
        }
        let written = try await destination.putManifest(assembled, mediaType: top.mediaType, tag: target.tagName)
        await reporter.step("assemble-index", .completed, detail: "")
        return written
    }

    /// Copies a manifest (or nested index) and what it names to `destination`, untagged.
    private func copyManifest(_ entry: Descriptor, from source: any ImageSource, to destination: any ImageDestination,
                              depth: Int) async throws {
        guard depth < Self.maxNesting else {
            throw EngineError(.invalidInput, "the index nests indexes deeper than \(Self.maxNesting) levels")
        }
        let bytes = try await source.fetchManifest(entry)
        let mediaType = try ManifestResolver.manifestType(declared: entry.mediaType, bytes: bytes)
        if mediaType.isIndex {
            for child in try ImageIndex(bytes: bytes).manifests {
                try await copyManifest(child, from: source, to: destination, depth: depth + 1)
            }
        } else {
            let manifest = try ImageManifest(bytes: bytes)
            try await copyMissingBlobs(from: source, to: destination, descriptors: [manifest.config] + manifest.layers,
                                       scratchDirectory: scratch)
        }
        _ = try await destination.putListedManifest(bytes, mediaType: mediaType)
    }
}

/// Image work that patches nothing (an Inspect, an index assembly), done
/// with an executor's registry credentials and HTTP client.
public protocol ImageOperations: Sendable {
    func withAssembler<T: Sendable>(options: PatchOptions, _ body: (IndexAssembler) async throws -> T) async throws -> T
}

/// One image as a source resolved it for a platform: everything the patcher
/// needs before it touches a layer.
public struct SourceImage: Sendable {
    /// The image manifest's descriptor (digest of `manifestBytes`).
    public let descriptor: Descriptor
    public let manifest: ImageManifest
    /// The manifest exactly as stored; its digest is the image's identity.
    public let manifestBytes: [UInt8]
    public let configBytes: [UInt8]
    public let config: ImageConfiguration
    /// OCI or Docker schema 2: the patched image keeps its source's family.
    public let family: MediaTypeFamily
    /// The index (or manifest list) the manifest was chosen from, if any.
    public let index: Descriptor?

    public var layers: [Descriptor] { manifest.layers }
}

/// Walks from a top-level manifest through any image indexes to the image
/// manifest for a platform, the same way for every source (image-spec
/// image-index.md: an index entry MAY itself be an index).
struct ManifestResolver {
    /// Fetches a manifest or index by descriptor; returns its verified bytes.
    let fetchManifest: (Descriptor) async throws -> [UInt8]
    /// Fetches a config blob by descriptor; returns its verified bytes.
    let fetchConfig: (Descriptor) async throws -> [UInt8]
    /// Names the source in error messages.
    let sourceName: String

    static let maxIndexDepth = 4
    static let maxConfigSize: Int64 = 32 << 20

    func resolve(top: Descriptor, bytes: [UInt8], platform: Platform) async throws -> SourceImage {
        var descriptor = top
        var bytes = bytes
        var parentIndex: Descriptor?
        for _ in 0...Self.maxIndexDepth {
            let mediaType = try Self.manifestType(declared: descriptor.mediaType, bytes: bytes)
            descriptor.mediaType = mediaType
            guard mediaType.isIndex else {
                return try await image(descriptor: descriptor, bytes: bytes, index: parentIndex, platform: platform)
            }
            let index = try ImageIndex(bytes: bytes)
            guard let entry = index.manifest(for: platform) else {
                let available = index.platforms.map(\.description).joined(separator: ", ")
                throw EngineError(.imageNotFound,
                    "\(sourceName) has no image for \(platform) (it has: \(available.isEmpty ? "none" : available)); pass a listed platform")
            }
            parentIndex = descriptor
            descriptor = entry
            bytes = try await fetchManifest(entry)
        }
        throw EngineError(.invalidInput, "\(sourceName) nests image indexes deeper than \(Self.maxIndexDepth) levels")
    }

    /// The image manifest and its configuration. A single-platform image
    /// (no index above it) whose configuration names another platform than
    /// the job's is refused here, before any layer is read: patching it would
    /// install another architecture's packages.
    private func image(descriptor: Descriptor, bytes: [UInt8], index: Descriptor?, platform: Platform) async throws -> SourceImage {
        let manifest = try ImageManifest(bytes: bytes)
        guard let family = MediaTypeFamily(manifestType: descriptor.mediaType) else {
            throw EngineError(.invalidInput, "\(sourceName) has a manifest of unsupported type \(descriptor.mediaType)")
        }
        guard manifest.config.size <= Self.maxConfigSize else {
            throw EngineError(.invalidInput, "\(sourceName) has a \(manifest.config.size)-byte image configuration; the limit is \(Self.maxConfigSize)")
        }
        let configBytes = try await fetchConfig(manifest.config)
        let config = try ImageConfiguration(bytes: configBytes)
        if index == nil, let own = config.platform, !platform.matches(own) {
            throw EngineError(.invalidInput, """
                \(sourceName) is a single-platform image for \(own), and the job is for \(platform): \
                give --platform \(own) (or a report for \(own)), or patch an index that lists \(platform)
                """)
        }
        return SourceImage(descriptor: descriptor, manifest: manifest, manifestBytes: bytes,
                           configBytes: configBytes, config: config, family: family, index: index)
    }

    /// The manifest's real type: the declared one (Content-Type or descriptor)
    /// when it is a manifest type, else the document's own `mediaType`, else
    /// its shape (image-spec 1.1 only RECOMMENDS `mediaType` in the document).
    static func manifestType(declared: MediaType?, bytes: [UInt8]) throws -> MediaType {
        if let declared, MediaType.manifestTypes.contains(declared) { return declared }
        let document = try JSONValue(parsing: bytes)
        if let field = document["mediaType"]?.stringValue, MediaType.manifestTypes.contains(MediaType(field)) {
            return MediaType(field)
        }
        if document["manifests"] != nil { return .ociIndex }
        if document["config"] != nil { return .ociManifest }
        throw EngineError(.invalidInput, "a manifest is neither an image manifest nor an image index (media type \(declared?.rawValue ?? "unknown"))")
    }
}

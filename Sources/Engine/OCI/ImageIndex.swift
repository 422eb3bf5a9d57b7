/// An image index (or Docker manifest list):
/// https://github.com/opencontainers/image-spec/blob/main/image-index.md
public struct ImageIndex: Sendable, Hashable, Codable {
    /// MUST be 2 (image-index.md "schemaVersion").
    public var schemaVersion: Int
    public var mediaType: MediaType?
    public var artifactType: MediaType?
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(schemaVersion: Int = 2, mediaType: MediaType? = .ociIndex, artifactType: MediaType? = nil,
                manifests: [Descriptor], subject: Descriptor? = nil, annotations: [String: String]? = nil) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.manifests = manifests
        self.subject = subject
        self.annotations = annotations
    }

    public init(bytes: [UInt8]) throws {
        self = try OCIJSON.decode(ImageIndex.self, from: bytes, what: "image index")
        guard schemaVersion == 2 else {
            throw EngineError(.invalidInput, "image index has schemaVersion \(schemaVersion); only 2 is supported")
        }
    }

    public func canonicalBytes() throws -> [UInt8] {
        try OCIJSON.encode(self)
    }

    /// The first entry for `platform`. Entries without a platform are skipped,
    /// and so are attestation entries (`unknown/unknown`) that builders add.
    public func manifest(for platform: Platform) -> Descriptor? {
        manifests.first { entry in
            guard let candidate = entry.platform, entry.mediaType.isImageManifest || entry.mediaType.isIndex else { return false }
            return platform.matches(candidate)
        }
    }

    /// Platforms listed, for error messages.
    public var platforms: [Platform] { manifests.compactMap(\.platform) }
}

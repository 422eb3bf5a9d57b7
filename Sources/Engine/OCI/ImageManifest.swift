/// An image manifest: https://github.com/opencontainers/image-spec/blob/main/manifest.md
/// (also the shape of a Docker Image Manifest V2, Schema 2).
public struct ImageManifest: Sendable, Hashable, Codable {
    /// MUST be 2 (manifest.md "schemaVersion").
    public var schemaVersion: Int
    public var mediaType: MediaType?
    public var artifactType: MediaType?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(schemaVersion: Int = 2, mediaType: MediaType? = .ociManifest, artifactType: MediaType? = nil,
                config: Descriptor, layers: [Descriptor], subject: Descriptor? = nil,
                annotations: [String: String]? = nil) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.config = config
        self.layers = layers
        self.subject = subject
        self.annotations = annotations
    }

    /// Parses manifest bytes, rejecting anything but schema version 2.
    public init(bytes: [UInt8]) throws {
        self = try OCIJSON.decode(ImageManifest.self, from: bytes, what: "image manifest")
        guard schemaVersion == 2 else {
            throw EngineError(.invalidInput, "image manifest has schemaVersion \(schemaVersion); only 2 is supported")
        }
    }

    /// Deterministic bytes (sorted keys), so equal manifests have equal digests.
    public func canonicalBytes() throws -> [UInt8] {
        try OCIJSON.encode(self)
    }
}

/// A content descriptor: https://github.com/opencontainers/image-spec/blob/main/descriptor.md
/// Optional fields are omitted from JSON when nil, as the spec's "OPTIONAL" properties.
public struct Descriptor: Sendable, Hashable, Codable {
    public var mediaType: MediaType
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    /// Base64 of the embedded content (descriptor.md "data").
    public var data: String?
    /// Only on index entries (image-index.md "platform").
    public var platform: Platform?
    public var artifactType: MediaType?

    public init(mediaType: MediaType, digest: Digest, size: Int64, urls: [String]? = nil,
                annotations: [String: String]? = nil, data: String? = nil,
                platform: Platform? = nil, artifactType: MediaType? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.data = data
        self.platform = platform
        self.artifactType = artifactType
    }

    /// The descriptor of `bytes` under `mediaType`.
    public init(of bytes: [UInt8], mediaType: MediaType) {
        self.init(mediaType: mediaType, digest: .sha256(bytes), size: Int64(bytes.count))
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try c.decode(MediaType.self, forKey: .mediaType)
        digest = try c.decode(Digest.self, forKey: .digest)
        size = try c.decode(Int64.self, forKey: .size)
        // descriptor.md "size": a negative size cannot describe any content.
        guard size >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .size, in: c, debugDescription: "negative blob size")
        }
        urls = try c.decodeIfPresent([String].self, forKey: .urls)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations)
        data = try c.decodeIfPresent(String.self, forKey: .data)
        platform = try c.decodeIfPresent(Platform.self, forKey: .platform)
        artifactType = try c.decodeIfPresent(MediaType.self, forKey: .artifactType)
    }

    /// The `org.opencontainers.image.ref.name` annotation (annotations.md), the tag of an index entry.
    public var refName: String? {
        get { annotations?[AnnotationKey.refName] }
        set {
            var updated = annotations ?? [:]
            updated[AnnotationKey.refName] = newValue
            annotations = updated.isEmpty ? nil : updated
        }
    }
}

/// Pre-defined annotation keys: image-spec annotations.md.
public enum AnnotationKey {
    public static let refName = "org.opencontainers.image.ref.name"
    public static let created = "org.opencontainers.image.created"
    public static let baseDigest = "org.opencontainers.image.base.digest"
    public static let baseName = "org.opencontainers.image.base.name"
}

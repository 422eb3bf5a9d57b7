/// A media type string (RFC 6838), e.g. `application/vnd.oci.image.manifest.v1+json`.
///
/// Constants cover OCI (image-spec media-types.md) and Docker Image Manifest V2,
/// Schema 2, which registries still serve for most images; the two families
/// are compatible field for field (media-types.md "Compatibility Matrix").
public struct MediaType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    // MARK: OCI (image-spec media-types.md)
    public static let ociManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer: MediaType = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd: MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
    /// Deprecated by image-spec 1.1 but still found in Windows images.
    public static let ociForeignLayer: MediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let ociForeignLayerGzip: MediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let ociForeignLayerZstd: MediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    public static let ociEmpty: MediaType = "application/vnd.oci.empty.v1+json"

    // MARK: Docker Image Manifest V2, Schema 2
    public static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    /// Docker's uncompressed layer type, rarely seen but defined by the schema.
    public static let dockerLayer: MediaType = "application/vnd.docker.image.rootfs.diff.tar"
    public static let dockerLayerZstd: MediaType = "application/vnd.docker.image.rootfs.diff.tar.zstd"
    public static let dockerForeignLayerGzip: MediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// Everything a registry may answer for a manifest GET (distribution-spec
    /// "Pulling manifests": the client SHOULD list the types it accepts).
    public static let manifestTypes: [MediaType] = [ociManifest, ociIndex, dockerManifest, dockerManifestList]

    public var isImageManifest: Bool { self == .ociManifest || self == .dockerManifest }
    public var isIndex: Bool { self == .ociIndex || self == .dockerManifestList }

    public var isForeignLayer: Bool {
        [.ociForeignLayer, .ociForeignLayerGzip, .ociForeignLayerZstd, .dockerForeignLayerGzip].contains(self)
    }

    public var isLayer: Bool {
        [.ociLayer, .ociLayerGzip, .ociLayerZstd, .dockerLayer, .dockerLayerGzip, .dockerLayerZstd].contains(self) || isForeignLayer
    }

    /// How a layer blob is compressed, from its media type.
    public var layerCompression: LayerCompression? {
        guard isLayer else { return nil }
        if rawValue.hasSuffix("gzip") { return .gzip }
        if rawValue.hasSuffix("zstd") { return .zstd }
        return LayerCompression.none
    }
}

public enum LayerCompression: Sendable, Hashable {
    case none, gzip, zstd
}

/// The two manifest families. A patched image keeps its source's family, so a
/// Docker schema 2 image stays one and an OCI image stays OCI.
public enum MediaTypeFamily: Sendable, Hashable {
    case oci, docker

    public init?(manifestType: MediaType) {
        switch manifestType {
        case .ociManifest, .ociIndex: self = .oci
        case .dockerManifest, .dockerManifestList: self = .docker
        default: return nil
        }
    }

    public var manifest: MediaType { self == .oci ? .ociManifest : .dockerManifest }
    public var index: MediaType { self == .oci ? .ociIndex : .dockerManifestList }
    public var config: MediaType { self == .oci ? .ociConfig : .dockerConfig }

    public func layer(_ compression: LayerCompression) -> MediaType {
        switch (self, compression) {
        case (.oci, .none): return .ociLayer
        case (.oci, .gzip): return .ociLayerGzip
        case (.oci, .zstd): return .ociLayerZstd
        case (.docker, .none): return .dockerLayer
        case (.docker, .gzip): return .dockerLayerGzip
        case (.docker, .zstd): return .dockerLayerZstd
        }
    }
}

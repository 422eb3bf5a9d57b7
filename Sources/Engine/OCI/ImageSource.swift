/// Where images are read from: a registry repository or an OCI image layout.
/// Every backend yields the same `SourceImage`, so the patcher never knows
/// which one it reads.
public protocol ImageSource: Sendable {
    /// Resolves the source's reference to one image manifest for `platform`
    /// (through an image index when there is one) and reads its configuration.
    func resolve(platform: Platform) async throws -> SourceImage

    /// Streams a blob into `sink`. The bytes are verified against the
    /// descriptor's digest and size as they pass; `sink.finish()` is called
    /// only after they verified, so a bad blob never looks complete.
    func fetchBlob(_ descriptor: Descriptor, to sink: any ByteSink) async throws

    /// Where the source's blobs live, for a destination that can mount them
    /// instead of copying; nil when they cannot be mounted.
    var blobOrigin: BlobOrigin? { get }

    /// The manifest or index the reference names, as stored (verified
    /// against the reference's digest when it has one).
    func top() async throws -> (descriptor: Descriptor, bytes: [UInt8])

    /// A manifest or index of the source by descriptor, verified against it.
    func fetchManifest(_ descriptor: Descriptor) async throws -> [UInt8]

    /// Where the source is, to tell whether a destination is the same place.
    var location: String { get }
}

extension ImageSource {
    public var blobOrigin: BlobOrigin? { nil }
}

/// A registry repository blobs can be mounted from (distribution-spec
/// "Mounting a blob from another repository").
public struct BlobOrigin: Sendable, Hashable {
    public let registry: String
    public let repository: String
    public init(registry: String, repository: String) {
        self.registry = registry
        self.repository = repository
    }
}

/// Where images are written: a registry repository or an OCI image layout.
public protocol ImageDestination: Sendable {
    /// Whether the destination already holds the blob.
    func hasBlob(_ descriptor: Descriptor) async throws -> Bool

    /// Uploads a blob from a local file, which must hold exactly the
    /// descriptor's content (it is verified on the way).
    func putBlob(_ descriptor: Descriptor, from path: String) async throws

    /// Uploads a small blob (a config) from memory.
    func putBlob(_ descriptor: Descriptor, bytes: [UInt8]) async throws

    /// Makes a blob from `origin` appear in the destination without copying
    /// it. Returns false when that is not possible here; the caller then copies.
    func mountBlob(_ descriptor: Descriptor, from origin: BlobOrigin) async throws -> Bool

    /// Stores a manifest (or index) under `tag`, or untagged when nil, and
    /// returns its descriptor. Every blob it names must already be present.
    func putManifest(_ bytes: [UInt8], mediaType: MediaType, tag: String?) async throws -> Descriptor

    /// Stores a manifest that an index will list, tagging nothing. A
    /// registry needs it put by digest; a layout needs only the blob (the
    /// index that lists it is what `index.json` will name).
    func putListedManifest(_ bytes: [UInt8], mediaType: MediaType) async throws -> Descriptor

    /// Where the destination is: equal to an `ImageSource.location` when
    /// both are the same repository or layout.
    var location: String { get }
}

extension ImageDestination {
    public func mountBlob(_ descriptor: Descriptor, from origin: BlobOrigin) async throws -> Bool { false }
    public func putListedManifest(_ bytes: [UInt8], mediaType: MediaType) async throws -> Descriptor {
        try await putManifest(bytes, mediaType: mediaType, tag: nil)
    }
}

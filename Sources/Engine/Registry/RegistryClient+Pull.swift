import AsyncHTTPClient
import NIOCore
import NIOHTTP1

extension RegistryClient {
    /// distribution-spec "Pushing manifests": registries SHOULD accept manifests
    /// up to 4 MiB, so a larger one is not a manifest worth reading.
    static let maxManifestSize = 4 << 20

    /// GET /v2/<name>/manifests/<reference> (distribution-spec "Pulling
    /// manifests"), accepting OCI and Docker manifests and indexes. When the
    /// reference is a digest (or `expected` is given) the bytes are verified
    /// against it; the returned descriptor carries the manifest's media type.
    public func fetchManifest(_ repository: RegistryRepository, reference: String,
                              expected: Descriptor? = nil) async throws -> (descriptor: Descriptor, bytes: [UInt8]) {
        var request = RegistryRequest(
            method: .GET, url: "\(baseURL(for: repository.registry))/v2/\(repository.name)/manifests/\(reference)",
            registry: repository.registry, scopes: [repository.pullScope],
            operation: "manifest \(repository.name):\(reference)")
        request.headers.add(name: "Accept", value: MediaType.manifestTypes.map(\.rawValue).joined(separator: ", "))
        let response = try await send(request, timeout: configuration.requestTimeout)
        guard response.status == .ok else {
            throw await Self.failure(response, request, notFoundMeansMissing: true)
        }
        let bytes = try await Self.collect(response, limit: Self.maxManifestSize)
        TransferCounters.shared.add(bytes.count, .fetched, .registry)
        let digest = Digest.sha256(bytes)
        let wanted = expected?.digest ?? (try? Digest(reference))
        if let wanted, wanted != digest {
            throw EngineError(.verification, "registry \(repository.registry) sent manifest \(digest) for \(repository.name)@\(wanted)")
        }
        let contentType = response.headers.first(name: "Content-Type").map { MediaType(String($0.prefix { $0 != ";" })) }
        guard bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{") else {
            throw EngineError(.registry, """
                \(request.url) answered something that is not a manifest (Content-Type \(contentType?.rawValue ?? "none"), \
                starting "\(String(decoding: bytes.prefix(60), as: UTF8.self))"): is \(repository.registry) a registry, and the port right?
                """)
        }
        let mediaType = try ManifestResolver.manifestType(declared: contentType ?? expected?.mediaType, bytes: bytes)
        var descriptor = expected ?? Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
        descriptor.mediaType = mediaType
        return (descriptor, bytes)
    }

    /// GET /v2/<name>/blobs/<digest> (distribution-spec "Pulling blobs"),
    /// streamed into `sink` through a hash; the sink is finished only after
    /// digest and size verified. Redirects to blob storage are followed.
    public func fetchBlob(_ descriptor: Descriptor, from repository: RegistryRepository, to sink: any ByteSink) async throws {
        let request = RegistryRequest(
            method: .GET, url: "\(baseURL(for: repository.registry))/v2/\(repository.name)/blobs/\(descriptor.digest)",
            registry: repository.registry, scopes: [repository.pullScope],
            operation: "blob \(descriptor.digest) in \(repository.name)")
        let response = try await send(request, timeout: configuration.blobTimeout)
        guard response.status == .ok else {
            throw await Self.failure(response, request, notFoundMeansMissing: true)
        }
        let hasher = SHA256Sink(downstream: sink)
        do {
            for try await buffer in response.body {
                TransferCounters.shared.add(buffer.readableBytes, .fetched, .registry)
                try buffer.withUnsafeReadableBytes { try hasher.write($0) }
                guard hasher.byteCount <= descriptor.size else {
                    throw EngineError(.verification, "registry \(repository.registry) sent more than the \(descriptor.size) bytes of blob \(descriptor.digest)")
                }
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.io, "the download of blob \(descriptor.digest) from \(repository) was cut off", underlying: error)
        }
        try hasher.verify(descriptor)
        try sink.finish()
    }

    /// A small blob (a config) in memory, verified.
    public func fetchBlobBytes(_ descriptor: Descriptor, from repository: RegistryRepository,
                               limit: Int = 64 << 20) async throws -> [UInt8] {
        guard descriptor.size <= Int64(limit) else {
            throw EngineError(.invalidInput, "blob \(descriptor.digest) is \(descriptor.size) bytes, over the \(limit)-byte limit for in-memory data")
        }
        let sink = MemorySink()
        try await fetchBlob(descriptor, from: repository, to: sink)
        return sink.bytes
    }
}

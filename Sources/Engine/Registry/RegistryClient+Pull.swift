import Foundation
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

extension RegistryClient {
    /// At most this many tags are listed for one repository.
    public static let maxTags = 10_000

    /// GET /v2/<name>/tags/list (distribution-spec "Listing tags"), following
    /// the `Link: <…>; rel="next"` pages the registry sends.
    public func listTags(_ repository: RegistryRepository) async throws -> [String] {
        var url = "\(baseURL(for: repository.registry))/v2/\(repository.name)/tags/list?n=1000"
        var tags: [String] = []
        for _ in 0..<(Self.maxTags / 1000 + 1) {
            let request = RegistryRequest(method: .GET, url: url, registry: repository.registry,
                                          scopes: [repository.pullScope], operation: "tags of \(repository.name)")
            let response = try await send(request, timeout: configuration.requestTimeout)
            guard response.status == .ok else {
                throw await Self.failure(response, request, notFoundMeansMissing: true)
            }
            let bytes = try await Self.collect(response, limit: 8 << 20)
            guard let page = try? JSONValue(parsing: bytes) else {
                throw EngineError(.registry, "\(url) answered something that is not a tag list (starting \"\(String(decoding: bytes.prefix(60), as: UTF8.self))\")")
            }
            tags += (page["tags"]?.arrayValue ?? []).compactMap(\.stringValue)
            guard tags.count <= Self.maxTags else {
                throw EngineError(.invalidInput, "\(repository) has more than \(Self.maxTags) tags; name them with the list strategy")
            }
            guard let link = response.headers.first(name: "Link"), let next = Self.nextPage(link) else { return tags }
            url = next.hasPrefix("/") ? baseURL(for: repository.registry) + next : next
            guard url.hasPrefix(baseURL(for: repository.registry) + "/") else {
                throw EngineError(.registry, "\(repository.registry) sent a tag page on another host: \(url)")
            }
        }
        return tags
    }

    /// The target of a `Link: <URL>; rel="next"` header (RFC 8288).
    static func nextPage(_ link: String) -> String? {
        for part in link.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = fields.first, target.hasPrefix("<"), target.hasSuffix(">"),
                  fields.dropFirst().contains(where: { $0.replacingOccurrences(of: " ", with: "") == "rel=\"next\"" || $0 == "rel=next" }) else { continue }
            return String(target.dropFirst().dropLast())
        }
        return nil
    }
}

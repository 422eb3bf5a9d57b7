import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

extension RegistryClient {
    /// HEAD /v2/<name>/blobs/<digest> (distribution-spec "Checking if content
    /// exists in the registry"): 200 present, 404 absent.
    public func blobExists(_ digest: Digest, in repository: RegistryRepository) async throws -> Bool {
        let request = RegistryRequest(
            method: .HEAD, url: "\(baseURL(for: repository.registry))/v2/\(repository.name)/blobs/\(digest)",
            registry: repository.registry, scopes: [repository.pushScope],
            operation: "check of blob \(digest) in \(repository.name)")
        let response = try await send(request, timeout: configuration.requestTimeout)
        switch response.status {
        case .ok: return true
        case .notFound: return false
        default: throw await Self.failure(response, request, notFoundMeansMissing: false)
        }
    }

    /// POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other> (distribution-spec
    /// "Mounting a blob from another repository"): 201 means mounted; 202 means
    /// the registry opened an upload instead, which is abandoned (the caller
    /// uploads afresh; registries expire idle uploads).
    public func mountBlob(_ digest: Digest, into repository: RegistryRepository, from source: String) async throws -> Bool {
        let query = "mount=\(Self.queryEscaped(digest.description))&from=\(Self.queryEscaped(source))"
        let request = RegistryRequest(
            method: .POST, url: "\(baseURL(for: repository.registry))/v2/\(repository.name)/blobs/uploads/?\(query)",
            registry: repository.registry, scopes: [repository.pushScope, "repository:\(source):pull"],
            operation: "mount of blob \(digest) from \(source) into \(repository.name)")
        let response = try await send(request, timeout: configuration.requestTimeout)
        switch response.status {
        case .created: return true
        case .accepted:
            _ = try? await Self.collect(response, limit: 1 << 20)
            return false
        default: throw await Self.failure(response, request, notFoundMeansMissing: false)
        }
    }

    /// Uploads a blob from a file, streaming it (distribution-spec "Pushing a
    /// blob monolithically", POST then PUT).
    public func uploadBlob(_ descriptor: Descriptor, to repository: RegistryRepository, fromFile path: String) async throws {
        let chunks = FileChunks(path: path)
        try await upload(descriptor, to: repository) { .stream(chunks, length: .known(descriptor.size)) }
    }

    /// Uploads a small blob held in memory.
    public func uploadBlob(_ descriptor: Descriptor, to repository: RegistryRepository, bytes: [UInt8]) async throws {
        guard Digest.sha256(bytes) == descriptor.digest, Int64(bytes.count) == descriptor.size else {
            throw EngineError(.verification, "the bytes given for blob \(descriptor.digest) do not match its descriptor")
        }
        try await upload(descriptor, to: repository) { .bytes(bytes) }
    }

    private func upload(_ descriptor: Descriptor, to repository: RegistryRepository,
                        body: @escaping @Sendable () -> HTTPClientRequest.Body) async throws {
        let base = baseURL(for: repository.registry)
        let start = RegistryRequest(
            method: .POST, url: "\(base)/v2/\(repository.name)/blobs/uploads/",
            registry: repository.registry, scopes: [repository.pushScope],
            operation: "upload of blob \(descriptor.digest) to \(repository.name)")
        let opened = try await send(start, timeout: configuration.requestTimeout)
        guard opened.status == .accepted, let location = opened.headers.first(name: "Location") else {
            throw await Self.failure(opened, start, notFoundMeansMissing: false)
        }
        _ = try? await Self.collect(opened, limit: 1 << 20)
        // The Location MAY be relative to the registry (distribution-spec "Pushing blobs").
        guard let uploadURL = URL(string: location, relativeTo: URL(string: base))?.absoluteURL.absoluteString else {
            throw EngineError(.registry, "registry \(repository.registry) gave an unusable upload location '\(location)'")
        }
        let separator = uploadURL.contains("?") ? "&" : "?"
        var finish = start
        finish.method = .PUT
        finish.url = uploadURL + separator + "digest=" + Self.queryEscaped(descriptor.digest.description)
        // The HTTP client sets Content-Length from the body's known length.
        finish.headers = ["Content-Type": "application/octet-stream"]
        finish.body = body
        let response = try await send(finish, timeout: configuration.blobTimeout)
        guard response.status == .created else {
            throw await Self.failure(response, finish, notFoundMeansMissing: false)
        }
        _ = try? await Self.collect(response, limit: 1 << 20)
        TransferCounters.shared.add(Int(clamping: descriptor.size), .pushed, .registry)
    }

    /// PUT /v2/<name>/manifests/<tag|digest> with the manifest's media type as
    /// Content-Type (distribution-spec "Pushing manifests"). With no tag the
    /// manifest is pushed by digest. Returns its descriptor.
    public func putManifest(_ bytes: [UInt8], mediaType: MediaType, to repository: RegistryRepository,
                            tag: String?) async throws -> Descriptor {
        let descriptor = Descriptor(of: bytes, mediaType: mediaType)
        let reference = try tag.map(RegistryReference.validatedTag) ?? descriptor.digest.description
        var request = RegistryRequest(
            method: .PUT, url: "\(baseURL(for: repository.registry))/v2/\(repository.name)/manifests/\(reference)",
            registry: repository.registry, scopes: [repository.pushScope],
            operation: "push of manifest \(repository.name):\(reference)")
        request.headers = ["Content-Type": mediaType.rawValue]
        request.body = { .bytes(bytes) }
        let response = try await send(request, timeout: configuration.requestTimeout)
        guard response.status == .created else {
            throw await Self.failure(response, request, notFoundMeansMissing: false)
        }
        if let echoed = response.headers.first(name: "Docker-Content-Digest"), echoed != descriptor.digest.description {
            throw EngineError(.verification, "registry \(repository.registry) stored manifest \(descriptor.digest) as \(echoed)")
        }
        _ = try? await Self.collect(response, limit: 1 << 20)
        TransferCounters.shared.add(bytes.count, .pushed, .registry)
        return descriptor
    }

    static func queryEscaped(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

/// A file as an async sequence of buffers, for streaming request bodies.
/// Each iteration opens the file afresh, so a request retried after an
/// authentication challenge sends the whole file again.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    var chunkSize = 1 << 20

    struct AsyncIterator: AsyncIteratorProtocol {
        let path: String
        let chunkSize: Int
        var source: FileSource?

        mutating func next() async throws -> ByteBuffer? {
            if source == nil { source = try FileSource(path: path) }
            guard let source else { return nil }
            let bytes = try source.read(maxLength: chunkSize)
            return bytes.isEmpty ? nil : ByteBuffer(bytes: bytes)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(path: path, chunkSize: chunkSize, source: nil) }
}

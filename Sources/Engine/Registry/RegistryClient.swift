import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A client for the OCI distribution API (distribution-spec v1.1,
/// https://github.com/opencontainers/distribution-spec/blob/main/spec.md).
///
/// Plain HTTP is used for loopback registries (127.0.0.0/8, localhost, ::1)
/// and those listed in `insecureRegistries`; HTTPS otherwise. Redirects are
/// followed by the HTTP client, which drops `Authorization` when the target
/// is another origin (blob storage behind a registry must not see it).
public final class RegistryClient: Sendable {
    public struct Configuration: Sendable {
        /// Registries (`host[:port]`, or `host` for every port) spoken to over plain HTTP.
        public var insecureRegistries: [String]
        public var credentials: any CredentialStore
        /// Deadline for requests with small bodies (manifests, checks).
        public var requestTimeout: TimeAmount
        /// Deadline for one blob transfer.
        public var blobTimeout: TimeAmount

        public init(insecureRegistries: [String] = [], credentials: any CredentialStore = AnonymousCredentials(),
                    requestTimeout: TimeAmount = .minutes(2), blobTimeout: TimeAmount = .hours(2)) {
            self.insecureRegistries = insecureRegistries
            self.credentials = credentials
            self.requestTimeout = requestTimeout
            self.blobTimeout = blobTimeout
        }
    }

    public let configuration: Configuration
    let http: HTTPClient
    let authorizations = AuthorizationCache()

    /// The HTTP client registries are reached with: redirects followed (blobs
    /// live in object storage), but a connect that does not complete fails
    /// after 10 s, not the 90 s of AsyncHTTPClient's browser-like shared
    /// client. Process-wide, never shut down.
    public static let defaultHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .follow(max: 10, allowCycles: false)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(90))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public init(configuration: Configuration = Configuration(), httpClient: HTTPClient = RegistryClient.defaultHTTPClient) {
        self.configuration = configuration
        self.http = httpClient
    }

    /// `scheme://host[:port]` for a registry; Docker Hub's API lives at registry-1.docker.io.
    public func baseURL(for registry: String) -> String {
        let host = registry == RegistryReference.dockerHub ? "registry-1.docker.io" : registry
        return "\(usesPlainHTTP(registry) ? "http" : "https")://\(host)"
    }

    public func usesPlainHTTP(_ registry: String) -> Bool {
        let host = Self.hostName(registry)
        if configuration.insecureRegistries.contains(registry) || configuration.insecureRegistries.contains(host) { return true }
        return Self.isLoopback(host)
    }

    /// The host part of `host[:port]` or `[ipv6]:port`, without brackets.
    static func hostName(_ registry: String) -> String {
        if registry.hasPrefix("["), let close = registry.firstIndex(of: "]") {
            return String(registry[registry.index(after: registry.startIndex)..<close])
        }
        return String(registry.prefix { $0 != ":" })
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        return ipv4Octets(host)?.first == 127
    }

    /// The four octets of a dotted IPv4 literal; nil for anything else.
    static func ipv4Octets(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        let octets = parts.compactMap { UInt8($0) }
        return parts.count == 4 && octets.count == 4 ? octets : nil
    }
}

/// One request to a registry, rebuilt for each attempt (a retry after a
/// challenge needs a fresh body stream).
struct RegistryRequest: Sendable {
    var method: HTTPMethod
    var url: String
    var headers = HTTPHeaders()
    var body: (@Sendable () -> HTTPClientRequest.Body)?
    /// `host[:port]` the credentials and cached tokens belong to.
    var registry: String
    /// Token scopes the request needs, e.g. `repository:a/b:pull`.
    var scopes: [String]
    /// What the request does, for error messages: "GET manifest a/b:1".
    var operation: String
}

extension RegistryClient {
    /// Sends a request, answering one authentication challenge if the
    /// registry sends one (distribution-spec leaves auth to the token spec:
    /// a 401 with WWW-Authenticate, then the same request with credentials).
    func send(_ request: RegistryRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        let key = Self.authorizationKey(registry: request.registry, scopes: request.scopes)
        var authorization = await authorizations.value(for: key)
        for attempt in 0..<2 {
            let response = try await execute(request, authorization: authorization, timeout: timeout)
            guard response.status == .unauthorized, attempt == 0 else {
                if response.status == .unauthorized {
                    _ = try? await Self.collect(response, limit: 1 << 20)
                    throw EngineError(.registry,
                        "registry \(request.registry) refused the credentials for \(request.operation); check them in the docker config (docker login \(request.registry))")
                }
                return response
            }
            _ = try? await Self.collect(response, limit: 1 << 20)
            let value = try await self.authorization(answering: response.headers.first(name: "WWW-Authenticate"),
                                                     registry: request.registry, scopes: request.scopes)
            await authorizations.store(value, for: key)
            authorization = value
        }
        throw EngineError(.internal, "the authentication retry loop ended without an answer")
    }

    private func execute(_ request: RegistryRequest, authorization: String?, timeout: TimeAmount) async throws -> HTTPClientResponse {
        var http = HTTPClientRequest(url: request.url)
        http.method = request.method
        http.headers = request.headers
        // Credentials go only to the registry itself, never to another host an
        // upload Location may point at.
        if let authorization, request.url.hasPrefix(baseURL(for: request.registry) + "/") {
            http.headers.replaceOrAdd(name: "Authorization", value: authorization)
        }
        http.body = request.body?()
        do {
            return try await self.http.execute(http, timeout: timeout)
        } catch {
            throw EngineError(.io, "cannot reach registry \(request.registry) for \(request.operation) (\(request.url))", underlying: error)
        }
    }

    /// Reads a whole (small) response body.
    static func collect(_ response: HTTPClientResponse, limit: Int) async throws -> [UInt8] {
        do {
            var buffer = try await response.body.collect(upTo: limit)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch let error as NIOTooManyBytesError {
            throw EngineError(.registry, "a registry response was larger than the \(limit)-byte limit", underlying: error)
        } catch {
            throw EngineError(.io, "a registry response was cut off", underlying: error)
        }
    }
}

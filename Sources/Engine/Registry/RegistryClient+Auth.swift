import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Authorization header values earned from challenges, by registry and
/// scope, so later requests send them up front instead of taking a 401 each.
/// An actor: concurrent pulls share it.
actor AuthorizationCache {
    private var values: [String: String] = [:]

    func value(for key: String) -> String? { values[key] }
    func store(_ value: String, for key: String) { values[key] = value }
}

extension RegistryClient {
    /// The cache key of a request: registry plus the scopes it needs.
    static func authorizationKey(registry: String, scopes: [String]) -> String {
        ([registry] + scopes.sorted()).joined(separator: " ")
    }

    /// Answers a 401 challenge: Basic uses the stored credentials; Bearer gets
    /// a token from the realm (distribution "Token Authentication
    /// Specification"), sending the credentials when there are any, and
    /// asking for the challenge's scopes plus those the request needs (a mount
    /// needs pull on its source repository too).
    func authorization(answering header: String?, registry: String, scopes: [String]) async throws -> String {
        guard let header else {
            throw EngineError(.registry, "registry \(registry) answered 401 without a WWW-Authenticate challenge")
        }
        let challenge = try AuthChallenge(parsing: header)
        let credentials = try configuration.credentials.credentials(for: registry)
        switch challenge.scheme {
        case "basic":
            guard let credentials else {
                throw EngineError(.registry, "registry \(registry) requires a login: add credentials for it to the docker config (docker login \(registry))")
            }
            return credentials.basicAuthorization
        case "bearer":
            return "Bearer " + (try await fetchToken(challenge, registry: registry, scopes: scopes, credentials: credentials))
        default:
            throw EngineError(.registry, "registry \(registry) asks for '\(challenge.scheme)' authentication, which is not supported (Basic and Bearer are)")
        }
    }

    private func fetchToken(_ challenge: AuthChallenge, registry: String, scopes: [String],
                            credentials: RegistryCredentials?) async throws -> String {
        guard let realm = challenge.realm, var components = URLComponents(string: realm),
              components.scheme == "https" || components.scheme == "http" else {
            throw EngineError(.registry, "registry \(registry) sent a Bearer challenge without a usable realm")
        }
        var query = components.queryItems ?? []
        if let service = challenge.service { query.append(URLQueryItem(name: "service", value: service)) }
        var allScopes = challenge.scopes
        for scope in scopes where !allScopes.contains(scope) { allScopes.append(scope) }
        query += allScopes.map { URLQueryItem(name: "scope", value: $0) }
        components.queryItems = query.isEmpty ? nil : query
        guard let url = components.string else {
            throw EngineError(.registry, "cannot build the token URL for registry \(registry) from realm '\(realm)'")
        }
        var request = HTTPClientRequest(url: url)
        if let credentials { request.headers.add(name: "Authorization", value: credentials.basicAuthorization) }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(60))
        } catch {
            throw EngineError(.io, "cannot reach the token service \(components.host ?? realm) for registry \(registry)", underlying: error)
        }
        let body = try await Self.collect(response, limit: 1 << 20)
        guard response.status == .ok else {
            let hint = credentials == nil ? "; log in with docker login \(registry)" : "; check the credentials for \(registry) in the docker config"
            throw EngineError(.registry, "the token service for registry \(registry) answered \(response.status.code)\(hint)")
        }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: body)
        } catch {
            throw EngineError(.registry,
                "the token service \(url) for registry \(registry) answered something that is not JSON (starting \"\(String(decoding: body.prefix(60), as: UTF8.self))\")")
        }
        // Token spec "Token Response Fields": `token`, with `access_token` as the OAuth 2 alias.
        guard let token = document["token"]?.stringValue ?? document["access_token"]?.stringValue, !token.isEmpty else {
            throw EngineError(.registry, "the token service for registry \(registry) returned no token")
        }
        return token
    }
}

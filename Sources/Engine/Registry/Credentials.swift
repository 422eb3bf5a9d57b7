import Foundation

/// A user name and password (or token) for one registry.
public struct RegistryCredentials: Sendable, Hashable {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// RFC 7617 Basic credentials, `base64(user:pass)`.
    var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// Looks up credentials by registry host (`host[:port]`, `docker.io` for Docker Hub).
public protocol CredentialStore: Sendable {
    func credentials(for registry: String) throws -> RegistryCredentials?
}

/// No credentials: every request is anonymous.
public struct AnonymousCredentials: CredentialStore {
    public init() {}
    public func credentials(for registry: String) throws -> RegistryCredentials? { nil }
}

/// Fixed credentials per registry host.
public struct StaticCredentials: CredentialStore {
    public let entries: [String: RegistryCredentials]
    public init(_ entries: [String: RegistryCredentials]) { self.entries = entries }
    public func credentials(for registry: String) throws -> RegistryCredentials? { entries[registry] }
}

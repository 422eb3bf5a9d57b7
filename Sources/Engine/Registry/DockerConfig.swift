import Foundation

/// Credentials from a docker `config.json`: `auths[host].auth` (base64 of
/// `user:pass`) or `auths[host].username`/`password`. Credential helpers
/// (`credsStore`, `credHelpers`) are not supported: a registry that only has
/// a helper entry is reported, not silently treated as anonymous.
public struct DockerConfig: CredentialStore {
    /// Inline credentials by normalized host.
    let auths: [String: RegistryCredentials]
    /// Hosts with an entry but no inline credentials (e.g. `{}` left by a helper).
    let entriesWithoutSecret: Set<String>
    /// Hosts served by a credential helper, or nil for all when `credsStore` is set.
    let helperHosts: Set<String>
    let globalHelper: String?
    public let path: String?

    /// An empty configuration: no credentials.
    public init() {
        auths = [:]
        entriesWithoutSecret = []
        helperHosts = []
        globalHelper = nil
        path = nil
    }

    /// Reads `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; an
    /// absent file gives an empty configuration.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DockerConfig {
        let path: String
        if let directory = environment["DOCKER_CONFIG"], !directory.isEmpty {
            path = "\(directory)/config.json"
        } else {
            let home = environment["HOME"] ?? NSHomeDirectory()
            path = "\(home)/.docker/config.json"
        }
        guard FileManager.default.fileExists(atPath: path) else { return DockerConfig() }
        return try DockerConfig(path: path)
    }

    public init(path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileSource(path: path).readAll(limit: 4 << 20)
        } catch {
            throw EngineError(.io, "cannot read the docker config '\(path)'", underlying: error)
        }
        try self.init(bytes: bytes, path: path)
    }

    init(bytes: [UInt8], path: String?) throws {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes)
        } catch {
            throw EngineError(.invalidInput, "the docker config '\(path ?? "config.json")' is not valid JSON", underlying: error)
        }
        var auths: [String: RegistryCredentials] = [:]
        var withoutSecret: Set<String> = []
        for member in document["auths"]?.members ?? [] {
            let host = Self.normalizedHost(member.key)
            if let credentials = try Self.credentials(in: member.value, host: host) {
                auths[host] = credentials
            } else {
                withoutSecret.insert(host)
            }
        }
        self.auths = auths
        self.entriesWithoutSecret = withoutSecret
        self.helperHosts = Set((document["credHelpers"]?.members ?? []).map { Self.normalizedHost($0.key) })
        self.globalHelper = document["credsStore"]?.stringValue
        self.path = path
    }

    public func credentials(for registry: String) throws -> RegistryCredentials? {
        let host = Self.normalizedHost(registry)
        if let found = auths[host] { return found }
        if helperHosts.contains(host) || (globalHelper != nil && entriesWithoutSecret.contains(host)) {
            throw EngineError(.invalidInput,
                "the docker config '\(path ?? "config.json")' keeps the credentials for \(registry) in a credential helper, which this engine does not support; "
                + "put them in auths[\"\(registry)\"].auth (base64 of user:password) in a config file named by DOCKER_CONFIG")
        }
        return nil
    }

    private static func credentials(in entry: JSONValue, host: String) throws -> RegistryCredentials? {
        if let encoded = entry["auth"]?.stringValue, !encoded.isEmpty {
            guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
                  let colon = text.firstIndex(of: ":") else {
                throw EngineError(.invalidInput, "the docker config entry for \(host) has an 'auth' that is not base64 of user:password")
            }
            return RegistryCredentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
        if let username = entry["username"]?.stringValue, let password = entry["password"]?.stringValue {
            return RegistryCredentials(username: username, password: password)
        }
        return nil
    }

    /// Docker writes keys as `https://index.docker.io/v1/`, `host`, or a URL;
    /// compare by host[:port] only, with Docker Hub's names folded together.
    static func normalizedHost(_ key: String) -> String {
        var host = Substring(key)
        for scheme in ["https://", "http://"] where host.hasPrefix(scheme) { host = host.dropFirst(scheme.count) }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        switch host {
        case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com": return RegistryReference.dockerHub
        default: return String(host)
        }
    }
}

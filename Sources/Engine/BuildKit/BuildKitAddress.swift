/// Where a BuildKit listens, as `buildctl --addr` and Copa's `--addr` spell it:
///
/// - `unix:///run/buildkit/buildkitd.sock`: buildkitd's unix socket;
/// - `tcp://host:1234`: buildkitd on TCP, plaintext or with TLS (`BuildKitTLS`);
/// - `docker://unix:///var/run/docker.sock` (or bare `docker://`): the BuildKit
///   inside a Docker Engine, reached through the engine's `/grpc` endpoint.
public enum BuildKitAddress: Sendable, Hashable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)
    case docker(socket: String)

    public static let defaultDockerSocket = "/var/run/docker.sock"

    public init(parsing text: String) throws {
        func invalid(_ why: String) -> EngineError {
            EngineError(.invalidInput,
                "BuildKit address '\(text)' \(why); use unix:///path/buildkitd.sock, tcp://host:port or docker://unix:///var/run/docker.sock")
        }
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { throw invalid("needs an absolute socket path") }
            self = .unix(path: path)
        } else if text.hasPrefix("tcp://") {
            let rest = text.dropFirst("tcp://".count)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
                  (1...65535).contains(port), colon > rest.startIndex else {
                throw invalid("needs host:port")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self = .tcp(host: host, port: port)
        } else if text.hasPrefix("docker://") {
            let rest = String(text.dropFirst("docker://".count))
            if rest.isEmpty {
                self = .docker(socket: Self.defaultDockerSocket)
            } else if rest.hasPrefix("unix://"), rest.dropFirst("unix://".count).hasPrefix("/") {
                self = .docker(socket: String(rest.dropFirst("unix://".count)))
            } else {
                throw invalid("names a Docker Engine that is not on a unix socket")
            }
        } else {
            throw invalid("has an unknown scheme")
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix://\(path)"
        case .tcp(let host, let port): "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .docker(let socket): "docker://unix://\(socket)"
        }
    }
}

/// TLS for `tcp://` addresses, as Copa's `--cacert`, `--cert` and `--key`:
/// PEM files. With a CA only, the server is verified against it; with a
/// certificate and key too, the client authenticates (mutual TLS).
public struct BuildKitTLS: Sendable, Hashable {
    public var caCertificate: String?
    public var certificate: String?
    public var key: String?

    public init(caCertificate: String? = nil, certificate: String? = nil, key: String? = nil) {
        self.caCertificate = caCertificate
        self.certificate = certificate
        self.key = key
    }

    public var isEmpty: Bool { caCertificate == nil && certificate == nil && key == nil }
}

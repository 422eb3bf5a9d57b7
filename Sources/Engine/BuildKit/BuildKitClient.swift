import BuildKitAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

/// A client of BuildKit's control API (`moby.buildkit.v1.Control`) over a
/// unix socket, TCP (plaintext or TLS) or a Docker Engine's `/grpc` endpoint.
/// One HTTP/2 connection carries every call; `close()` ends it.
public final class BuildKitClient: Sendable {
    public let address: BuildKitAddress
    private let grpc: GRPCClient<HTTP2ClientTransport.Posix>
    private let control: Moby_Buildkit_V1_Control.Client<HTTP2ClientTransport.Posix>
    private let connections: Task<Void, any Error>
    private let bridge: DockerGRPCBridge?

    /// Opens the connection. `scratch` holds the private socket of a Docker
    /// bridge; nothing else is written there.
    public init(address: BuildKitAddress, tls: BuildKitTLS = BuildKitTLS(), scratch: String) throws {
        self.address = address
        let target: any ResolvableTarget
        var security = HTTP2ClientTransport.Posix.TransportSecurity.plaintext
        var bridge: DockerGRPCBridge?
        switch address {
        case .unix(let path):
            target = .unixDomainSocket(path: path)
        case .tcp(let host, let port):
            // An IP literal must not become the TLS server name (SNI forbids
            // it); the certificate is then checked against the address.
            if RegistryClient.ipv4Octets(host) != nil {
                target = .ipv4(host: host, port: port)
            } else if host.contains(":") {
                target = .ipv6(host: host, port: port)
            } else {
                target = .dns(host: host, port: port)
            }
            if !tls.isEmpty { security = try Self.security(tls) }
        case .docker(let socket):
            let opened = try DockerGRPCBridge(engineSocket: socket, directory: scratch)
            bridge = opened
            target = .unixDomainSocket(path: opened.path)
        }
        var config = HTTP2ClientTransport.Posix.Config.defaults
        // Solve and Status calls carry LLB definitions and log chunks well
        // below this; BuildKit's own client allows 16 MiB as well.
        config.http2.maxFrameSize = 1 << 20
        let transport = try HTTP2ClientTransport.Posix(target: target, transportSecurity: security, config: config)
        let grpc = GRPCClient(transport: transport)
        self.grpc = grpc
        self.control = Moby_Buildkit_V1_Control.Client(wrapping: grpc)
        self.bridge = bridge
        self.connections = Task { try await grpc.runConnections() }
    }

    private static func security(_ tls: BuildKitTLS) throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        if (tls.certificate == nil) != (tls.key == nil) {
            throw EngineError(.invalidInput, "BuildKit TLS needs both a client certificate and its key, or neither")
        }
        var config: HTTP2ClientTransport.Posix.TransportSecurity.TLS
        if let certificate = tls.certificate, let key = tls.key {
            config = .mTLS(certificateChain: [.file(path: certificate, format: .pem)], privateKey: .file(path: key, format: .pem))
        } else {
            config = .defaults
        }
        if let ca = tls.caCertificate {
            config.trustRoots = .certificates([.file(path: ca, format: .pem)])
        }
        return .tls(config)
    }

    public func close() {
        grpc.beginGracefulShutdown()
        connections.cancel()
        bridge?.close()
    }

    public func info() async throws -> Moby_Buildkit_V1_Types_BuildkitVersion {
        try await call("Info") {
            try await control.info(Moby_Buildkit_V1_InfoRequest()).buildkitVersion
        }
    }

    public func listWorkers() async throws -> [Moby_Buildkit_V1_Types_WorkerRecord] {
        try await call("ListWorkers") {
            try await control.listWorkers(Moby_Buildkit_V1_ListWorkersRequest()).record
        }
    }

    public func solve(_ request: Moby_Buildkit_V1_SolveRequest) async throws -> Moby_Buildkit_V1_SolveResponse {
        try await call("Solve") { try await control.solve(request) }
    }

    /// Streams the progress of the solve named `ref` until it ends.
    public func status(ref: String, _ handle: @escaping @Sendable (Moby_Buildkit_V1_StatusResponse) async -> Void) async throws {
        var request = Moby_Buildkit_V1_StatusRequest()
        request.ref = ref
        try await call("Status") {
            try await control.status(request) { response in
                for try await message in response.messages { await handle(message) }
            }
        }
    }

    /// Turns gRPC failures into engine errors that say which BuildKit and
    /// which call; cancellation stays cancellation.
    private func call<T: Sendable>(_ method: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RPCError {
            if Task.isCancelled || error.code == .cancelled { throw CancellationError() }
            // The transport's reason (TLS, refused connection) is in the cause.
            let reason = error.message + (error.cause.map { ": \($0)" } ?? "")
            switch error.code {
            case .unavailable:
                throw EngineError(.executor, "BuildKit at \(address) is unreachable: \(reason)")
            case .unimplemented:
                throw EngineError(.executor, "BuildKit at \(address) does not implement \(method): \(reason)")
            default:
                throw EngineError(.executor, "BuildKit \(method) failed: \(reason)")
            }
        }
    }
}

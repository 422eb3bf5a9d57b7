/// A client's DEALER socket speaking envelopes to one agent.
public final class ClientSocket: Sendable {
    private let owner: SocketOwner

    private init(owner: SocketOwner) { self.owner = owner }

    public static func connect(_ endpoint: String, options: SocketOptions = SocketOptions()) async throws -> ClientSocket {
        ClientSocket(owner: try await SocketOwner.open(.dealer, .connect, endpoint: endpoint, options: options))
    }

    public var endpoint: String { owner.endpoint }

    public var messages: AsyncMapSequence<AsyncStream<SocketOwner.Message>, Result<Envelope, ProtocolError>> {
        owner.incoming.map { frames in
            guard frames.count == 1 else {
                return .failure(ProtocolError(.protocol, "expected one frame per message, got \(frames.count)"))
            }
            return Envelope.decode(frame: frames[0])
        }
    }

    public func send(_ envelope: Envelope) async throws {
        try await owner.send([envelope.frame()])
    }

    /// Sends raw frames; for tests that check how an agent treats garbage.
    public func sendRaw(_ frames: [[UInt8]]) async throws {
        try await owner.send(frames)
    }

    public func close() { owner.close() }
}

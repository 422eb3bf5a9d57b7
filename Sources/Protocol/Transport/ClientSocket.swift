/// A client's DEALER socket speaking envelopes to one agent.
public final class ClientSocket: Sendable {
    private let owner: SocketOwner

    private init(owner: SocketOwner) { self.owner = owner }

    public static func connect(_ endpoint: String, options: SocketOptions = SocketOptions()) async throws -> ClientSocket {
        var options = options
        options.heartbeatFrame = Envelope(.heartbeat(Copa_Protocol_V1_Heartbeat())).frame()
        return ClientSocket(owner: try await SocketOwner.open(.dealer, .connect, endpoint: endpoint, options: options))
    }

    /// Heartbeats to the agent at `interval` (the agent's, from Welcome),
    /// and watching that it answers: when it has sent nothing for four
    /// intervals, `silences` yields.
    public func watch(interval: Duration) { owner.watch(interval: interval) }
    public func unwatch() { owner.unwatch() }

    /// Yields each time the agent has been silent past the heartbeat bound.
    public var silences: AsyncMapSequence<AsyncStream<SocketOwner.DroppedPeer>, Void> {
        owner.droppedPeers.map { _ in () }
    }

    /// CURVE handshakes that failed: the agent refused this client's key,
    /// or the agent key given is not the agent's.
    public var handshakeFailures: AsyncStream<HandshakeFailure> { owner.handshakeFailures }

    public var endpoint: String { owner.endpoint }

    public var messages: AsyncMapSequence<AsyncStream<SocketOwner.Received>, Result<Envelope, ProtocolError>> {
        owner.incoming.map { [owner] received in
            owner.taken()
            let frames = received.frames
            guard frames.count == 1 else {
                return .failure(ProtocolError(.protocol, "expected one frame per message, got \(frames.count)"))
            }
            return Envelope.decode(frame: frames[0])
        }
    }

    public func send(_ envelope: Envelope) async throws {
        try await owner.send([envelope.frame()])
    }

    /// Queues an envelope without waiting for it to leave: for messages
    /// that must not hold the caller up while the agent is unreachable
    /// (heartbeats, cancels). False once the socket is closed.
    @discardableResult
    public func post(_ envelope: Envelope) -> Bool {
        owner.post([envelope.frame()])
    }

    /// Sends raw frames; for tests that check how an agent treats garbage.
    public func sendRaw(_ frames: [[UInt8]]) async throws {
        try await owner.send(frames)
    }

    public func close() { owner.close() }
}

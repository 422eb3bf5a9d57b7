/// The agent's ROUTER socket speaking envelopes. Each inbound message is
/// tagged with the peer's routing id so answers go back to the right client.
///
/// Answers are posted, not awaited: each peer has its own bounded outbound
/// line (`OutboundQueues`), so a client that stops reading is dropped instead
/// of holding up the agent's answers to everyone else.
public final class AgentSocket: Sendable {
    /// A ZeroMQ routing id (ZMTP: assigned by the ROUTER per connection).
    public struct PeerID: Hashable, Sendable, CustomStringConvertible {
        public let bytes: [UInt8]
        public init(bytes: [UInt8]) { self.bytes = bytes }
        public var description: String { bytes.map { String(format: "%02x", $0) }.joined() }
    }

    public struct Inbound: Sendable {
        public let peer: PeerID
        /// The ZAP handler's User-Id for the connection, when one answered.
        public let userID: String?
        /// Size of the envelope's frame in bytes.
        public let size: Int
        public let envelope: Result<Envelope, ProtocolError>
    }

    public struct Dropped: Sendable {
        public let peer: PeerID
        public let reason: SocketOwner.DroppedPeer.Reason
        public init(peer: PeerID, reason: SocketOwner.DroppedPeer.Reason) {
            self.peer = peer
            self.reason = reason
        }
    }

    private let owner: SocketOwner

    public let heartbeatInterval: Duration

    private init(owner: SocketOwner, heartbeatInterval: Duration) {
        self.owner = owner
        self.heartbeatInterval = heartbeatInterval
    }

    public static func bind(_ endpoint: String, options: SocketOptions = SocketOptions()) async throws -> AgentSocket {
        var options = options
        options.heartbeatFrame = Envelope(.heartbeat(Copa_Protocol_V1_Heartbeat())).frame()
        return AgentSocket(owner: try await SocketOwner.open(.router, .bind, endpoint: endpoint, options: options),
                           heartbeatInterval: options.heartbeatInterval)
    }

    /// Heartbeats to `peer` while it has jobs; one that falls silent for
    /// four intervals is dropped and reported on `droppedPeers`.
    public func watch(_ peer: PeerID) { owner.watch(peer: peer.bytes) }
    public func unwatch(_ peer: PeerID) { owner.unwatch(peer: peer.bytes) }

    public var endpoint: String { owner.endpoint }

    /// Inbound messages. A ROUTER message is [routing id, body]; any other
    /// shape is reported as a protocol error for that peer.
    public var messages: AsyncMapSequence<AsyncStream<SocketOwner.Received>, Inbound> {
        owner.incoming.map { [owner] received in
            owner.taken()
            let frames = received.frames
            let peer = PeerID(bytes: frames.first ?? [])
            guard frames.count == 2 else {
                return Inbound(peer: peer, userID: received.userID, size: frames.dropFirst().reduce(0) { $0 + $1.count },
                               envelope: .failure(ProtocolError(
                                   .protocol, "expected one frame per message, got \(frames.count - 1)")))
            }
            return Inbound(peer: peer, userID: received.userID, size: frames[1].count,
                           envelope: Envelope.decode(frame: frames[1]))
        }
    }

    /// Peers the socket gave up on: they stopped reading, or went away.
    public var droppedPeers: AsyncMapSequence<AsyncStream<SocketOwner.DroppedPeer>, Dropped> {
        owner.droppedPeers.map { Dropped(peer: PeerID(bytes: $0.routingID), reason: $0.reason) }
    }

    /// Queues an envelope for `peer` without waiting. False when it will not
    /// be delivered (the peer is gone or was dropped; `droppedPeers` says so).
    @discardableResult
    public func post(_ envelope: Envelope, to peer: PeerID) -> Bool {
        owner.post([peer.bytes, envelope.frame()])
    }

    /// Queues an already framed envelope (`Envelope.frame()`).
    @discardableResult
    public func post(frame: [UInt8], to peer: PeerID) -> Bool {
        owner.post([peer.bytes, frame])
    }

    /// Queues an envelope and waits until ZeroMQ has taken it.
    public func send(_ envelope: Envelope, to peer: PeerID) async throws {
        try await owner.send([peer.bytes, envelope.frame()])
    }

    /// Stops talking to `peer`: what is queued for it is discarded and what
    /// it sends later is ignored.
    public func drop(_ peer: PeerID) { owner.drop(peer: peer.bytes) }

    public func close() { owner.close() }
}

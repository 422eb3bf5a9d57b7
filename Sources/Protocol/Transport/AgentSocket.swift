/// The agent's ROUTER socket speaking envelopes. Each inbound message is
/// tagged with the peer's routing id so answers go back to the right client.
public final class AgentSocket: Sendable {
    /// A ZeroMQ routing id (ZMTP: assigned by the ROUTER per connection).
    public struct PeerID: Hashable, Sendable, CustomStringConvertible {
        public let bytes: [UInt8]
        public var description: String { bytes.map { String(format: "%02x", $0) }.joined() }
    }

    public struct Inbound: Sendable {
        public let peer: PeerID
        public let envelope: Result<Envelope, ProtocolError>
    }

    private let owner: SocketOwner

    private init(owner: SocketOwner) { self.owner = owner }

    public static func bind(_ endpoint: String, options: SocketOptions = SocketOptions()) async throws -> AgentSocket {
        AgentSocket(owner: try await SocketOwner.open(.router, .bind, endpoint: endpoint, options: options))
    }

    public var endpoint: String { owner.endpoint }

    /// Inbound messages. A ROUTER message is [routing id, body]; any other
    /// shape is reported as a protocol error for that peer.
    public var messages: AsyncMapSequence<AsyncStream<SocketOwner.Message>, Inbound> {
        owner.incoming.map { frames in
            let peer = PeerID(bytes: frames.first ?? [])
            guard frames.count == 2 else {
                return Inbound(peer: peer, envelope: .failure(ProtocolError(
                    .protocol, "expected one frame per message, got \(frames.count - 1)")))
            }
            return Inbound(peer: peer, envelope: Envelope.decode(frame: frames[1]))
        }
    }

    public func send(_ envelope: Envelope, to peer: PeerID) async throws {
        try await owner.send([peer.bytes, envelope.frame()])
    }

    public func close() { owner.close() }
}

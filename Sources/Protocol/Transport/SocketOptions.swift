/// How a socket is set up. Defaults suit both agent and client.
public struct SocketOptions: Sendable {
    /// Largest message accepted from a peer (ZMQ_MAXMSGSIZE); a peer that sends
    /// more is disconnected by libzmq before the message reaches us.
    public var maxMessageSize = Int64(WireLimits.frameBytes)
    // No ZMTP heartbeats (RFC 37 PING/PONG): libzmq 4.3.4 aborts the process
    // ("Assertion failed: !_io_error", libzmq issues 3937 and 4767) when a
    // heartbeat times out on a connection whose input is stopped by a full
    // pipe, and a full pipe is exactly what a bounded reader gives a peer that
    // sends too fast. Liveness is the protocol's own Heartbeat message instead.
    /// How long pending outgoing messages are kept after close.
    public var lingerMilliseconds: Int32 = 500
    /// A ROUTER's bound on what waits for one peer beyond ZeroMQ's own pipe
    /// (ZMQ_SNDHWM messages): past either, the peer is dropped as one that
    /// stopped reading. See `OutboundQueues`.
    public var peerQueueMessages = 4_096
    public var peerQueueBytes = 16 << 20
    /// How often watched peers get a heartbeat (`SocketOwner.watch`); four
    /// of these without a message from a peer and it is taken as gone.
    public var heartbeatInterval: Duration = .seconds(2)
    /// The heartbeat message itself; set by `AgentSocket` and `ClientSocket`.
    var heartbeatFrame: [UInt8]?
    /// CURVE (RFC 26) keys; nil = plain NULL mechanism.
    public var curve: CurveOptions?
    /// Which clients a CURVE server accepts (asked by the ZAP handler, RFC 27).
    /// Required with `.server`: a CURVE server that takes any key is no
    /// authentication at all.
    public var authorizer: (any ClientAuthorizer)?

    public init() {}
}

/// CURVE security for a socket, keys as 40-character Z85 text (RFC 32).
public enum CurveOptions: Sendable {
    /// The agent: its own long-term secret key.
    case server(secretKey: String)
    /// A client: the agent's public key, plus the client's own key pair.
    case client(serverPublicKey: String, publicKey: String, secretKey: String)
}

public enum SocketKind: Sendable {
    case router
    case dealer
}

/// Limits of the protocol itself, the same on both sides.
public enum WireLimits {
    /// Largest message either side accepts (ZMQ_MAXMSGSIZE): a larger one
    /// never arrives, libzmq drops its connection instead. Senders check it first.
    public static let frameBytes = 16 << 20
}

/// How a socket is set up. Defaults suit both agent and client.
public struct SocketOptions: Sendable {
    /// Largest message accepted from a peer (ZMQ_MAXMSGSIZE); a peer that sends
    /// more is disconnected by libzmq before the message reaches us.
    public var maxMessageSize: Int64 = 16 << 20
    /// ZMTP 3.1 PING interval (RFC 37, "Connection Heartbeating"); 0 disables.
    public var heartbeatIntervalMilliseconds: Int32 = 1_000
    /// Connection is dropped when no traffic arrives for this long after a PING.
    public var heartbeatTimeoutMilliseconds: Int32 = 5_000
    /// How long pending outgoing messages are kept after close.
    public var lingerMilliseconds: Int32 = 500
    /// CURVE (RFC 26) keys; nil = plain NULL mechanism.
    public var curve: CurveOptions?

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

import CZeroMQ
import Foundation

/// Thin wrappers over the libzmq calls the owner thread makes. They are only
/// ever called from `SocketOwner.run` on the socket's own thread.
extension SocketOwner {
    /// A new socket with the options applied, and the ZAP domain its
    /// authorizer was registered under (to unregister when it closes).
    static func makeSocket(kind: SocketKind, options: SocketOptions) throws -> (UnsafeMutableRawPointer, zapDomain: String?) {
        let type = kind == .router ? ZMQ_ROUTER : ZMQ_DEALER
        guard let socket = zmq_socket(ZMQContext.shared.handle, type) else {
            throw ZMQError.last("zmq_socket")
        }
        do {
            try setInt64(socket, ZMQ_MAXMSGSIZE, options.maxMessageSize)
            try setInt32(socket, ZMQ_LINGER, options.lingerMilliseconds)
            if kind == .router {
                // Fail sends to a peer that is gone instead of dropping them
                // silently: that is how the agent learns a client disappeared.
                try setInt32(socket, ZMQ_ROUTER_MANDATORY, 1)
            }
            return (socket, try applyCurve(socket, options))
        } catch {
            zmq_close(socket)
            throw error
        }
    }

    private static func applyCurve(_ socket: UnsafeMutableRawPointer, _ options: SocketOptions) throws -> String? {
        switch options.curve {
        case nil:
            return nil
        case .server(let secretKey):
            guard let authorizer = options.authorizer else {
                throw TransportError.misconfigured("a CURVE server needs an authorizer: the client keys it accepts")
            }
            try setInt32(socket, ZMQ_CURVE_SERVER, 1)
            try setKey(socket, ZMQ_CURVE_SECRETKEY, secretKey)
            let domain = try ZAPHandler.shared.register(authorizer)
            let rc = domain.withCString { zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, $0, domain.utf8.count) }
            guard rc == 0 else {
                ZAPHandler.shared.unregister(domain)
                throw ZMQError.last("zmq_setsockopt(ZMQ_ZAP_DOMAIN)")
            }
            return domain
        case .client(let serverPublicKey, let publicKey, let secretKey):
            try setKey(socket, ZMQ_CURVE_SERVERKEY, serverPublicKey)
            try setKey(socket, ZMQ_CURVE_PUBLICKEY, publicKey)
            try setKey(socket, ZMQ_CURVE_SECRETKEY, secretKey)
            return nil
        }
    }

    /// Starts reporting failed security handshakes of `socket` on a PAIR
    /// socket (zmq_socket_monitor(3)) that the owner thread polls beside it.
    static func monitorHandshakes(_ socket: UnsafeMutableRawPointer) throws -> UnsafeMutableRawPointer {
        let address = "inproc://copa-monitor-\(UUID().uuidString)"
        let events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        guard zmq_socket_monitor(socket, address, events) == 0 else { throw ZMQError.last("zmq_socket_monitor") }
        guard let pair = zmq_socket(ZMQContext.shared.handle, ZMQ_PAIR) else { throw ZMQError.last("zmq_socket(PAIR)") }
        guard zmq_connect(pair, address) == 0 else {
            zmq_close(pair)
            throw ZMQError.last("connect \(address)")
        }
        return pair
    }

    /// One monitor event: a 6-byte frame (16-bit event, 32-bit value, host
    /// order), then the endpoint.
    static func receiveHandshakeFailure(_ monitor: UnsafeMutableRawPointer) -> HandshakeFailure? {
        guard let event = receive(monitor), event.frames.count >= 2, event.frames[0].count >= 6 else { return nil }
        let header = event.frames[0]
        let number = header.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
        let value = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }
        let endpoint = String(decoding: event.frames[1], as: UTF8.self)
        switch Int32(number) {
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return HandshakeFailure(kind: .authentication(status: Int(value)), endpoint: endpoint)
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: return HandshakeFailure(kind: .protocolError(code: Int(value)), endpoint: endpoint)
        default: return HandshakeFailure(kind: .other(errno: Int(value)), endpoint: endpoint)
        }
    }

    private static func setInt32(_ socket: UnsafeMutableRawPointer, _ option: Int32, _ value: Int32) throws {
        var value = value
        guard zmq_setsockopt(socket, option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError.last("zmq_setsockopt(\(option))")
        }
    }

    private static func setInt64(_ socket: UnsafeMutableRawPointer, _ option: Int32, _ value: Int64) throws {
        var value = value
        guard zmq_setsockopt(socket, option, &value, MemoryLayout<Int64>.size) == 0 else {
            throw ZMQError.last("zmq_setsockopt(\(option))")
        }
    }

    /// CURVE keys as Z85 text: libzmq takes the 40 characters plus a NUL.
    private static func setKey(_ socket: UnsafeMutableRawPointer, _ option: Int32, _ key: String) throws {
        guard key.utf8.count == 40 else {
            throw ZMQError(operation: "CURVE key must be 40 Z85 characters", errno: EINVAL)
        }
        let rc = key.withCString { zmq_setsockopt(socket, option, $0, 41) }
        guard rc == 0 else { throw ZMQError.last("zmq_setsockopt(CURVE key)") }
    }

    static func lastEndpoint(_ socket: UnsafeMutableRawPointer) -> String? {
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        guard zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return nil }
        return String(cString: buffer)
    }

    /// Receives one whole multipart message without blocking; nil when none
    /// is waiting. The User-Id is the one the ZAP handler gave the connection
    /// (zmq_msg_gets(3)); without a handler there is none. A ROUTER's
    /// routing-id frame is its own and carries no metadata, so every frame is asked.
    static func receive(_ socket: UnsafeMutableRawPointer) -> Received? {
        var frames: Message = []
        var userID: String?
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            let flags: Int32 = frames.isEmpty ? ZMQ_DONTWAIT : 0
            guard zmq_msg_recv(&message, socket, flags) >= 0 else { return nil }
            if userID == nil, let value = zmq_msg_gets(&message, "User-Id"), value.pointee != 0 {
                userID = String(cString: value)
            }
            let size = zmq_msg_size(&message)
            if let data = zmq_msg_data(&message), size > 0 {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            if zmq_msg_more(&message) == 0 { return Received(frames: frames, userID: userID) }
        }
    }

    /// Sends one multipart message without blocking.
    static func send(_ frames: Message, on socket: UnsafeMutableRawPointer) -> Result<Void, TransportError> {
        for (index, frame) in frames.enumerated() {
            let flags = ZMQ_DONTWAIT | (index < frames.count - 1 ? ZMQ_SNDMORE : 0)
            let rc = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            if rc >= 0 { continue }
            let error = zmq_errno()
            // Only the first frame can fail this way: ZeroMQ queues the rest of
            // a multipart message atomically once its first frame is accepted.
            if error == EAGAIN && index == 0 { return .failure(.wouldBlock) }
            if error == EHOSTUNREACH { return .failure(.unreachable) }
            return .failure(.sendFailed(String(cString: zmq_strerror(error))))
        }
        return .success(())
    }

    /// Generates a CURVE key pair as Z85 text (public, secret).
    public static func curveKeyPair() throws -> (publicKey: String, secretKey: String) {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else {
            throw ZMQError.last("zmq_curve_keypair")
        }
        return (String(cString: publicKey), String(cString: secretKey))
    }
}

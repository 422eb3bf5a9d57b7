import CZeroMQ
import Foundation
import Synchronization

/// Decides which CURVE clients may connect: the "authenticate" step of a
/// ZAP handler (RFC 27, https://rfc.zeromq.org/spec/27/).
public protocol ClientAuthorizer: Sendable {
    /// The name the client is known by (the ZAP User-Id, which every message
    /// from it then carries), or nil to refuse the handshake. `publicKey` is
    /// the client's long-term key in Z85, `address` its IP address.
    func authorize(publicKey: String, address: String) -> String?
}

/// The process's one ZAP handler. libzmq asks whatever is bound to
/// `inproc://zeromq.zap.01` in a context about every CURVE handshake on any
/// socket of that context, so there can be only one per context; each server
/// socket registers its authorizer under its own ZAP domain (ZMQ_ZAP_DOMAIN)
/// and the handler answers by domain. A handshake on a domain nobody
/// registered is refused: a CURVE server socket never accepts every key by
/// accident.
///
/// The REP socket lives on the handler's own thread, like every socket here
/// (see `SocketOwner`); only the domain table is shared, behind a mutex.
final class ZAPHandler: Sendable {
    static let shared = ZAPHandler()

    private struct State {
        var started = false
        var domains: [String: any ClientAuthorizer] = [:]
        var nextDomain = 0
    }

    private let state = Mutex(State())

    private init() {}

    /// Registers `authorizer` under a fresh domain, starting the handler on
    /// first use, and returns the domain to set on the socket.
    func register(_ authorizer: any ClientAuthorizer) throws -> String {
        try state.withLock { state in
            if !state.started {
                try Self.startThread()
                state.started = true
            }
            state.nextDomain += 1
            let domain = "copa-\(state.nextDomain)"
            state.domains[domain] = authorizer
            return domain
        }
    }

    func unregister(_ domain: String) {
        _ = state.withLock { $0.domains.removeValue(forKey: domain) }
    }

    private func authorizer(for domain: String) -> (any ClientAuthorizer)? {
        state.withLock { $0.domains[domain] }
    }

    /// Binds the handler's socket on a new thread and returns once it is bound,
    /// so no handshake can happen before the handler exists.
    private static func startThread() throws {
        let bound = DispatchSemaphore(value: 0)
        let failure = Mutex<ZMQError?>(nil)
        let thread = Thread {
            guard let socket = zmq_socket(ZMQContext.shared.handle, ZMQ_REP) else {
                failure.withLock { $0 = ZMQError.last("zmq_socket(ZAP)") }
                bound.signal()
                return
            }
            guard zmq_bind(socket, "inproc://zeromq.zap.01") == 0 else {
                failure.withLock { $0 = ZMQError.last("bind inproc://zeromq.zap.01") }
                zmq_close(socket)
                bound.signal()
                return
            }
            bound.signal()
            ZAPHandler.shared.serve(socket)
        }
        thread.name = "zmq ZAP handler"
        thread.start()
        bound.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Answers requests for the life of the process.
    private func serve(_ socket: UnsafeMutableRawPointer) {
        while true {
            guard let request = Self.receive(socket) else { continue }
            let reply = answer(request)
            for (index, frame) in reply.enumerated() {
                let flags = index < reply.count - 1 ? ZMQ_SNDMORE : 0
                _ = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            }
        }
    }

    /// The reply to one request (RFC 27: version, request id, status code,
    /// status text, user id, metadata).
    func answer(_ request: [[UInt8]]) -> [[UInt8]] {
        guard request.count >= 6 else {
            return Self.reply(requestID: request.count > 1 ? request[1] : [], status: "500", text: "malformed ZAP request")
        }
        let requestID = request[1]
        guard String(decoding: request[0], as: UTF8.self) == "1.0" else {
            return Self.reply(requestID: requestID, status: "500", text: "unsupported ZAP version")
        }
        let domain = String(decoding: request[2], as: UTF8.self)
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        guard mechanism == "CURVE", request.count == 7, request[6].count == 32 else {
            return Self.reply(requestID: requestID, status: "400", text: "only CURVE clients are accepted")
        }
        guard let authorizer = authorizer(for: domain) else {
            return Self.reply(requestID: requestID, status: "400", text: "no authorizer for this socket")
        }
        let key = CurveKey.z85(request[6])
        guard let name = authorizer.authorize(publicKey: key, address: address) else {
            return Self.reply(requestID: requestID, status: "400", text: "client key not authorized")
        }
        return Self.reply(requestID: requestID, status: "200", text: "OK", userID: name)
    }

    private static func reply(requestID: [UInt8], status: String, text: String, userID: String = "") -> [[UInt8]] {
        [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(userID.utf8), []]
    }

    private static func receive(_ socket: UnsafeMutableRawPointer) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            guard zmq_msg_recv(&message, socket, 0) >= 0 else { return nil }
            let size = zmq_msg_size(&message)
            if let data = zmq_msg_data(&message), size > 0 {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            if zmq_msg_more(&message) == 0 { return frames }
        }
    }
}

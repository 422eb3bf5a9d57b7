import CZeroMQ
import Foundation
import Protocol
import Synchronization

/// A DEALER that sends Hellos as fast as it can and never reads an answer,
/// with the smallest receive buffers libzmq allows: the client that used to
/// freeze an agent for everyone. Raw libzmq on its own thread and context,
/// because a `ClientSocket` always reads what arrives.
public final class FloodingDealer: Sendable {
    private let stopFlag = Mutex(false)
    private let sentCount = Mutex(0)
    private let finished = DispatchSemaphore(value: 0)

    public var sent: Int { sentCount.withLock { $0 } }

    public init(endpoint: String) {
        BrokenPipes.ignore()
        let thread = Thread { [self] in flood(endpoint) }
        thread.name = "flooding dealer"
        thread.start()
    }

    public func stop() {
        stopFlag.withLock { $0 = true }
        finished.wait()
    }

    private func flood(_ endpoint: String) {
        let context = zmq_ctx_new()
        let socket = zmq_socket(context, ZMQ_DEALER)
        var one: Int32 = 1
        var small: Int32 = 1024
        zmq_setsockopt(socket, ZMQ_RCVHWM, &one, MemoryLayout<Int32>.size)
        zmq_setsockopt(socket, ZMQ_RCVBUF, &small, MemoryLayout<Int32>.size)
        var linger: Int32 = 0
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        zmq_connect(socket, endpoint)
        var hello = Copa_Protocol_V1_Hello()
        hello.clientName = "flood"
        let frame = Envelope(.hello(hello)).frame()
        while !stopFlag.withLock({ $0 }) {
            let rc = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, ZMQ_DONTWAIT) }
            if rc >= 0 {
                sentCount.withLock { $0 += 1 }
            } else {
                usleep(1000)
            }
        }
        zmq_close(socket)
        zmq_ctx_term(context)
        finished.signal()
    }
}

/// A TCP port that accepts connections into its backlog and never answers:
/// what a registry or mirror that hangs looks like to the agent.
public final class SilentTCPPort: Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// True when some client has connected (a connection waits in the backlog).
    public var hasPendingConnection: Bool {
        var item = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&item, 1, 0) > 0
    }

    public func close() { Glibc.close(fd) }
}

import CZeroMQ
import Foundation
import Synchronization

/// One ZeroMQ socket and the dedicated thread that owns it.
///
/// ZeroMQ sockets are not thread-safe (zmq(7)) and `zmq_poll` blocks, so
/// neither may run on Swift's cooperative pool (two threads on our machines:
/// one blocked poll would halve the whole process). The raw socket therefore
/// lives only in the local variables of `run`, on one `Thread`. Other code talks
/// to it through two thread-safe channels:
/// - outgoing messages go into a mutex-protected queue, and a byte written to a
///   pipe wakes the owner's `zmq_poll` (which polls the pipe's fd beside the socket);
/// - incoming messages are yielded into an `AsyncStream`.
public final class SocketOwner: Sendable {
    /// A multipart message: one array per frame.
    public typealias Message = [[UInt8]]

    public enum Mode: Sendable {
        case bind
        case connect
    }

    /// Every message that arrives, in order. Finishes when the socket is closed.
    public let incoming: AsyncStream<Message>
    private let continuation: AsyncStream<Message>.Continuation
    private let state = Mutex(State())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private struct Outgoing {
        let frames: Message
        let done: CheckedContinuation<Void, any Error>?
    }

    private struct State {
        var queue: [Outgoing] = []
        var closed = false
        var endpoint = ""
    }

    /// The endpoint as libzmq reports it (`ZMQ_LAST_ENDPOINT`): for
    /// `tcp://127.0.0.1:0` this names the port the system chose.
    public var endpoint: String { state.withLock { $0.endpoint } }

    private init(wakeRead: Int32, wakeWrite: Int32) {
        (incoming, continuation) = AsyncStream.makeStream(of: Message.self, bufferingPolicy: .unbounded)
        self.wakeRead = wakeRead
        self.wakeWrite = wakeWrite
    }

    /// Creates the socket on its own thread and binds or connects it.
    public static func open(
        _ kind: SocketKind, _ mode: Mode, endpoint: String, options: SocketOptions = SocketOptions()
    ) async throws -> SocketOwner {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ZMQError(operation: "pipe", errno: errno) }
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        let owner = SocketOwner(wakeRead: fds[0], wakeWrite: fds[1])
        let bound: String = try await withCheckedThrowingContinuation { ready in
            let thread = Thread {
                owner.run(kind: kind, mode: mode, endpoint: endpoint, options: options, ready: ready)
            }
            thread.name = "zmq \(endpoint)"
            thread.start()
        }
        owner.state.withLock { $0.endpoint = bound }
        return owner
    }

    /// Queues a message and waits until libzmq has taken it. Throws
    /// `TransportError.unreachable` when a ROUTER has no such peer (any more).
    public func send(_ frames: Message) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            let accepted = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.queue.append(Outgoing(frames: frames, done: done))
                return true
            }
            guard accepted else {
                done.resume(throwing: TransportError.closed)
                return
            }
            wake()
        }
    }

    /// Closes the socket; pending sends fail with `TransportError.closed`.
    public func close() {
        state.withLock { $0.closed = true }
        wake()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = Foundation.write(wakeWrite, &byte, 1)
    }

    // MARK: - Owner thread

    private func run(
        kind: SocketKind, mode: Mode, endpoint: String, options: SocketOptions,
        ready: CheckedContinuation<String, any Error>
    ) {
        let socket: UnsafeMutableRawPointer
        do {
            socket = try Self.makeSocket(kind: kind, options: options)
            let rc = mode == .bind ? zmq_bind(socket, endpoint) : zmq_connect(socket, endpoint)
            if rc != 0 {
                let error = ZMQError.last(mode == .bind ? "bind \(endpoint)" : "connect \(endpoint)")
                zmq_close(socket)
                throw error
            }
        } catch {
            shutDownPipe()
            continuation.finish()
            ready.resume(throwing: error)
            return
        }
        ready.resume(returning: Self.lastEndpoint(socket) ?? endpoint)
        loop(socket)
        zmq_close(socket)
        let pending = state.withLock { state -> [Outgoing] in
            state.closed = true
            defer { state.queue.removeAll() }
            return state.queue
        }
        for item in pending { item.done?.resume(throwing: TransportError.closed) }
        shutDownPipe()
        continuation.finish()
    }

    private func loop(_ socket: UnsafeMutableRawPointer) {
        var wantWrite = false
        while true {
            var items = [
                zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN | (wantWrite ? ZMQ_POLLOUT : 0)), revents: 0),
                zmq_pollitem_t(socket: nil, fd: wakeRead, events: Int16(ZMQ_POLLIN), revents: 0),
            ]
            let rc = zmq_poll(&items, 2, wantWrite ? 100 : -1)
            if rc < 0 && zmq_errno() != EINTR { return }
            if items[1].revents & Int16(ZMQ_POLLIN) != 0 { drainWakePipe() }
            if state.withLock({ $0.closed }) { return }
            receiveAll(socket)
            wantWrite = !sendQueued(socket)
        }
    }

    private func receiveAll(_ socket: UnsafeMutableRawPointer) {
        while let message = Self.receive(socket) {
            continuation.yield(message)
        }
    }

    /// Sends what is queued. Returns false when libzmq could not take a message
    /// now (high-water mark): it stays at the head of the queue for the next POLLOUT.
    private func sendQueued(_ socket: UnsafeMutableRawPointer) -> Bool {
        while let next = state.withLock({ $0.queue.first }) {
            let result = Self.send(next.frames, on: socket)
            if case .failure(.wouldBlock) = result { return false }
            state.withLock { _ = $0.queue.removeFirst() }
            switch result {
            case .success: next.done?.resume()
            case .failure(let error): next.done?.resume(throwing: error)
            }
        }
        return true
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while Foundation.read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    private func shutDownPipe() {
        Foundation.close(wakeRead)
        Foundation.close(wakeWrite)
    }
}

/// Failures of the transport itself (as opposed to protocol errors).
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The socket was closed.
    case closed
    /// A ROUTER has no connection to the addressed peer (it went away).
    case unreachable
    /// libzmq refused a send.
    case sendFailed(String)
    case wouldBlock

    public var description: String {
        switch self {
        case .closed: "the connection is closed"
        case .unreachable: "the peer is no longer connected"
        case .sendFailed(let message): "send failed: \(message)"
        case .wouldBlock: "send would block"
        }
    }
}

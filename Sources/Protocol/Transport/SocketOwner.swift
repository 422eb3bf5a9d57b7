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

    /// One message as it arrived, with what the security handshake said of
    /// its sender: the ZAP handler's User-Id (RFC 27), when one answered.
    public struct Received: Sendable {
        public let frames: Message
        public let userID: String?
    }

    /// A ROUTER peer whose messages can no longer be delivered.
    public struct DroppedPeer: Sendable {
        public enum Reason: Sendable, Equatable {
            /// Its outbound line overflowed: it stopped reading.
            case overflow
            /// libzmq has no connection to it any more (ROUTER_MANDATORY).
            case unreachable
            /// It sent nothing for four heartbeat intervals.
            case silent
        }
        public let routingID: [UInt8]
        public let reason: Reason
    }

    /// Security handshakes that failed (a DEALER with CURVE): the agent
    /// refused the client's key, or the two sides do not agree on keys.
    /// ZeroMQ itself only retries quietly.
    public let handshakeFailures: AsyncStream<HandshakeFailure>
    private let handshakeContinuation: AsyncStream<HandshakeFailure>.Continuation

    /// Every message that arrives, in order. Finishes when the socket is
    /// closed. Messages from dropped peers are discarded on the owner thread.
    public let incoming: AsyncStream<Received>
    /// Peers given up on: dropped by the outbound queues (ROUTER), or silent
    /// past the heartbeat bound (a DEALER reports its one peer, routing id empty).
    public let droppedPeers: AsyncStream<DroppedPeer>
    private let continuation: AsyncStream<Received>.Continuation
    private let droppedContinuation: AsyncStream<DroppedPeer>.Continuation
    private let state: Mutex<State>
    /// Messages handed to `incoming` and not yet taken by its consumer.
    private let undelivered = Mutex(0)
    /// At most this many messages wait in `incoming`; beyond that the owner
    /// leaves them in ZeroMQ, whose ROUTER takes one message per peer in turn
    /// (zmq_socket(3), "fair-queued"). An unbounded handoff would instead line
    /// every peer up behind whoever sends fastest.
    static let inboundWindow = 64
    private let kind: SocketKind
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private struct State {
        var queues: OutboundQueues
        var heartbeats: Heartbeats?
        var closed = false
        var endpoint = ""
    }

    /// The endpoint as libzmq reports it (`ZMQ_LAST_ENDPOINT`): for
    /// `tcp://127.0.0.1:0` this names the port the system chose.
    public var endpoint: String { state.withLock { $0.endpoint } }

    private init(kind: SocketKind, limits: OutboundQueues.Limits?, heartbeats: Heartbeats?, wakeRead: Int32, wakeWrite: Int32) {
        (incoming, continuation) = AsyncStream.makeStream(of: Received.self, bufferingPolicy: .unbounded)
        (droppedPeers, droppedContinuation) = AsyncStream.makeStream(of: DroppedPeer.self, bufferingPolicy: .unbounded)
        (handshakeFailures, handshakeContinuation) = AsyncStream.makeStream(of: HandshakeFailure.self, bufferingPolicy: .bufferingNewest(16))
        state = Mutex(State(queues: OutboundQueues(limits: limits), heartbeats: heartbeats))
        self.kind = kind
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
        let limits = kind == .router
            ? OutboundQueues.Limits(messages: options.peerQueueMessages, bytes: options.peerQueueBytes) : nil
        let heartbeats = options.heartbeatFrame.map {
            Heartbeats(frame: $0, interval: options.heartbeatInterval, now: .now)
        }
        let owner = SocketOwner(kind: kind, limits: limits, heartbeats: heartbeats, wakeRead: fds[0], wakeWrite: fds[1])
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
    /// `TransportError.unreachable` when a ROUTER has no such peer (any more)
    /// or has dropped it.
    public func send(_ frames: Message) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            enqueue(frames, done: done)
        }
    }

    /// Queues a message without waiting for it to leave. Returns false when
    /// it will not be delivered: the socket is closed, or (ROUTER) the peer
    /// was dropped, now or earlier. A drop is also announced on `droppedPeers`.
    @discardableResult
    public func post(_ frames: Message) -> Bool {
        enqueue(frames, done: nil)
    }

    @discardableResult
    private func enqueue(_ frames: Message, done: CheckedContinuation<Void, any Error>?) -> Bool {
        let peer = destination(of: frames)
        let item = OutboundQueues.Item(frames: frames, size: frames.reduce(0) { $0 + $1.count }, done: done)
        let admission = state.withLock { state -> OutboundQueues.Admission in
            state.closed ? .refused : state.queues.enqueue(item, to: peer)
        }
        switch admission {
        case .queued:
            wake()
            return true
        case .refused:
            done?.resume(throwing: state.withLock { $0.closed } ? TransportError.closed : TransportError.unreachable)
            return false
        case .overflowed(let items):
            for failed in items + [item] { failed.done?.resume(throwing: TransportError.unreachable) }
            droppedContinuation.yield(DroppedPeer(routingID: peer, reason: .overflow))
            return false
        }
    }

    /// Starts sending heartbeats to `peer` (a ROUTER's routing id; a DEALER
    /// passes none) and watching that it sends something at least every
    /// four intervals; one that does not is announced on `droppedPeers` as
    /// `.silent` (and, on a ROUTER, dropped). `interval` replaces the socket's.
    public func watch(peer: [UInt8] = [], interval: Duration? = nil) {
        state.withLock { state in
            if let interval { state.heartbeats?.interval = interval }
            state.heartbeats?.watch(peer, now: .now)
        }
        wake()
    }

    /// Stops heartbeats to `peer` (it has no jobs any more).
    public func unwatch(peer: [UInt8] = []) {
        state.withLock { $0.heartbeats?.unwatch(peer) }
    }

    /// The consumer of `incoming` took one message: room for the next.
    public func taken() {
        let wasFull = undelivered.withLock { count -> Bool in
            defer { count -= 1 }
            return count >= Self.inboundWindow
        }
        if wasFull { wake() }
    }

    /// Drops a ROUTER peer on purpose: its queued messages fail and later
    /// ones are refused, as if its line had overflowed.
    public func drop(peer routingID: [UInt8]) {
        let items = state.withLock { $0.queues.drop(routingID) }
        for item in items { item.done?.resume(throwing: TransportError.unreachable) }
    }

    /// Closes the socket; pending sends fail with `TransportError.closed`.
    public func close() {
        state.withLock { $0.closed = true }
        wake()
    }

    private func destination(of frames: Message) -> OutboundQueues.Peer {
        kind == .router ? frames.first ?? [] : []
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
        var zapDomain: String?
        var monitor: UnsafeMutableRawPointer?
        do {
            (socket, zapDomain) = try Self.makeSocket(kind: kind, options: options)
            do {
                if kind == .dealer, case .client = options.curve { monitor = try Self.monitorHandshakes(socket) }
                let rc = mode == .bind ? zmq_bind(socket, endpoint) : zmq_connect(socket, endpoint)
                if rc != 0 { throw ZMQError.last(mode == .bind ? "bind \(endpoint)" : "connect \(endpoint)") }
            } catch {
                Self.closeSocket(socket, monitor: monitor, zapDomain: zapDomain)
                throw error
            }
        } catch {
            shutDownPipe()
            finishStreams()
            ready.resume(throwing: error)
            return
        }
        ready.resume(returning: Self.lastEndpoint(socket) ?? endpoint)
        loop(socket, monitor: monitor)
        Self.closeSocket(socket, monitor: monitor, zapDomain: zapDomain)
        let pending = state.withLock { state -> [OutboundQueues.Item] in
            state.closed = true
            return state.queues.removeAll()
        }
        for item in pending { item.done?.resume(throwing: TransportError.closed) }
        shutDownPipe()
        finishStreams()
    }

    private func finishStreams() {
        continuation.finish()
        droppedContinuation.finish()
        handshakeContinuation.finish()
    }

    private static func closeSocket(_ socket: UnsafeMutableRawPointer, monitor: UnsafeMutableRawPointer?, zapDomain: String?) {
        if let monitor {
            zmq_socket_monitor(socket, nil, 0)
            zmq_close(monitor)
        }
        zmq_close(socket)
        if let zapDomain { ZAPHandler.shared.unregister(zapDomain) }
    }

    /// How long a peer whose pipe is full waits before the next try. ZeroMQ's
    /// POLLOUT on a ROUTER means "some peer has room", which stays true while
    /// any other peer is idle, so polling for it would spin; a short timer
    /// costs one failed zmq_send per blocked peer per tick instead.
    private static let blockedRetry = Duration.milliseconds(20)

    private func loop(_ socket: UnsafeMutableRawPointer, monitor: UnsafeMutableRawPointer?) {
        let clock = ContinuousClock()
        var lastRetry = clock.now
        var anyBlocked = false
        while true {
            let canRead = undelivered.withLock { $0 < Self.inboundWindow }
            var items = [
                zmq_pollitem_t(socket: socket, fd: 0, events: canRead ? Int16(ZMQ_POLLIN) : 0, revents: 0),
                zmq_pollitem_t(socket: nil, fd: wakeRead, events: Int16(ZMQ_POLLIN), revents: 0),
                zmq_pollitem_t(socket: monitor, fd: 0, events: monitor == nil ? 0 : Int16(ZMQ_POLLIN), revents: 0),
            ]
            let beatTimeout = state.withLock { $0.heartbeats?.pollTimeout(now: clock.now) }
            let timeout = [anyBlocked ? 20 : nil, beatTimeout].compactMap { $0 }.min().map(Int.init) ?? -1
            let rc = zmq_poll(&items, monitor == nil ? 2 : 3, timeout)
            if rc < 0 && zmq_errno() != EINTR { return }
            if items[1].revents & Int16(ZMQ_POLLIN) != 0 { drainWakePipe() }
            if let monitor, items[2].revents & Int16(ZMQ_POLLIN) != 0 {
                while let failure = Self.receiveHandshakeFailure(monitor) { handshakeContinuation.yield(failure) }
            }
            if state.withLock({ $0.closed }) { return }
            receiveAll(socket)
            beat(now: clock.now)
            let retry = clock.now - lastRetry >= Self.blockedRetry
            if retry { lastRetry = clock.now }
            anyBlocked = sendQueued(socket, retryBlocked: retry)
        }
    }

    private func receiveAll(_ socket: UnsafeMutableRawPointer) {
        // Bounded by the consumer's window, and per pass, so a flood on the
        // socket can neither outrun the consumer nor starve our own sends.
        for _ in 0..<1024 {
            guard undelivered.withLock({ $0 < Self.inboundWindow }), let message = Self.receive(socket) else { return }
            let peer = kind == .router ? message.frames.first ?? [] : []
            let dropped = state.withLock { state -> Bool in
                state.heartbeats?.heard(peer, now: .now)
                return kind == .router && state.queues.isDropped(peer)
            }
            if dropped { continue }
            undelivered.withLock { $0 += 1 }
            continuation.yield(message)
        }
    }

    /// Queues the heartbeats that are due, and reports the peers that fell
    /// silent (dropping them, on a ROUTER).
    private func beat(now: ContinuousClock.Instant) {
        let reading = undelivered.withLock { $0 < Self.inboundWindow }
        let (frame, beat, silent) = state.withLock { state -> ([UInt8], [[UInt8]], [[UInt8]]) in
            guard var heartbeats = state.heartbeats else { return ([], [], []) }
            let due = heartbeats.due(now: now, reading: reading)
            state.heartbeats = heartbeats
            return (heartbeats.frame, due.beat, due.silent)
        }
        for peer in silent {
            if kind == .router { drop(peer: peer) }
            droppedContinuation.yield(DroppedPeer(routingID: peer, reason: .silent))
        }
        for peer in beat {
            _ = enqueue(kind == .router ? [peer, frame] : [frame], done: nil)
        }
    }

    /// Sends what is queued, a bounded batch per peer in turn. A peer whose
    /// pipe is full (EAGAIN) is skipped until the next retry tick; the others
    /// go on. Returns whether some peer is still blocked.
    private func sendQueued(_ socket: UnsafeMutableRawPointer, retryBlocked: Bool) -> Bool {
        var progress = true
        while progress {
            progress = false
            let peers = state.withLock { $0.queues.sendable(retryBlocked: retryBlocked) }
            for peer in peers where sendBatch(socket, to: peer) { progress = true }
        }
        return state.withLock { $0.queues.hasBlocked }
    }

    /// Sends up to 64 messages to one peer; true when it sent all it could
    /// without blocking and more may remain.
    private func sendBatch(_ socket: UnsafeMutableRawPointer, to peer: OutboundQueues.Peer) -> Bool {
        for _ in 0..<64 {
            guard let next = state.withLock({ $0.queues.first(for: peer) }) else { return false }
            switch Self.send(next.frames, on: socket) {
            case .failure(.wouldBlock):
                state.withLock { $0.queues.markBlocked(peer) }
                return false
            case .failure(.unreachable) where kind == .router:
                let items = state.withLock { $0.queues.drop(peer) }
                for item in items { item.done?.resume(throwing: TransportError.unreachable) }
                droppedContinuation.yield(DroppedPeer(routingID: peer, reason: .unreachable))
                return false
            case .failure(let error):
                _ = state.withLock { $0.queues.removeFirst(for: peer) }
                next.done?.resume(throwing: error)
            case .success:
                _ = state.withLock { $0.queues.removeFirst(for: peer) }
                next.done?.resume()
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

/// A security handshake that failed, as libzmq's monitor reports it.
public struct HandshakeFailure: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The server's ZAP handler refused the client (RFC 27 status code,
        /// 400 for a key it does not know).
        case authentication(status: Int)
        /// The peers disagree at the ZMTP/CURVE level (e.g. a wrong server key).
        case protocolError(code: Int)
        case other(errno: Int)
    }
    public let kind: Kind
    public let endpoint: String
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
    /// The socket's options do not make sense together.
    case misconfigured(String)

    public var description: String {
        switch self {
        case .closed: "the connection is closed"
        case .unreachable: "the peer is no longer connected"
        case .sendFailed(let message): "send failed: \(message)"
        case .wouldBlock: "send would block"
        case .misconfigured(let message): message
        }
    }
}

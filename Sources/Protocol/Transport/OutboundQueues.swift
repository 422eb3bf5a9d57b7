/// Outgoing messages of one socket, queued per destination peer.
///
/// A ROUTER talks to many peers through one socket. If every message waited in
/// one line, a peer that stops reading (its ZeroMQ pipe at its high-water
/// mark) would hold up every message behind the one addressed to it. Here each
/// peer has its own line with a bound: a peer whose line is full is dropped,
/// its queued messages fail, and nothing it sends afterwards is delivered.
/// A DEALER has one peer, kept under the empty key, with no bound (its sender
/// is the client itself).
///
/// Plain data: `SocketOwner` keeps it under its mutex.
struct OutboundQueues {
    typealias Peer = [UInt8]

    struct Limits: Sendable {
        /// Messages waiting for one peer beyond what ZeroMQ's own pipe holds.
        var messages: Int
        /// Bytes waiting for one peer.
        var bytes: Int
    }

    struct Item {
        let frames: [[UInt8]]
        let size: Int
        let done: CheckedContinuation<Void, any Error>?
    }

    enum Admission {
        case queued
        /// The peer was dropped just now (its line overflowed): fail these.
        case overflowed([Item])
        /// The peer was dropped earlier, or the socket is closed.
        case refused
    }

    private struct Line {
        var items: [Item] = []
        var head = 0
        var bytes = 0
        var isEmpty: Bool { head == items.count }

        mutating func popFirst() -> Item? {
            guard head < items.count else { return nil }
            let item = items[head]
            bytes -= item.size
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024, head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }
    }

    let limits: Limits?
    private var lines: [Peer: Line] = [:]
    private var blocked: Set<Peer> = []
    private var dropped: Set<Peer> = []
    private var droppedOrder: [Peer] = []
    /// Peers dropped are remembered this long so their later messages are
    /// ignored; routing ids of one ROUTER are never reused, so forgetting the
    /// oldest only costs memory bounds, not correctness.
    private static let droppedMemory = 65_536

    init(limits: Limits?) { self.limits = limits }

    var hasBlocked: Bool { !blocked.isEmpty }
    var isEmpty: Bool { lines.isEmpty }

    func isDropped(_ peer: Peer) -> Bool { dropped.contains(peer) }

    mutating func enqueue(_ item: Item, to peer: Peer) -> Admission {
        if dropped.contains(peer) { return .refused }
        var line = lines[peer] ?? Line()
        if let limits, line.items.count - line.head >= limits.messages || line.bytes + item.size > limits.bytes {
            return .overflowed(drop(peer))
        }
        line.items.append(item)
        line.bytes += item.size
        lines[peer] = line
        return .queued
    }

    /// Peers with something to send. Blocked ones (their pipe was full at the
    /// last try) are included only when `retryBlocked`.
    func sendable(retryBlocked: Bool) -> [Peer] {
        lines.keys.filter { retryBlocked || !blocked.contains($0) }
    }

    func first(for peer: Peer) -> Item? {
        guard let line = lines[peer], !line.isEmpty else { return nil }
        return line.items[line.head]
    }

    mutating func removeFirst(for peer: Peer) -> Item? {
        guard var line = lines[peer] else { return nil }
        let item = line.popFirst()
        lines[peer] = line.isEmpty ? nil : line
        blocked.remove(peer)
        return item
    }

    mutating func markBlocked(_ peer: Peer) { blocked.insert(peer) }

    /// Forgets `peer`'s line and refuses its future messages; returns what was queued.
    @discardableResult
    mutating func drop(_ peer: Peer) -> [Item] {
        var line = lines.removeValue(forKey: peer) ?? Line()
        blocked.remove(peer)
        if !peer.isEmpty, dropped.insert(peer).inserted {
            droppedOrder.append(peer)
            if droppedOrder.count > Self.droppedMemory {
                dropped.remove(droppedOrder.removeFirst())
            }
        }
        var items: [Item] = []
        while let item = line.popFirst() { items.append(item) }
        return items
    }

    /// Everything still queued, for failing at close.
    mutating func removeAll() -> [Item] {
        var items: [Item] = []
        for peer in Array(lines.keys) { items += drop(peer) }
        return items
    }
}

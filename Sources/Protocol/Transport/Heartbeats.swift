/// The protocol's heartbeats, kept by the socket's owner thread: a Heartbeat
/// envelope to each watched peer every `interval`, and a peer that has sent
/// nothing for `silentAfter` intervals reported as gone.
///
/// They live on the owner thread, not in an actor, so that a busy process
/// (both cooperative threads compressing layers, say) still beats: liveness
/// then means "the process and its network are up", which is what a peer
/// needs to know. A DEALER watches its one peer under the empty key.
///
/// Plain data: `SocketOwner` keeps it under its mutex.
struct Heartbeats {
    typealias Peer = [UInt8]

    /// The encoded Heartbeat envelope.
    let frame: [UInt8]
    var interval: Duration
    let silentAfter = 4
    /// Watched peers and when each was last heard from.
    private var watched: [Peer: ContinuousClock.Instant] = [:]
    private var nextBeat: ContinuousClock.Instant

    init(frame: [UInt8], interval: Duration, now: ContinuousClock.Instant) {
        self.frame = frame
        self.interval = interval
        nextBeat = now + interval
    }

    var isEmpty: Bool { watched.isEmpty }

    mutating func watch(_ peer: Peer, now: ContinuousClock.Instant) {
        if watched.isEmpty { nextBeat = now + interval }
        if watched[peer] == nil { watched[peer] = now }
    }

    mutating func unwatch(_ peer: Peer) { watched[peer] = nil }

    mutating func heard(_ peer: Peer, now: ContinuousClock.Instant) {
        if watched[peer] != nil { watched[peer] = now }
    }

    /// What is due at `now`: the peers to send a heartbeat to, and the peers
    /// that went silent (no longer watched). While `reading` is false (our
    /// own consumer is behind, so messages wait unread in ZeroMQ) silence
    /// cannot be told from a slow reader: every watched peer counts as heard.
    mutating func due(now: ContinuousClock.Instant, reading: Bool = true) -> (beat: [Peer], silent: [Peer]) {
        guard !watched.isEmpty, now >= nextBeat else { return ([], []) }
        nextBeat = now + interval
        if !reading {
            for peer in watched.keys { watched[peer] = now }
        }
        let bound = interval * silentAfter
        let silent = watched.filter { now - $0.value > bound }.map(\.key)
        for peer in silent { watched[peer] = nil }
        return (Array(watched.keys), silent)
    }

    /// Milliseconds until the next beat, for zmq_poll; nil when nothing is watched.
    func pollTimeout(now: ContinuousClock.Instant) -> Int32? {
        guard !watched.isEmpty else { return nil }
        let wait = nextBeat - now
        guard wait > .zero else { return 0 }
        let (seconds, attoseconds) = wait.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }
}

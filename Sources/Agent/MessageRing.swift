/// The last messages of one job, as sent, so a client that lost its
/// connection can resume without losing a line: bounded by count and bytes,
/// oldest dropped first.
struct MessageRing: Sendable {
    struct Entry: Sendable {
        let sequence: UInt64
        let frame: [UInt8]
    }

    let maxMessages: Int
    let maxBytes: Int
    private var entries: [Entry] = []
    private var head = 0
    private var bytes = 0

    init(maxMessages: Int = 2_048, maxBytes: Int = 1 << 20) {
        self.maxMessages = max(1, maxMessages)
        self.maxBytes = max(1, maxBytes)
    }

    var count: Int { entries.count - head }

    mutating func append(sequence: UInt64, frame: [UInt8]) {
        entries.append(Entry(sequence: sequence, frame: frame))
        bytes += frame.count
        // The newest message is always kept, however large.
        while count > 1, count > maxMessages || bytes > maxBytes {
            bytes -= entries[head].frame.count
            head += 1
        }
        if head > 1_024, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// The kept messages numbered above `sequence` (all, for nil), oldest
    /// first.
    func after(_ sequence: UInt64?) -> ArraySlice<Entry> {
        let kept = entries[head...]
        guard let sequence else { return kept }
        return kept.drop { $0.sequence <= sequence }
    }
}

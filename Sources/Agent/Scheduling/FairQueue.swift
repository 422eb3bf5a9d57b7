/// Waiting jobs, taken round robin by client: one client's hundred queued
/// jobs do not make the next client's single job wait behind all of them.
/// Within one client, jobs keep their arrival order.
struct FairQueue<Item> {
    private var lines: [String: [Item]] = [:]
    /// Clients with waiting items, in the order they are served next.
    private var turn: [String] = []

    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    func count(of client: String) -> Int { lines[client]?.count ?? 0 }

    /// Adds `item` for `client`; returns how many items would be taken
    /// before it if nothing else arrived (its queue position, 0-based).
    @discardableResult
    mutating func append(_ item: Item, client: String) -> Int {
        let mine = lines[client]?.count ?? 0
        if mine == 0 { turn.append(client) }
        lines[client, default: []].append(item)
        count += 1
        // Each round takes one item per client: this item goes in round
        // `mine`; before it come every client's items of earlier rounds and,
        // in its own round, those of clients whose turn comes first.
        let position = turn.firstIndex(of: client) ?? 0
        var ahead = mine
        for (index, other) in turn.enumerated() where other != client {
            let theirs = lines[other]?.count ?? 0
            ahead += min(theirs, mine) + (index < position && theirs > mine ? 1 : 0)
        }
        return ahead
    }

    /// The next item: the head of the client whose turn it is.
    mutating func next() -> Item? {
        guard !turn.isEmpty else { return nil }
        let client = turn.removeFirst()
        guard var line = lines[client], !line.isEmpty else { return next() }
        let item = line.removeFirst()
        count -= 1
        if line.isEmpty {
            lines[client] = nil
        } else {
            lines[client] = line
            turn.append(client)
        }
        return item
    }

    /// Removes and returns the items that match, of every client.
    mutating func removeAll(where matches: (Item) -> Bool) -> [Item] {
        var removed: [Item] = []
        for (client, line) in lines {
            let gone = line.filter(matches)
            guard !gone.isEmpty else { continue }
            removed += gone
            let kept = line.filter { !matches($0) }
            if kept.isEmpty {
                lines[client] = nil
                turn.removeAll { $0 == client }
            } else {
                lines[client] = kept
            }
        }
        count -= removed.count
        return removed
    }
}

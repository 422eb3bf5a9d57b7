import Foundation
import Protocol

/// The agent's record of its jobs in `WORKDIR/journal.jsonl`, so that a
/// restarted agent knows which jobs were running when it stopped, and can
/// still answer `Resume` for jobs that ended.
///
/// Append-only JSON lines, each written with one write(2) and fsync'd: a job
/// is recorded when accepted and when it ends (with its final message, the
/// Result or Failure frame, base64). At start the journal is read, jobs that
/// were accepted and never ended are recorded as ended by the restart, and the
/// file is rewritten (atomically) with the newest `keep` ended jobs. A torn
/// last line (the agent died mid-write) is skipped.
///
/// Owned by the agent actor; not shared.
struct JobJournal {
    struct Ended {
        let client: String
        let frame: [UInt8]
    }

    let path: String
    private let fd: Int32
    private(set) var ended: [String: Ended] = [:]
    private var order: [String] = []
    let keep: Int

    /// Opens (or creates) the journal; returns it and the ids of the jobs
    /// that the previous run left unfinished, with their clients.
    static func open(workdir: String, keep: Int = 1000) throws -> (JobJournal, interrupted: [(id: String, client: String)]) {
        let path = workdir + "/journal.jsonl"
        var accepted: [String: String] = [:]
        var acceptedOrder: [String] = []
        var ended: [String: Ended] = [:]
        var order: [String] = []
        if let data = FileManager.default.contents(atPath: path) {
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: String],
                      let id = object["job"], let client = object["client"], let state = object["state"] else { continue }
                switch state {
                case "accepted":
                    if accepted[id] == nil { acceptedOrder.append(id) }
                    accepted[id] = client
                case "ended":
                    guard let frame = object["final"].flatMap({ Data(base64Encoded: $0) }) else { continue }
                    accepted[id] = nil
                    if ended[id] == nil { order.append(id) }
                    ended[id] = Ended(client: client, frame: Array(frame))
                default:
                    continue
                }
            }
        }
        let interrupted = acceptedOrder.compactMap { id in accepted[id].map { (id: id, client: $0) } }
        // Rewrite with what is kept, then append from there.
        order = Array(order.suffix(keep))
        var text = ""
        for id in order {
            guard let entry = ended[id] else { continue }
            text += Self.line(id: id, client: entry.client, state: "ended", frame: entry.frame)
        }
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) else {
            throw AgentJournalError("cannot write \(temporary)")
        }
        let tmpFD = Foundation.open(temporary, O_RDONLY)
        if tmpFD >= 0 { fsync(tmpFD); Foundation.close(tmpFD) }
        guard rename(temporary, path) == 0 else { throw AgentJournalError("cannot replace \(path): \(String(cString: strerror(errno)))") }
        let fd = Foundation.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw AgentJournalError("cannot open \(path): \(String(cString: strerror(errno)))") }
        let kept = Set(order)
        return (JobJournal(path: path, fd: fd, ended: ended.filter { kept.contains($0.key) }, order: order, keep: keep), interrupted)
    }

    private init(path: String, fd: Int32, ended: [String: Ended], order: [String], keep: Int) {
        self.path = path
        self.fd = fd
        self.ended = ended
        self.order = order
        self.keep = keep
    }

    @discardableResult
    func accepted(_ id: String, client: String) -> Bool {
        append(Self.line(id: id, client: client, state: "accepted", frame: nil))
    }

    @discardableResult
    mutating func ended(_ id: String, client: String, frame: [UInt8]) -> Bool {
        let written = append(Self.line(id: id, client: client, state: "ended", frame: frame))
        if ended[id] == nil { order.append(id) }
        ended[id] = Ended(client: client, frame: frame)
        if order.count > keep * 2 {
            for old in order.prefix(order.count - keep) { ended[old] = nil }
            order.removeFirst(order.count - keep)
        }
        return written
    }

    /// One record, written whole and made durable before the agent goes on:
    /// the journal is only worth anything if it survives `kill -9`. A record
    /// that does not fit (a full disk) is cut off again, so the next one
    /// starts on a line of its own; false then (the record is lost).
    private func append(_ line: String) -> Bool {
        let bytes = Array(line.utf8)
        let end = lseek(fd, 0, SEEK_END)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            if end >= 0 { _ = ftruncate(fd, end) }
            return false
        }
        return true
    }

    private static func line(id: String, client: String, state: String, frame: [UInt8]?) -> String {
        var object = ["job": id, "client": client, "state": state]
        if let frame { object["final"] = Data(frame).base64EncodedString() }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

struct AgentJournalError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

import Foundation

/// The live view of `--progress auto` on a terminal: one line per job
/// (its label, agent, current step and how far it got), redrawn in place at
/// the bottom of stderr; other lines (warnings, notes) are printed above it.
/// Redraws are throttled to ten a second, except when a step changes.
final class LiveBoard: @unchecked Sendable {
    struct Line {
        var agent = ""
        var step = "waiting"
        var progress = ""
        var done: String?
    }

    private let lock = NSLock()
    private var order: [String] = []
    private var lines: [String: Line] = [:]
    private var drawn = 0
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private let width: Int

    /// A board when stderr is a terminal, else nil (plain lines then).
    static func forTerminal() -> LiveBoard? {
        guard isatty(STDERR_FILENO) == 1, ProcessInfo.processInfo.environment["TERM"] != "dumb" else { return nil }
        var size = winsize()
        let columns = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 100
        return LiveBoard(width: columns)
    }

    init(width: Int) {
        self.width = max(40, width)
    }

    func update(_ key: String, force: Bool = false, _ change: (inout Line) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        if lines[key] == nil { order.append(key) }
        var line = lines[key] ?? Line()
        change(&line)
        lines[key] = line
        let now = ContinuousClock.now
        guard force || now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = now
        write(erase() + render())
    }

    /// Prints `text` above the board.
    func printAbove(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        write(erase() + text + "\n" + render())
    }

    /// Writes `text` to stdout (the result table), with the board erased
    /// meanwhile: both may be the same terminal.
    func printStdout(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        write(erase())
        FileHandle.standardOutput.write(Data(text.utf8))
        write(render())
    }

    private func erase() -> String {
        guard drawn > 0 else { return "" }
        defer { drawn = 0 }
        return "\r\u{1B}[\(drawn)A\u{1B}[J"
    }

    private func render() -> String {
        drawn = order.count
        return order.map { key in
            let line = lines[key] ?? Line()
            var text = "[\(key)]"
            if !line.agent.isEmpty { text += " on \(line.agent)" }
            if let done = line.done {
                text += " \(done)"
            } else {
                text += " \(line.step)" + (line.progress.isEmpty ? "" : " \(line.progress)")
            }
            return String(text.prefix(width - 1)) + "\n"
        }.joined()
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func amount(_ current: UInt64, _ total: UInt64, unit: String) -> String {
        func bytes(_ value: UInt64) -> String {
            let mib = Double(value) / 1_048_576
            return mib >= 1 ? String(format: "%.1f MiB", mib) : String(format: "%.0f KiB", Double(value) / 1024)
        }
        switch unit {
        case "bytes": return total > 0 ? "\(bytes(current)) of \(bytes(total))" : bytes(current)
        default: return total > 0 ? "\(current)/\(total) \(unit)" : "\(current) \(unit)"
        }
    }
}

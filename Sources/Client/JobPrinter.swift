import CopaCore
import Foundation
import Protocol

/// Shows a job's progress on stderr and its result on stdout.
///
/// `plain` prints one line per step and log line; `auto` does so too
/// unless stderr is a terminal, where each job gets one live line redrawn in
/// place (`LiveBoard`); `json` prints each message as one JSON object per
/// line, for machines, and nothing else.
struct JobPrinter: Sendable {
    let mode: ProgressMode
    /// Names the job in every line when several run at once (its platform).
    var label: String?
    let board: LiveBoard?

    init(mode: ProgressMode, label: String? = nil) {
        self.mode = mode
        self.label = label
        board = mode == .auto ? LiveBoard.forTerminal() : nil
    }

    private init(mode: ProgressMode, label: String?, board: LiveBoard?) {
        self.mode = mode
        self.label = label
        self.board = board
    }

    func labelled(_ label: String) -> JobPrinter { JobPrinter(mode: mode, label: label, board: board) }

    private var key: String { label ?? "job" }

    private func err(_ line: String) {
        let text = label.map { "[\($0)] " + line } ?? line
        if let board {
            board.printAbove(text)
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// Where the job runs (several agents): a line of its own, or on its live line.
    func placed(on agent: String, endpoint: String) {
        if let board {
            board.update(key, force: true) { $0.agent = agent }
        } else {
            note("runs on agent \(agent) (\(endpoint))")
        }
    }

    /// A line of the command's own (not of a job): a warning, a plan.
    func note(_ line: String) {
        if mode == .json {
            emitJSON(["type": "note", "message": line])
        } else {
            err(line)
        }
    }

    func reportSummary(_ parsed: ParsedReport, source: String) {
        guard mode != .json else { return }
        let manifest = parsed.manifest
        var line = "report \(source): \(manifest.os.family) \(manifest.os.version), \(manifest.updates.count) package update(s)"
        if !parsed.skipped.isEmpty {
            line += ", \(parsed.skipped.count) vulnerabilit\(parsed.skipped.count == 1 ? "y" : "ies") without a fixed version skipped"
        }
        err(line)
    }

    func connected(_ welcome: Copa_Protocol_V1_Welcome, endpoint: String) {
        guard mode != .json else {
            emitJSON(["type": "welcome", "agent": welcome.agentName, "endpoint": endpoint])
            return
        }
        let executors = welcome.executors.map(\.name).joined(separator: ",")
        err("agent \(welcome.agentName) (\(endpoint)): executors \(executors), \(welcome.runningJobs)/\(welcome.maxJobs) jobs running")
    }

    func accepted(_ accepted: Copa_Protocol_V1_Accepted) {
        if mode == .json {
            emitJSON(["type": "accepted", "job": accepted.jobID, "queuePosition": Int(accepted.queuePosition)])
        } else if accepted.queuePosition > 0 {
            err("job queued at position \(accepted.queuePosition)")
        }
    }

    func event(_ event: Copa_Protocol_V1_Event) {
        switch event.kind {
        case .log(let log):
            if mode == .json {
                emitJSON(["type": "log", "seq": Int(event.sequence), "level": "\(log.level)", "message": log.message])
            } else if let board {
                // The live line shows where the job is; only warnings and errors stay on the screen.
                if log.level == .warning || log.level == .error { err("\(log.level): \(log.message)") }
                else if log.level == .info { board.update(key) { $0.progress = String(log.message.prefix(60)) } }
            } else if log.level != .debug {
                err(log.level == .warning ? "warning: \(log.message)" : log.message)
            }
        case .step(let step):
            if mode == .json {
                emitJSON(["type": "step", "seq": Int(event.sequence), "name": step.name, "state": "\(step.state)", "detail": step.detail, "timeUnixNano": Int(event.timeUnixNano)])
            } else if let board {
                if step.state == .failed { err("[\(step.name)] failed: \(step.detail)") }
                board.update(key, force: true) {
                    $0.step = step.state == .started ? step.name : "\(step.name) \(String(describing: step.state).lowercased())"
                    $0.progress = ""
                }
            } else if step.state != .started {
                err("[\(step.name)] \(String(describing: step.state).lowercased())\(step.detail.isEmpty ? "" : ": \(step.detail)")")
            }
        case .progress(let progress):
            if mode == .json {
                emitJSON(["type": "progress", "seq": Int(event.sequence), "step": progress.step,
                          "current": Int(progress.current), "total": Int(progress.total), "unit": progress.unit])
            } else if let board {
                board.update(key) { $0.progress = LiveBoard.amount(progress.current, progress.total, unit: progress.unit) }
            }
        case nil:
            break
        }
    }

    func reconnecting(_ endpoint: String, after sequence: UInt64?) {
        let from = sequence.map { "after message \($0)" } ?? "from its start"
        if mode == .json {
            emitJSON(["type": "reconnect", "endpoint": endpoint, "afterSeq": sequence.map { Int($0) } ?? -1])
        } else {
            err("warning: the agent at \(endpoint) fell silent; reconnecting to resume the job \(from)")
        }
    }

    func missed(from: UInt64, through: UInt64) {
        if mode == .json {
            emitJSON(["type": "missed", "fromSeq": Int(from), "throughSeq": Int(through)])
        } else {
            err("warning: \(through - from + 1) message(s) of the job were no longer kept by the agent and are lost")
        }
    }

    func failure(_ failure: Copa_Protocol_V1_Failure) {
        if mode == .json {
            emitJSON(["type": "failure", "job": failure.jobID, "code": "\(failure.code)", "message": failure.message])
        } else {
            board?.update(key, force: true) { $0.done = "failed [\(failure.code)]" }
            err("error: \(failure.message) [\(failure.code)]")
        }
    }

    /// An error of the command's own; in JSON mode a JSON line only.
    func error(_ message: String) {
        if mode == .json {
            emitJSON(["type": "error", "message": message])
        } else {
            err("error: \(message)")
        }
    }

    func result(_ result: Copa_Protocol_V1_Result, final: Bool = true) {
        if mode == .json {
            var object: [String: Any] = ["type": "result", "job": result.jobID, "seq": Int(result.sequence),
                                         "image": result.image, "digest": result.manifest.digest]
            if !result.platform.architecture.isEmpty { object["platform"] = Platform(wire: result.platform).description }
            emitJSON(object)
        }
        board?.update(key, force: true) { $0.done = "done \(result.manifest.digest)" }
        for warning in result.warnings {
            err("warning: \(warning.package): \(warning.message)")
        }
        var out = ""
        if let label, !result.packages.isEmpty { out += "\(label):\n" }
        var rows = [["PACKAGE", "FROM", "TO", "OUTCOME"]]
        for package in result.packages {
            rows.append([package.name, package.fromVersion, package.toVersion,
                         Self.outcomeName(package.outcome) + (package.message.isEmpty ? "" : " (\(package.message))")])
        }
        out += TextTable.render(rows)
        if final {
            out += "patched: \(result.image)\ndigest: \(result.manifest.digest)\n"
        }
        if let board { board.printStdout(out) } else { FileHandle.standardOutput.write(Data(out.utf8)) }
    }

    static func outcomeName(_ outcome: Copa_Protocol_V1_PackageOutcome.Outcome) -> String {
        switch outcome {
        case .updated: "updated"
        case .added: "added (dependency)"
        case .alreadyFixed: "already fixed"
        case .errored: "ERROR"
        case .notInstalled: "not installed"
        case .UNRECOGNIZED(let value): "unknown(\(value))"
        }
    }

    private func emitJSON(_ object: [String: Any]) {
        var object = object
        if let label { object["platform"] = object["platform"] ?? label }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}

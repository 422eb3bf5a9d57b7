import BuildKitAPI
import Foundation

/// Turns BuildKit's status stream into the job's events: a vertex starting or
/// completing becomes a step, its output becomes log lines (whole lines,
/// prefixed with the vertex name), and pull/push progress becomes progress.
actor BuildKitProgress {
    private let reporter: any PatchReporter
    private var names: [String: String] = [:]
    private var started: Set<String> = []
    private var completed: Set<String> = []
    private var partialLines: [String: [UInt8]] = [:]
    /// The last few lines of output per vertex, quoted when it fails.
    private var tails: [String: [String]] = [:]
    /// The last vertex that failed, and why.
    private var failure: (vertex: String, message: String)?

    init(reporter: any PatchReporter) { self.reporter = reporter }

    func handle(_ status: Moby_Buildkit_V1_StatusResponse) async {
        for vertex in status.vertexes {
            let name = vertex.name.isEmpty ? vertex.digest : vertex.name
            names[vertex.digest] = name
            if vertex.hasStarted, started.insert(vertex.digest).inserted {
                await reporter.step(name, .started, detail: vertex.cached ? "cached" : "")
            }
            if vertex.hasCompleted, completed.insert(vertex.digest).inserted {
                await flush(vertex.digest)
                if vertex.error.isEmpty {
                    await reporter.step(name, .completed, detail: vertex.cached ? "cached" : "")
                } else {
                    // "process \"/bin/sh -c <script> ...\" did not complete
                    // successfully: exit code: 1": the vertex name says which.
                    let reason = vertex.error.range(of: "did not complete successfully")
                        .map { String(vertex.error[$0.lowerBound...]) } ?? vertex.error
                    failure = (vertex.digest, "\(name): \(reason)")
                    await reporter.step(name, .failed, detail: vertex.error)
                }
            }
        }
        for log in status.logs {
            var pending = partialLines[log.vertex, default: []] + log.msg
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                await emit(log.vertex, Array(pending[..<newline]))
                pending.removeSubrange(...newline)
            }
            partialLines[log.vertex] = pending
        }
        for progress in status.statuses where progress.total > 0 || progress.current > 0 {
            let vertex = names[progress.vertex] ?? progress.vertex
            let unit = progress.id.hasPrefix("sha256:") || progress.name.contains("pushing") ? "bytes" : ""
            await reporter.progress(step: "\(vertex): \(progress.name.isEmpty ? progress.id : progress.name)",
                                    current: UInt64(max(0, progress.current)), total: UInt64(max(0, progress.total)), unit: unit)
        }
        for warning in status.warnings {
            let vertex = names[warning.vertex] ?? warning.vertex
            await reporter.log(.warning, "[\(vertex)] \(String(decoding: warning.short, as: UTF8.self))")
        }
    }

    /// The vertex that failed and its last lines of output, for the error
    /// message; nil when no vertex failed.
    func failureReport() -> String? {
        guard let failure else { return nil }
        let tail = tails[failure.vertex] ?? []
        return failure.message + (tail.isEmpty ? "" : "\n" + tail.suffix(10).map { "  | " + $0 }.joined(separator: "\n"))
    }

    private func flush(_ vertex: String) async {
        if let rest = partialLines.removeValue(forKey: vertex), !rest.isEmpty { await emit(vertex, rest) }
    }

    private func emit(_ vertex: String, _ bytes: [UInt8]) async {
        var line = String(decoding: bytes, as: UTF8.self)
        if line.hasSuffix("\r") { line.removeLast() }
        let name = names[vertex] ?? vertex
        var tail = tails[vertex, default: []]
        tail.append(line)
        if tail.count > 20 { tail.removeFirst(tail.count - 20) }
        tails[vertex] = tail
        await reporter.log(.info, "[\(name)] \(line)")
    }
}

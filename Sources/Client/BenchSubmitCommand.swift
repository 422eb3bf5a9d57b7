import ArgumentParser
import Foundation
import Protocol

/// `copa bench-submit`: the Submit → Accepted latency of an agent, for
/// scripts/bench-fleet. Submits `--count` jobs one after another, each for
/// an image that is not there (the agent accepts it, then fails it at its
/// first step), and prints the latency percentiles in milliseconds.
struct BenchSubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-submit",
        abstract: "Measure an agent's Submit → Accepted latency (for scripts/bench-fleet).",
        shouldDisplay: false)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Jobs to submit, one at a time.")
    var count = 200

    @Option(help: "An image the agent's policy lets it read and that does not exist (e.g. oci:missing:1).")
    var image = "oci:copa-bench-missing:1"

    func run() async throws {
        guard let target = try connection.targets().first else { throw ValidationError("bench-submit needs --agent") }
        let session = try await AgentSession(endpoint: target.endpoint, options: target.options)
        defer { Task { await session.close() } }
        _ = try await session.hello()
        var latencies: [Double] = []
        for index in 0..<max(1, count) {
            var submit = Copa_Protocol_V1_Submit()
            submit.jobID = "bench-\(index)-\(UUID().uuidString.prefix(8))"
            submit.image = image
            submit.target = image + "-patched"
            submit.manifest.osFamily = "debian"
            let sent = ContinuousClock.now
            var accepted: Duration?
            for try await update in try await session.submit(submit) {
                if case .accepted = update, accepted == nil { accepted = ContinuousClock.now - sent }
            }
            if let accepted { latencies.append(accepted.seconds * 1000) }
        }
        latencies.sort()
        let percentile = { (p: Double) in latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)] }
        guard !latencies.isEmpty else { throw ValidationError("no job was accepted") }
        print(String(format: "submit->accepted ms: n=%d p50=%.3f p90=%.3f p99=%.3f max=%.3f",
                     latencies.count, percentile(0.5), percentile(0.9), percentile(0.99), latencies.last ?? 0))
    }
}

import ArgumentParser
import CopaCore
import Foundation
import Protocol

/// Asks an agent who it is: its executors (with BuildKit's version and
/// platforms), the platforms it patches, and how busy it is.
struct AgentInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-info",
        abstract: "Show an agent's executors, platforms and load.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let targets: [ConnectionOptions.Target]
        let selector: LabelSelector?
        do {
            targets = try connection.targets()
            selector = try connection.labelSelector()
            guard !targets.isEmpty else { throw ValidationError("agent-info needs --agent or --agents") }
        } catch {
            printError("\(error)")
            throw ExitCode(ExitCodes.invalidInput)
        }
        var unreachable = 0
        var matched: [(endpoint: String, welcome: Copa_Protocol_V1_Welcome, labels: String)] = []
        for target in targets {
            let welcome: Copa_Protocol_V1_Welcome
            do {
                let session = try await AgentSession(endpoint: target.endpoint, options: target.options)
                do {
                    welcome = try await session.hello()
                } catch {
                    await session.close()
                    throw error
                }
                await session.close()
            } catch {
                printError("\(error)")
                unreachable += 1
                continue
            }
            let labels = target.labels.merging(welcome.labels) { $1 }
            if let selector, !selector.matches(labels) { continue }
            matched.append((target.endpoint, welcome,
                            labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")))
        }
        if matched.count == 1, let (_, welcome, labels) = matched.first {
            print("agent: \(welcome.agentName) \(welcome.agentVersion) (protocol v\(welcome.protocolVersion))")
            print("client: \(welcome.clientIdentity.isEmpty ? "unauthenticated (no CURVE client keys on this agent)" : welcome.clientIdentity)")
            print("jobs: \(welcome.runningJobs) running, \(welcome.queuedJobs) queued, at most \(welcome.maxJobs) at once")
            if !labels.isEmpty { print("labels: \(labels)") }
            for executor in welcome.executors {
                let platforms = executor.platforms.map { Platform(wire: $0).description }.joined(separator: ", ")
                print("executor \(executor.name): \(executor.version); \(platforms)")
            }
        } else if !matched.isEmpty {
            // Several agents: one row each.
            var rows = [["ENDPOINT", "AGENT", "JOBS", "LABELS", "EXECUTORS", "PLATFORMS"]]
            for (endpoint, welcome, labels) in matched {
                rows.append([endpoint, "\(welcome.agentName) \(welcome.agentVersion)",
                             "\(welcome.runningJobs) running, \(welcome.queuedJobs) queued, max \(welcome.maxJobs)",
                             labels.isEmpty ? "-" : labels, welcome.executors.map(\.name).joined(separator: ","),
                             welcome.platforms.map { Platform(wire: $0).description }.joined(separator: ",")])
            }
            print(TextTable.render(rows), terminator: "")
        }
        if unreachable == targets.count { throw ExitCode(ExitCodes.agentUnreachable) }
        if matched.isEmpty, let selector {
            printError("no agent matches the selector '\(selector)'")
            throw ExitCode(ExitCodes.invalidInput)
        }
    }
}

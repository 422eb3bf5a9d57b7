import Agent
import ArgumentParser
import Engine
import Foundation
import Protocol

/// Asks an agent who it is: its executors (with BuildKit's version and
/// platforms), the platforms it patches, and how busy it is.
struct AgentInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-info",
        abstract: "Show an agent's executors, platforms and load.")

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if connection.agent == nil { throw ValidationError("agent-info needs --agent") }
    }

    func run() async throws {
        let agent = connection.agent ?? ""
        let options = try connection.socketOptions()
        let welcome: Copa_Protocol_V1_Welcome
        do {
            let session = try await AgentSession(endpoint: agent, options: options)
            do {
                welcome = try await session.hello()
            } catch {
                await session.close()
                throw error
            }
            await session.close()
        } catch {
            printError("\(error)")
            throw ExitCode(ExitCodes.agentUnreachable)
        }
        print("agent: \(welcome.agentName) \(welcome.agentVersion) (protocol v\(welcome.protocolVersion))")
        print("client: \(welcome.clientIdentity.isEmpty ? "unauthenticated (no CURVE client keys on this agent)" : welcome.clientIdentity)")
        print("jobs: \(welcome.runningJobs) running, \(welcome.queuedJobs) queued, at most \(welcome.maxJobs) at once")
        for executor in welcome.executors {
            let platforms = executor.platforms.map { Platform(wire: $0).description }.joined(separator: ", ")
            print("executor \(executor.name): \(executor.version); \(platforms)")
        }
    }
}

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

    @Option(help: "Agent endpoint (tcp://HOST:PORT, ipc://PATH).")
    var agent: String

    @Option(help: "The agent's CURVE public key (Z85), to encrypt the connection.")
    var agentKey: String?

    func run() async throws {
        var options = SocketOptions()
        if let agentKey {
            let pair = try SocketOwner.curveKeyPair()
            options.curve = .client(serverPublicKey: agentKey, publicKey: pair.publicKey, secretKey: pair.secretKey)
        }
        let session = try await AgentSession(endpoint: agent, options: options)
        let welcome: Copa_Protocol_V1_Welcome
        do {
            welcome = try await session.hello()
        } catch {
            await session.close()
            throw error
        }
        await session.close()
        print("agent: \(welcome.agentName) \(welcome.agentVersion) (protocol v\(welcome.protocolVersion))")
        print("jobs: \(welcome.runningJobs) running, \(welcome.queuedJobs) queued, at most \(welcome.maxJobs) at once")
        for executor in welcome.executors {
            let platforms = executor.platforms.map { Platform(wire: $0).description }.joined(separator: ", ")
            print("executor \(executor.name): \(executor.version); \(platforms)")
        }
    }
}

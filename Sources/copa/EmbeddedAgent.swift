import Agent
import Client
import Engine
import Foundation
import Logging
import Protocol

/// The agent `copa` runs in-process when no `--agent` is given. It is the
/// same `Agent` a remote `copa-agent serve` runs, reached over `inproc://`
/// through the same protocol code, so the embedded path tests the real one.
/// It lives in the executable: the Client module knows no engine.
enum EmbeddedAgent {
    static func start(workdir: String, logger: Logger) async throws -> (endpoint: String, socket: AgentSocket) {
        let endpoint = "inproc://copa-embedded-\(UUID().uuidString)"
        let socket = try await AgentSocket.bind(endpoint)
        let executor = try NativeExecutor(workdir: workdir, logger: logger)
        var configuration = AgentConfiguration(name: "embedded", maxJobs: 2, workdir: workdir)
        // It acts for the user running copa, with that user's files and
        // credentials: nothing to confine.
        configuration.policy = .unrestricted
        let agent = Agent(configuration: configuration, executors: [executor], logger: logger)
        Task { await agent.serve(socket) }
        return (endpoint, socket)
    }
}

import Agent
import Engine
import Foundation
import Logging
import Protocol

/// The agent the client runs in-process when no `--agent` is given. It is the
/// same `Agent` a remote `copa-agent serve` runs, reached over `inproc://`
/// through the same protocol code, so the embedded path tests the real one.
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

    static func defaultWorkdir() -> String {
        if let cache = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"], !cache.isEmpty {
            return cache + "/copa"
        }
        return NSHomeDirectory() + "/.cache/copa"
    }
}

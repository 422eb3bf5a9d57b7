import Foundation
import Logging
import Protocol

/// How `copa` starts the agent it embeds when no `--agent` is given. The
/// `copa` executable sets it (with the engine); the Client module itself
/// has no engine, so a program built on it alone needs `--agent`.
public enum EmbeddedAgentHook {
    public typealias Start = @Sendable (_ workdir: String, _ logger: Logger) async throws -> (endpoint: String, socket: AgentSocket)

    nonisolated(unsafe) public static var start: Start?

    /// The embedded agent's working directory: `$XDG_CACHE_HOME/copa`, else `~/.cache/copa`.
    public static func defaultWorkdir() -> String {
        if let cache = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"], !cache.isEmpty {
            return cache + "/copa"
        }
        return NSHomeDirectory() + "/.cache/copa"
    }
}

struct NoEmbeddedAgent: Error, CustomStringConvertible {
    var description: String { "this program embeds no agent: give --agent ENDPOINT" }
}

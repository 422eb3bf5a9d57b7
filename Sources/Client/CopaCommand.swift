import ArgumentParser

/// `copa`: the client. It reads scanner reports locally and hands the work to
/// an agent: a remote `copa-agent` with `--agent`, else one embedded in-process.
public struct CopaCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "copa",
        abstract: "Patch OS-package vulnerabilities in container images from a scanner report.",
        version: AgentVersionInfo.client,
        subcommands: [PatchCommand.self, ManifestCommand.self, AgentInfoCommand.self, KeygenCommand.self, BenchSubmitCommand.self]
    )

    public init() {}
}

/// Exit codes of `copa` (documented in README.md).
public enum ExitCodes {
    /// The patch failed (package, registry, verification, validation...).
    public static let patchFailed: Int32 = 1
    /// The report or an option is unusable.
    public static let invalidInput: Int32 = 3
    /// The agent could not be reached or did not speak our protocol.
    public static let agentUnreachable: Int32 = 4
    /// The job was cancelled or timed out.
    public static let cancelled: Int32 = 5
    /// Interrupted (SIGINT); the job was cancelled on the agent.
    public static let interrupted: Int32 = 130
}

import Engine

public struct AgentConfiguration: Sendable {
    /// Shown to clients in Welcome.
    public var name: String
    /// Advertised in Welcome; clients select agents by them (`--selector`).
    public var labels: [String: String] = [:]
    /// Jobs run at once; more are queued in arrival order.
    public var maxJobs: Int
    /// Scratch space for downloaded blobs and packages.
    public var workdir: String
    /// Applied when a job does not ask for its own timeout.
    public var defaultTimeout: Duration

    /// What one request may ask for.
    public var limits: AgentLimits
    /// What clients may ask for. The default confines nothing: right for the
    /// embedded agent, which acts for its own user; `copa-agent serve` uses
    /// `AgentPolicy.remoteDefault` or the `--policy` file.
    public var policy: AgentPolicy = .unrestricted
    /// Keep a job journal in `workdir` (see `JobJournal`) and treat the
    /// workdir's job scratch as the agent's own: left-overs are removed at
    /// start. For `copa-agent serve`, which owns its workdir; not for the
    /// embedded agent, whose cache several `copa` processes may share.
    public var journal = false
    /// Bound on the blob cache in `workdir/cache`: after each job the least
    /// recently used blobs are removed down to it (never one a running job
    /// used). Nil = unbounded.
    public var cacheMaxBytes: Int64?
    /// Where job counts, durations and refusals are recorded, if anywhere.
    public var metrics: AgentMetrics?
    /// Hosts of the agent's own `--apt-mirror`: jobs may always name them.
    public var mirrorHosts: [String] = []
    /// How long a stopped job's executor may take to return before its slot
    /// is freed without it.
    public var cancelGrace: Duration = .seconds(10)

    /// How long a job whose client went away (disconnected, silent, or
    /// behind on its messages) goes on waiting for a Resume on a new
    /// connection before it is cancelled. Zero: cancelled at once (the
    /// embedded agent, whose client is its own process).
    public var resumeWindow: Duration = .zero
    /// Bound on the messages of one job kept for a Resume.
    public var resumeMessages = 2_048
    public var resumeBytes = 1 << 20

    public init(name: String, maxJobs: Int = 2, workdir: String, defaultTimeout: Duration = .seconds(1800),
                limits: AgentLimits = AgentLimits()) {
        self.name = name
        self.maxJobs = max(1, maxJobs)
        self.workdir = workdir
        self.defaultTimeout = defaultTimeout
        self.limits = limits
    }
}

public enum AgentVersion {
    public static let current = "0.1.0"
}

import Engine

public struct AgentConfiguration: Sendable {
    /// Shown to clients in Welcome.
    public var name: String
    /// Jobs run at once; more are queued in arrival order.
    public var maxJobs: Int
    /// Scratch space for downloaded blobs and packages.
    public var workdir: String
    /// Applied when a job does not ask for its own timeout.
    public var defaultTimeout: Duration

    public init(name: String, maxJobs: Int = 2, workdir: String, defaultTimeout: Duration = .seconds(1800)) {
        self.name = name
        self.maxJobs = max(1, maxJobs)
        self.workdir = workdir
        self.defaultTimeout = defaultTimeout
    }
}

public enum AgentVersion {
    public static let current = "0.1.0"
}

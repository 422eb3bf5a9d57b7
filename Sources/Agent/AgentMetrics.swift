import Engine
import Prometheus
import Synchronization

/// What `copa-agent serve --metrics-listen` exports (Prometheus text format).
/// The collectors are thread-safe; the agent actor updates them as jobs move.
public final class AgentMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let running: Gauge
    private let queued: Gauge
    private let clients: Gauge
    private let accepted: Counter
    private let durations: DurationHistogram
    private let registryFetched: Counter
    private let repositoryFetched: Counter
    private let registryPushed: Counter
    /// The transfer totals already added to the counters.
    private let exported = Mutex(TransferCounters.Totals())
    private let transfers: TransferCounters

    public init(transfers: TransferCounters = .shared) {
        self.transfers = transfers
        running = registry.makeGauge(name: "copa_agent_jobs_running", help: "Jobs holding a slot now.")
        queued = registry.makeGauge(name: "copa_agent_jobs_queued", help: "Jobs waiting for a slot.")
        clients = registry.makeGauge(name: "copa_agent_clients", help: "Connections with jobs on this agent.")
        accepted = registry.makeCounter(name: "copa_agent_jobs_accepted_total", help: "Jobs accepted (past the limits and the policy).")
        durations = registry.makeDurationHistogram(
            name: "copa_agent_job_duration_seconds",
            buckets: [.seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300), .seconds(900), .seconds(3600)],
            help: "Time from acceptance to the job's Result or Failure.")
        registryFetched = registry.makeCounter(name: "copa_agent_fetched_bytes_total", labels: [("from", "registry")],
                                               help: "Bytes downloaded, by where from.")
        repositoryFetched = registry.makeCounter(name: "copa_agent_fetched_bytes_total", labels: [("from", "repository")],
                                                 help: "Bytes downloaded, by where from.")
        registryPushed = registry.makeCounter(name: "copa_agent_pushed_bytes_total", help: "Bytes uploaded to registries.")
    }

    func jobAccepted() { accepted.increment() }

    /// `outcome` is `succeeded` or the Failure's error code (`cancelled`, `io`...).
    func jobEnded(outcome: String, after duration: Duration?) {
        registry.makeCounter(name: "copa_agent_jobs_total", labels: [("outcome", outcome)],
                             help: "Jobs ended, by outcome.").increment()
        if let duration { durations.record(duration) }
    }

    func refused(rule: String) {
        registry.makeCounter(name: "copa_agent_refusals_total", labels: [("rule", rule)],
                             help: "Requests refused by the limits or the policy, by rule.").increment()
    }

    func load(running: Int, queued: Int, clients: Int) {
        self.running.set(Double(running))
        self.queued.set(Double(queued))
        self.clients.set(Double(clients))
    }

    /// The export, as served on /metrics: the transfer counters are brought
    /// up to date first.
    public func text() -> String {
        let now = transfers.current
        let before = exported.withLock { last in
            defer { last = now }
            return last
        }
        registryFetched.increment(by: Int64(clamping: now.registryFetched &- before.registryFetched))
        repositoryFetched.increment(by: Int64(clamping: now.repositoryFetched &- before.repositoryFetched))
        registryPushed.increment(by: Int64(clamping: now.registryPushed &- before.registryPushed))
        return registry.emitToString()
    }
}

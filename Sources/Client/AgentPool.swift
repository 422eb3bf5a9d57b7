import CopaCore
import Foundation
import Protocol

/// The agents one command drives, and where each of its jobs goes: among
/// the agents that match the selector and can patch the job's platform (with
/// BuildKit natively, when `--executor buildkit`), the least loaded —
/// running and queued jobs, plus those this command placed there, over its
/// `max_jobs` — ties going to the agent listed first. An agent that was lost
/// (died, partitioned) gets no more jobs.
actor AgentPool {
    let connections: [AgentConnection]
    private var placed: [Int]
    private var lost: Set<Int> = []

    init(_ connections: [AgentConnection]) {
        self.connections = connections
        placed = Array(repeating: 0, count: connections.count)
    }

    enum ConnectError: Error {
        /// No agent answered (exit 4).
        case noneReachable
        /// Agents answered, none matches the selector (exit 3).
        case noneSelected(String)
    }

    /// Connects to every target at once (none: the embedded agent), then
    /// keeps those the selector matches. Unreachable agents are reported and
    /// left out.
    static func connect(_ targets: [ConnectionOptions.Target], selector: LabelSelector?, runner: JobRunner,
                        workdir: String) async throws(ConnectError) -> AgentPool {
        let wanted: [ConnectionOptions.Target?] = targets.isEmpty ? [nil] : targets.map { $0 }
        let connected = await withTaskGroup(of: (Int, AgentConnection?).self) { group in
            for (position, target) in wanted.enumerated() {
                group.addTask {
                    (position, await runner.connect(agent: target?.endpoint, options: target?.options ?? SocketOptions(),
                                                    workdir: workdir, labels: target?.labels ?? [:]))
                }
            }
            var all: [(Int, AgentConnection?)] = []
            for await result in group { all.append(result) }
            return all.sorted { $0.0 < $1.0 }.compactMap(\.1)
        }
        guard !connected.isEmpty else { throw .noneReachable }
        if connected.count < wanted.count {
            runner.printer.note("going on with the \(connected.count) of \(wanted.count) agents that answered")
        }
        guard let selector else { return AgentPool(connected) }
        let selected = connected.filter { selector.matches($0.labels) }
        guard !selected.isEmpty else {
            let seen = connected.map { connection in
                "\(connection.name) {\(connection.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))}"
            }
            throw .noneSelected("no agent matches the selector '\(selector)' (agents: \(seen.joined(separator: "; ")))")
        }
        for connection in connected where !selector.matches(connection.labels) {
            await connection.close()
        }
        return AgentPool(selected)
    }

    /// Where a job for `platform` goes, once an agent that patches it has a
    /// free slot (this command never puts more jobs on an agent than its
    /// `max_jobs`); nil when no agent left patches it.
    func acquire(_ platform: Platform?, executor: String) async -> AgentConnection? {
        while canPatch(platform, executor: executor) {
            if let placed = place(platform, executor: executor, withinCapacity: true) { return placed }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    func isLost(_ connection: AgentConnection) -> Bool {
        connections.firstIndex { $0.endpoint == connection.endpoint }.map(lost.contains) ?? true
    }

    /// Where a job for `platform` goes now, or nil when no agent left
    /// patches it (or, `withinCapacity`, none has a free slot).
    func place(_ platform: Platform?, executor: String, withinCapacity: Bool = false) -> AgentConnection? {
        var best: (index: Int, load: Double)?
        for (index, connection) in connections.enumerated()
        where !lost.contains(index) && Self.patches(connection.welcome, platform, executor: executor)
            && (!withinCapacity || placed[index] < max(1, Int(connection.welcome.maxJobs))) {
            let welcome = connection.welcome
            let busy = Double(welcome.runningJobs + welcome.queuedJobs) + Double(placed[index])
            let load = busy / Double(max(1, welcome.maxJobs))
            if best == nil || load < best!.load { best = (index, load) }
        }
        guard let best else { return nil }
        placed[best.index] += 1
        return connections[best.index]
    }

    /// Whether an agent not lost patches `platform`.
    func canPatch(_ platform: Platform?, executor: String) -> Bool {
        connections.indices.contains { !lost.contains($0) && Self.patches(connections[$0].welcome, platform, executor: executor) }
    }

    /// A placed job ended: its slot counts no more.
    func finished(on connection: AgentConnection) {
        guard let index = connections.firstIndex(where: { $0.endpoint == connection.endpoint }) else { return }
        placed[index] = max(0, placed[index] - 1)
    }

    /// The agent stopped answering: no more jobs go there.
    func markLost(_ connection: AgentConnection) {
        if let index = connections.firstIndex(where: { $0.endpoint == connection.endpoint }) { lost.insert(index) }
    }

    /// Every platform the pool's agents patch, for an error message.
    var platforms: [String] {
        Array(Set(connections.flatMap { $0.welcome.platforms.map { Platform(wire: $0).description } })).sorted()
    }

    static func patches(_ welcome: Copa_Protocol_V1_Welcome, _ platform: Platform?, executor: String) -> Bool {
        let named = executor.isEmpty || executor == "auto" ? nil : executor
        let executors = welcome.executors.filter { named == nil || $0.name == named }
        guard !executors.isEmpty else { return false }
        guard let platform else { return true }
        return executors.contains { $0.platforms.contains { platform.matches(Platform(wire: $0)) } }
    }

    func closeAll() async {
        for connection in connections { await connection.close() }
    }
}

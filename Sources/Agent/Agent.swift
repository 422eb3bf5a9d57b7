import Engine
import Foundation
import Logging
import Protocol

/// The agent: accepts jobs from clients over one ROUTER socket, runs up to
/// `maxJobs` of them at once through an executor, queues the rest (taken round
/// robin by client), and streams each job's events back to the client that
/// submitted it.
///
/// An actor because the job table is shared between the receive loop, the
/// running jobs and their reporters. Nothing here waits for a client: answers
/// are posted to the socket's per-peer lines, so a client that stops reading
/// is dropped (and its jobs cancelled) instead of stalling everyone.
public actor Agent {
    struct JobKey: Hashable, Sendable {
        let peer: AgentSocket.PeerID
        let id: String
    }

    final class Job: Sendable {
        let key: JobKey
        let client: String
        let request: PatchRequest
        let executor: any PatchExecutor
        let timeout: Duration
        init(key: JobKey, client: String, request: PatchRequest, executor: any PatchExecutor, timeout: Duration) {
            self.key = key
            self.client = client
            self.request = request
            self.executor = executor
            self.timeout = timeout
        }
    }

    /// A job holding one of the `maxJobs` slots.
    struct Slot {
        let token: UInt64
        let task: Task<Void, Never>
        let timer: Task<Void, Never>
        /// When the job took the slot (blobs used since stay in the cache).
        let startedAt: Date
        /// Set once the job is being stopped (cancel, timeout, client gone).
        var stopReason: String?
    }

    /// A job from its Accepted until its Result or Failure: whose it is,
    /// where its messages go, and the last of them, kept for a Resume.
    struct Live {
        let client: String
        let acceptedAt: ContinuousClock.Instant
        var sequence: UInt64 = 0
        /// The connection following the job; nil while its client is away
        /// (it has `resumeWindow` to come back with a Resume).
        var peer: AgentSocket.PeerID?
        var ring: MessageRing
        /// Cancels the job when its client stays away past the window.
        var awayTimer: Task<Void, Never>?
    }

    /// A job that ended less than `resumeWindow` ago, with its last
    /// messages: a client that comes back after the end still gets them.
    struct Ended {
        let client: String
        let ring: MessageRing
        let at: ContinuousClock.Instant
    }

    let configuration: AgentConfiguration
    let executors: [any PatchExecutor]
    let logger: Logger
    var socket: AgentSocket?
    var live: [JobKey: Live] = [:]
    var recentlyEnded: [String: Ended] = [:]
    var queue = FairQueue<Job>()
    var slots: [JobKey: Slot] = [:]
    var nextToken: UInt64 = 0
    var journal: JobJournal?
    var pruning = false
    /// Set by `drain`: no new jobs.
    var draining = false
    /// Inspects running now.
    var inspections = 0

    public init(configuration: AgentConfiguration, executors: [any PatchExecutor], logger: Logger) {
        self.configuration = configuration
        self.executors = executors
        self.logger = logger
    }

    /// Serves `socket` until it is closed.
    public func serve(_ socket: AgentSocket) async {
        self.socket = socket
        if configuration.journal { recoverFromJournal() }
        logger.info("agent listening", metadata: ["endpoint": "\(socket.endpoint)"])
        let drops = Task {
            for await dropped in socket.droppedPeers { await self.peerDropped(dropped) }
        }
        for await inbound in socket.messages {
            handle(inbound)
        }
        drops.cancel()
        for slot in slots.values {
            slot.task.cancel()
            slot.timer.cancel()
        }
    }

    public var runningCount: Int { slots.count }
    public var queuedCount: Int { queue.count }

    private func handle(_ inbound: AgentSocket.Inbound) {
        switch inbound.envelope {
        case .failure(let error):
            logger.warning("rejected a message", metadata: ["peer": "\(inbound.peer)", "reason": "\(error.message)"])
            reject(inbound.peer, error.code, error.message)
        case .success(let envelope):
            switch envelope.body {
            case .hello:
                var welcome = welcome()
                welcome.clientIdentity = inbound.userID ?? ""
                post(Envelope(.welcome(welcome)), to: inbound.peer)
            case .submit(let submit): accept(submit, from: inbound)
            case .cancel(let cancel):
                // Only the connection following a job may cancel it.
                if let key = live.first(where: { $0.key.id == cancel.jobID && $0.value.peer == inbound.peer })?.key {
                    cancelJob(key, reason: cancel.reason)
                }
            case .resume(let resume): self.resume(resume, from: inbound)
            case .inspect(let inspect): self.inspect(inspect, from: inbound)
            case .heartbeat: break
            default:
                reject(inbound.peer, .protocol, "an agent does not accept this message from a client")
            }
        }
    }

    private func welcome() -> Copa_Protocol_V1_Welcome {
        var welcome = Copa_Protocol_V1_Welcome()
        welcome.agentName = configuration.name
        welcome.agentVersion = AgentVersion.current
        welcome.protocolVersion = ProtocolVersion.current
        var seen = Set<Platform>()
        for executor in executors {
            var info = Copa_Protocol_V1_ExecutorInfo()
            info.name = executor.name
            info.platforms = executor.platforms.map(\.wire)
            info.version = executor.version.isEmpty ? AgentVersion.current : executor.version
            welcome.executors.append(info)
            for platform in executor.platforms where seen.insert(platform).inserted {
                welcome.platforms.append(platform.wire)
            }
        }
        welcome.labels = configuration.labels
        welcome.maxJobs = UInt32(configuration.maxJobs)
        welcome.runningJobs = UInt32(slots.count)
        welcome.queuedJobs = UInt32(queue.count)
        welcome.maxSubmitBytes = UInt64(configuration.limits.maxSubmitBytes)
        welcome.resumeWindowSeconds = UInt32(clamping: configuration.resumeWindow.components.seconds)
        if let interval = socket?.heartbeatInterval {
            welcome.heartbeatIntervalMs = UInt32(interval.components.seconds * 1000
                + interval.components.attoseconds / 1_000_000_000_000_000)
        }
        return welcome
    }

    /// The socket gave up on a peer. Its jobs wait `resumeWindow` for a
    /// Resume on a new connection, their messages kept meanwhile; with no
    /// window (or once it passes) queued ones are dropped and running ones
    /// stopped, as nobody is left to receive their results.
    private func peerDropped(_ dropped: AgentSocket.Dropped) {
        let keys = live.filter { $0.value.peer == dropped.peer }.map(\.key)
        guard !keys.isEmpty else { return }
        let why = switch dropped.reason {
        case .overflow: "stopped reading its messages"
        case .unreachable: "disconnected"
        case .silent: "sent no heartbeat for \((socket?.heartbeatInterval ?? .zero) * 4)"
        }
        socket?.unwatch(dropped.peer)
        let window = configuration.resumeWindow
        let ids = keys.map(\.id).joined(separator: ",")
        if window > .zero {
            logger.warning("client \(why); its jobs wait \(window) for it to resume them",
                           metadata: ["peer": "\(dropped.peer)", "jobs": "\(ids)"])
        } else {
            logger.warning("client \(why); cancelling its jobs", metadata: ["peer": "\(dropped.peer)", "jobs": "\(ids)"])
        }
        for key in keys {
            live[key]?.peer = nil
            guard window > .zero else {
                cancelJob(key, reason: "client \(why)")
                continue
            }
            live[key]?.awayTimer = Task {
                guard (try? await Task.sleep(for: window)) != nil else { return }
                await self.stayedAway(key, reason: "client \(why) and did not resume the job within \(window)")
            }
        }
        updateLoad()
    }

    private func stayedAway(_ key: JobKey, reason: String) {
        guard let job = live[key], job.peer == nil else { return }
        logger.warning("cancelling job: \(reason)", metadata: ["job": "\(key.id)"])
        cancelJob(key, reason: reason)
    }

    func post(_ envelope: Envelope, to peer: AgentSocket.PeerID) {
        socket?.post(envelope, to: peer)
    }

    private func reject(_ peer: AgentSocket.PeerID, _ code: Copa_Protocol_V1_ErrorCode, _ message: String) {
        var reject = Copa_Protocol_V1_Reject()
        reject.code = code
        reject.message = message
        post(Envelope(.reject(reject)), to: peer)
    }
}

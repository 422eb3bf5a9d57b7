import Engine
import Foundation
import Logging
import Protocol

/// The agent: accepts jobs from clients over one ROUTER socket, runs up to
/// `maxJobs` of them at once through an executor, queues the rest, and streams
/// each job's events back to the client that submitted it.
///
/// An actor because the job table is shared between the receive loop, the
/// running jobs and their reporters.
public actor Agent {
    struct JobKey: Hashable, Sendable {
        let peer: AgentSocket.PeerID
        let id: String
    }

    final class Job: Sendable {
        let key: JobKey
        let request: PatchRequest
        let executor: any PatchExecutor
        let timeout: Duration
        init(key: JobKey, request: PatchRequest, executor: any PatchExecutor, timeout: Duration) {
            self.key = key
            self.request = request
            self.executor = executor
            self.timeout = timeout
        }
    }

    let configuration: AgentConfiguration
    let executors: [any PatchExecutor]
    let logger: Logger
    private var socket: AgentSocket?
    private var sequences: [JobKey: UInt64] = [:]
    private var queued: [Job] = []
    private var running: [JobKey: Task<Void, Never>] = [:]

    public init(configuration: AgentConfiguration, executors: [any PatchExecutor], logger: Logger) {
        self.configuration = configuration
        self.executors = executors
        self.logger = logger
    }

    /// Serves `socket` until it is closed.
    public func serve(_ socket: AgentSocket) async {
        self.socket = socket
        logger.info("agent listening", metadata: ["endpoint": "\(socket.endpoint)"])
        for await inbound in socket.messages {
            await handle(inbound)
        }
        for task in running.values { task.cancel() }
    }

    public var runningCount: Int { running.count }
    public var queuedCount: Int { queued.count }

    private func handle(_ inbound: AgentSocket.Inbound) async {
        switch inbound.envelope {
        case .failure(let error):
            logger.warning("rejected a message", metadata: ["peer": "\(inbound.peer)", "reason": "\(error.message)"])
            var reject = Copa_Protocol_V1_Reject()
            reject.code = error.code
            reject.message = error.message
            await sendBestEffort(Envelope(.reject(reject)), to: inbound.peer)
        case .success(let envelope):
            switch envelope.body {
            case .hello: await sendBestEffort(Envelope(.welcome(welcome())), to: inbound.peer)
            case .submit(let submit): await accept(submit, from: inbound.peer)
            case .cancel(let cancel): await cancelJob(JobKey(peer: inbound.peer, id: cancel.jobID), reason: cancel.reason)
            default:
                var reject = Copa_Protocol_V1_Reject()
                reject.code = .protocol
                reject.message = "an agent does not accept this message from a client"
                await sendBestEffort(Envelope(.reject(reject)), to: inbound.peer)
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
        welcome.maxJobs = UInt32(configuration.maxJobs)
        welcome.runningJobs = UInt32(running.count)
        welcome.queuedJobs = UInt32(queued.count)
        return welcome
    }

    private func accept(_ submit: Copa_Protocol_V1_Submit, from peer: AgentSocket.PeerID) async {
        let key = JobKey(peer: peer, id: submit.jobID)
        guard !submit.jobID.isEmpty else {
            return await fail(key, .invalidInput, "a job needs a non-empty job_id", registered: false)
        }
        guard sequences[key] == nil else {
            return await fail(key, .duplicateJob, "job \(submit.jobID) is already known to this agent", registered: false)
        }
        sequences[key] = 0
        let request: PatchRequest
        let executor: any PatchExecutor
        do {
            request = try PatchRequest(wire: submit)
            executor = try chooseExecutor(submit.options.executor, for: request)
        } catch let error as EngineError {
            return await fail(key, error.wireCode, error.description)
        } catch let error as ProtocolError {
            return await fail(key, error.code, error.message)
        } catch {
            return await fail(key, .internal, "\(error)")
        }
        let timeout = submit.options.timeoutSeconds > 0
            ? Duration.seconds(Int64(submit.options.timeoutSeconds)) : configuration.defaultTimeout
        let job = Job(key: key, request: request, executor: executor, timeout: timeout)
        var accepted = Copa_Protocol_V1_Accepted()
        accepted.jobID = key.id
        accepted.queuePosition = running.count < configuration.maxJobs ? 0 : UInt32(queued.count + 1)
        logger.info("job accepted", metadata: ["job": "\(key.id)", "image": "\(submit.image)", "queue": "\(accepted.queuePosition)"])
        queued.append(job)
        _ = await emit(key) { envelopeSequence in
            accepted.sequence = envelopeSequence
            return .accepted(accepted)
        }
        startQueuedJobs()
    }

    /// A named executor, or for "auto" the first (the agent lists BuildKit
    /// before native) that handles the platform and prefers the request.
    private func chooseExecutor(_ name: String, for request: PatchRequest) throws -> any PatchExecutor {
        let wanted = name.isEmpty || name == "auto" ? nil : name
        let candidates = executors.filter { wanted == nil || $0.name == wanted }
        guard !candidates.isEmpty else {
            let names = executors.map(\.name).joined(separator: ", ")
            throw ProtocolError(.invalidInput, "this agent has no \(name) executor (it has: \(names))")
        }
        let platform = request.platform
        let able = candidates.filter { $0.platforms.contains(platform) }
        guard let executor = (wanted == nil ? able.first { $0.prefers(request) } : nil) ?? able.first else {
            let platforms = Set(candidates.flatMap(\.platforms)).map(\.description).sorted().joined(separator: ", ")
            throw ProtocolError(.unsupportedPlatform, "this agent patches \(platforms), not \(platform)")
        }
        return executor
    }

    private func startQueuedJobs() {
        while running.count < configuration.maxJobs, !queued.isEmpty {
            let job = queued.removeFirst()
            running[job.key] = Task { await self.execute(job) }
        }
    }

    private func execute(_ job: Job) async {
        let reporter = JobReporter(agent: self, key: job.key)
        do {
            let result = try await withTimeout(job.timeout) {
                try await job.executor.patch(job.request, reporter: reporter)
            }
            var wire = Copa_Protocol_V1_Result(result)
            wire.jobID = job.key.id
            _ = await emit(job.key) { sequence in
                wire.sequence = sequence
                return .result(wire)
            }
            logger.info("job succeeded", metadata: ["job": "\(job.key.id)", "digest": "\(result.manifest.digest)"])
        } catch {
            let (code, message) = Self.classify(error, timeout: job.timeout)
            logger.warning("job failed", metadata: ["job": "\(job.key.id)", "error": "\(message)"])
            await fail(job.key, code, message)
        }
        finish(job.key)
    }

    private func finish(_ key: JobKey) {
        running[key] = nil
        sequences[key] = nil
        startQueuedJobs()
    }

    private func cancelJob(_ key: JobKey, reason: String) async {
        let why = reason.isEmpty ? "cancelled by the client" : "cancelled: \(reason)"
        if let index = queued.firstIndex(where: { $0.key == key }) {
            queued.remove(at: index)
            await fail(key, .cancelled, why)
            sequences[key] = nil
        } else if let task = running[key] {
            logger.info("cancelling job", metadata: ["job": "\(key.id)", "reason": "\(why)"])
            task.cancel()
        }
    }

    /// Called when a send to the job's client fails because the client is gone:
    /// nobody is left to receive the result, so stop the work.
    private func clientVanished(_ key: JobKey) {
        if let index = queued.firstIndex(where: { $0.key == key }) {
            queued.remove(at: index)
            sequences[key] = nil
        }
        if let task = running[key], !task.isCancelled {
            logger.warning("client disconnected; cancelling its job", metadata: ["job": "\(key.id)"])
            task.cancel()
        }
    }

    /// Sends one message of a job with the job's next sequence number. Returns
    /// false when the client is gone (the job is then cancelled).
    func emit(_ key: JobKey, _ make: (UInt64) -> Envelope.OneOf_Body) async -> Bool {
        guard let socket, let sequence = sequences[key] else { return false }
        sequences[key] = sequence + 1
        do {
            try await socket.send(Envelope(make(sequence)), to: key.peer)
            return true
        } catch {
            clientVanished(key)
            return false
        }
    }

    private func fail(_ key: JobKey, _ code: Copa_Protocol_V1_ErrorCode, _ message: String, registered: Bool = true) async {
        var failure = Copa_Protocol_V1_Failure()
        failure.jobID = key.id
        failure.code = code
        failure.message = message
        guard registered else {
            await sendBestEffort(Envelope(.failure(failure)), to: key.peer)
            return
        }
        _ = await emit(key) { sequence in
            failure.sequence = sequence
            return .failure(failure)
        }
    }

    private func sendBestEffort(_ envelope: Envelope, to peer: AgentSocket.PeerID) async {
        do {
            try await socket?.send(envelope, to: peer)
        } catch {
            logger.debug("could not answer a peer", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }

    static func classify(_ error: any Error, timeout: Duration) -> (Copa_Protocol_V1_ErrorCode, String) {
        switch error {
        case let error as EngineError: return (error.wireCode, error.description)
        case is CancellationError: return (.cancelled, "the job was cancelled")
        case is JobTimeout: return (.cancelled, "the job did not finish within \(timeout)")
        default: return (.internal, "\(error)")
        }
    }
}

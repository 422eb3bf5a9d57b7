import Engine
import Foundation
import Protocol

/// A job's life in the agent: accepted (checked against the limits), queued
/// fairly, run in a slot with a timer, and concluded with exactly one Result
/// or Failure. A stopped job whose executor does not return within
/// `cancelGrace` (stuck in I/O) gives its slot back anyway.
extension Agent {
    func accept(_ submit: Copa_Protocol_V1_Submit, from inbound: AgentSocket.Inbound) {
        let limits = configuration.limits
        // A refused job_id is never echoed whole: it may be megabytes long.
        let echoedID = String(decoding: submit.jobID.utf8.prefix(limits.maxJobIDBytes), as: UTF8.self)
        let key = JobKey(peer: inbound.peer, id: echoedID)
        do throws(PolicyRefusal) {
            try limits.check(submit, frameSize: inbound.size)
        } catch {
            return refuse(key, error)
        }
        if draining {
            return refuse(key, PolicyRefusal(rule: "agent.draining",
                "this agent is shutting down and takes no new jobs; submit to another agent"))
        }
        guard !submit.jobID.isEmpty else {
            return failUnregistered(key, .invalidInput, "a job needs a non-empty job_id")
        }
        guard live[key] == nil else {
            return failUnregistered(key, .duplicateJob, "job \(submit.jobID) is already known to this agent")
        }
        let client = clientIdentity(inbound)
        if queue.count(of: client) >= limits.maxQueuedPerClient, slots.count >= configuration.maxJobs {
            return refuse(key, PolicyRefusal(rule: "limits.max_queued_per_client",
                "this client already has \(queue.count(of: client)) jobs waiting; at most \(limits.maxQueuedPerClient) may wait at once"))
        }
        if queue.count >= limits.maxQueuedTotal, slots.count >= configuration.maxJobs {
            return refuse(key, PolicyRefusal(rule: "limits.max_queued_total",
                "\(queue.count) jobs are waiting on this agent, its limit; try again later or another agent"))
        }
        live[key] = Live(client: client, acceptedAt: .now, peer: key.peer,
                         ring: MessageRing(maxMessages: configuration.resumeMessages, maxBytes: configuration.resumeBytes))
        socket?.watch(key.peer)
        if journal?.accepted(key.id, client: client) == false {
            logger.error("the job journal could not record a job (is the disk full?)", metadata: ["job": "\(key.id)"])
        }
        var request: PatchRequest
        let executor: any PatchExecutor
        do {
            request = try PatchRequest(wire: submit)
            request = try configuration.policy.rules(for: inbound.userID)
                .authorize(request, agentMirrors: configuration.mirrorHosts)
            executor = submit.hasAssembly
                ? try assemblyExecutor(submit.assembly) : try chooseExecutor(submit.options.executor, for: request)
        } catch let refusal as PolicyRefusal {
            configuration.metrics?.refused(rule: refusal.rule)
            logger.warning("job refused", metadata: ["job": "\(key.id)", "client": "\(client)", "rule": "\(refusal.rule)", "reason": "\(refusal.message)"])
            return conclude(key, failure(key, .forbidden, refusal.description, rule: refusal.rule))
        } catch let error as EngineError {
            return conclude(key, failure(key, error.wireCode, error.description))
        } catch let error as ProtocolError {
            return conclude(key, failure(key, error.code, error.message))
        } catch {
            return conclude(key, failure(key, .internal, "\(error)"))
        }
        let timeout = submit.options.timeoutSeconds > 0
            ? Duration.seconds(Int64(submit.options.timeoutSeconds)) : min(configuration.defaultTimeout, limits.maxJobTimeout)
        let job = Job(key: key, client: client, request: request, executor: executor, timeout: timeout)
        configuration.metrics?.jobAccepted()
        let ahead = queue.append(job, client: client)
        var accepted = Copa_Protocol_V1_Accepted()
        accepted.jobID = key.id
        accepted.queuePosition = slots.count < configuration.maxJobs && ahead == 0 ? 0 : UInt32(ahead + 1)
        logger.info("job accepted", metadata: [
            "job": "\(key.id)", "client": "\(client)", "image": "\(submit.image)", "queue": "\(accepted.queuePosition)"])
        emit(key) { sequence in
            accepted.sequence = sequence
            return .accepted(accepted)
        }
        startQueuedJobs()
    }

    /// Who a job belongs to, for fairness and per-client limits: the
    /// authenticated key's name, else the connection.
    func clientIdentity(_ inbound: AgentSocket.Inbound) -> String {
        inbound.userID.map { "key:\($0)" } ?? "peer:\(inbound.peer)"
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
        let able = candidates.filter { $0.platforms.contains { $0.matches(platform) } }
        guard let executor = (wanted == nil ? able.first { $0.prefers(request) } : nil) ?? able.first else {
            let platforms = Set(candidates.flatMap(\.platforms)).map(\.description).sorted().joined(separator: ", ")
            throw ProtocolError(.unsupportedPlatform, "this agent patches \(platforms), not \(platform)")
        }
        return executor
    }

    func startQueuedJobs() {
        while slots.count < configuration.maxJobs, let job = queue.next() {
            nextToken += 1
            let token = nextToken
            let timeout = job.timeout
            let task = Task { await self.execute(job, token: token) }
            let timer = Task {
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                await self.timedOut(job.key, token: token, after: timeout)
            }
            slots[job.key] = Slot(token: token, task: task, timer: timer, startedAt: Date())
        }
        updateLoad()
    }

    private func execute(_ job: Job, token: UInt64) async {
        let reporter = JobReporter(agent: self, key: job.key)
        do {
            let result = try await job.executor.patch(job.request, reporter: reporter)
            var wire = Copa_Protocol_V1_Result(result)
            wire.jobID = job.key.id
            logger.info("job succeeded", metadata: ["job": "\(job.key.id)", "digest": "\(result.manifest.digest)"])
            conclude(job.key) { sequence in
                wire.sequence = sequence
                return .result(wire)
            }
        } catch {
            var (code, message) = Self.classify(error)
            if let reason = slots[job.key]?.stopReason {
                // Whatever the executor made of its cancellation, the job was stopped.
                (code, message) = (.cancelled, "the job was cancelled (\(reason)): \(message)")
            }
            logger.warning("job failed", metadata: ["job": "\(job.key.id)", "error": "\(message)"])
            conclude(job.key, failure(job.key, code, message))
        }
        release(job.key, token: token)
    }

    private func timedOut(_ key: JobKey, token: UInt64, after timeout: Duration) {
        guard slots[key]?.token == token else { return }
        logger.warning("job timed out", metadata: ["job": "\(key.id)", "timeout": "\(timeout)"])
        conclude(key, failure(key, .cancelled, "the job did not finish within \(timeout)"))
        stop(key, reason: "timed out")
    }

    func cancelJob(_ key: JobKey, reason: String) {
        let why = reason.isEmpty ? "cancelled by the client" : "cancelled: \(reason)"
        if !queue.removeAll(where: { $0.key == key }).isEmpty {
            conclude(key, failure(key, .cancelled, why))
        } else if slots[key] != nil {
            logger.info("cancelling job", metadata: ["job": "\(key.id)", "reason": "\(why)"])
            stop(key, reason: why)
        }
    }

    /// Cancels a running job's task. If the executor has not returned after
    /// `cancelGrace`, the slot is freed regardless and the job concluded as
    /// cancelled; the task is left to end on its own.
    func stop(_ key: JobKey, reason: String) {
        guard var slot = slots[key], slot.stopReason == nil else { return }
        slot.stopReason = reason
        slots[key] = slot
        slot.task.cancel()
        let token = slot.token
        let grace = configuration.cancelGrace
        Task {
            try? await Task.sleep(for: grace)
            await self.abandon(key, token: token, reason: reason)
        }
    }

    private func abandon(_ key: JobKey, token: UInt64, reason: String) {
        guard slots[key]?.token == token else { return }
        logger.warning("job did not stop within \(configuration.cancelGrace) of its cancel; freeing its slot",
                       metadata: ["job": "\(key.id)", "reason": "\(reason)"])
        conclude(key, failure(key, .cancelled, "the job was cancelled (\(reason))"))
        release(key, token: token)
    }

    private func release(_ key: JobKey, token: UInt64) {
        guard let slot = slots[key], slot.token == token else { return }
        slot.timer.cancel()
        slots[key] = nil
        startQueuedJobs()
        pruneCache()
    }

    /// Posts one message of a job with the job's next sequence number, and
    /// keeps it in the job's ring for a Resume. Returns false when the job
    /// can no longer send (it was concluded).
    @discardableResult
    func emit(_ key: JobKey, _ make: (UInt64) -> Envelope.OneOf_Body) -> Bool {
        guard let sequence = live[key]?.sequence else { return false }
        let frame = Envelope(make(sequence)).frame()
        // Mutated in place: the ring's storage is not copied per message.
        live[key]?.sequence = sequence + 1
        live[key]?.ring.append(sequence: sequence, frame: frame)
        if let peer = live[key]?.peer { socket?.post(frame: frame, to: peer) }
        return true
    }

    /// Posts the job's last message (Result or Failure) and records it in
    /// the journal; later ones are dropped.
    func conclude(_ key: JobKey, _ make: (UInt64) -> Envelope.OneOf_Body) {
        guard var job = live.removeValue(forKey: key) else { return }
        job.awayTimer?.cancel()
        let envelope = Envelope(make(job.sequence))
        let frame = envelope.frame()
        if let peer = job.peer { socket?.post(frame: frame, to: peer) }
        if configuration.resumeWindow > .zero {
            job.ring.append(sequence: job.sequence, frame: frame)
            remember(key.id, Ended(client: job.client, ring: job.ring, at: .now))
        }
        // Recorded even when the client is gone: it may come back with Resume.
        if journal?.ended(key.id, client: job.client, frame: frame) == false {
            logger.error("the job journal could not record a job's end (is the disk full?)", metadata: ["job": "\(key.id)"])
        }
        let outcome = switch envelope.body {
        case .failure(let failure): "\(failure.code)"
        default: "succeeded"
        }
        configuration.metrics?.jobEnded(outcome: outcome, after: .now - job.acceptedAt)
        updateLoad()
        if let peer = job.peer, !live.values.contains(where: { $0.peer == peer }) { socket?.unwatch(peer) }
    }

    /// Keeps an ended job's messages for the resume window; at most
    /// `maxRecentlyEnded` jobs, the oldest forgotten first.
    private func remember(_ id: String, _ ended: Ended) {
        let expired = ContinuousClock.now - configuration.resumeWindow
        recentlyEnded = recentlyEnded.filter { $0.value.at > expired }
        while recentlyEnded.count >= Self.maxRecentlyEnded,
              let oldest = recentlyEnded.min(by: { $0.value.at < $1.value.at })?.key {
            recentlyEnded[oldest] = nil
        }
        recentlyEnded[id] = ended
    }

    static let maxRecentlyEnded = 256

    func failure(_ key: JobKey, _ code: Copa_Protocol_V1_ErrorCode, _ message: String, rule: String = "")
        -> (UInt64) -> Envelope.OneOf_Body {
        { sequence in
            var failure = Copa_Protocol_V1_Failure()
            failure.jobID = key.id
            failure.sequence = sequence
            failure.code = code
            failure.message = message
            failure.rule = rule
            return .failure(failure)
        }
    }

    /// A Failure for a Submit that never became a job (sequence 0).
    func failUnregistered(_ key: JobKey, _ code: Copa_Protocol_V1_ErrorCode, _ message: String, rule: String = "") {
        post(Envelope(failure(key, code, message, rule: rule)(0)), to: key.peer)
    }

    /// Keeps the blob cache under `cacheMaxBytes`, off the actor, one pass
    /// at a time; blobs used since the oldest running job started stay.
    func pruneCache() {
        guard let maxBytes = configuration.cacheMaxBytes, !pruning,
              let cache = try? OCILayout.open(at: configuration.workdir + "/cache") else { return }
        pruning = true
        let since = slots.values.map(\.startedAt).min() ?? Date()
        let logger = logger
        Task.detached {
            let result = cache.pruneBlobs(maxBytes: maxBytes, keepingSince: since)
            if result.removed > 0 {
                logger.info("cache pruned", metadata: ["removed": "\(result.removed)", "freed_bytes": "\(result.freedBytes)",
                                                       "kept_bytes": "\(result.keptBytes)", "max_bytes": "\(maxBytes)"])
            }
            await self.pruned()
        }
    }

    private func pruned() { pruning = false }

    /// Sets the load gauges.
    func updateLoad() {
        configuration.metrics?.load(running: slots.count, queued: queue.count,
                                    clients: Set(live.values.compactMap(\.peer)).count)
    }

    private func refuse(_ key: JobKey, _ refusal: PolicyRefusal) {
        configuration.metrics?.refused(rule: refusal.rule)
        logger.warning("job refused", metadata: ["job": "\(key.id)", "rule": "\(refusal.rule)", "reason": "\(refusal.message)"])
        failUnregistered(key, .forbidden, refusal.description, rule: refusal.rule)
    }

    static func classify(_ error: any Error) -> (Copa_Protocol_V1_ErrorCode, String) {
        switch error {
        case let error as EngineError: return (error.wireCode, error.description)
        case is CancellationError: return (.cancelled, "the job was cancelled")
        default: return (.internal, "\(error)")
        }
    }
}

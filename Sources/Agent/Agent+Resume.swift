import Foundation
import Protocol

/// Jobs across connections and restarts: the journal read at start, and
/// `Resume` from a client that lost its connection.
extension Agent {
    /// Reads the journal: jobs the previous run accepted and never ended are
    /// recorded as ended by the restart, and the scratch directories they
    /// left in `WORKDIR/jobs` are removed. A journal that cannot be opened is
    /// logged and the agent runs without one.
    func recoverFromJournal() {
        let opened: (JobJournal, interrupted: [(id: String, client: String)])
        do {
            opened = try JobJournal.open(workdir: configuration.workdir)
        } catch {
            logger.error("no job journal; Resume will not survive a restart", metadata: ["error": "\(error)"])
            return
        }
        var journal = opened.0
        for job in opened.interrupted {
            var failure = Copa_Protocol_V1_Failure()
            failure.jobID = job.id
            failure.code = .cancelled
            failure.message = "the job did not finish: the agent stopped while it ran, and has restarted since; submit it again"
            journal.ended(job.id, client: job.client, frame: Envelope(.failure(failure)).frame())
        }
        self.journal = journal
        let scratch = configuration.workdir + "/jobs"
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
        for entry in leftovers { try? FileManager.default.removeItem(atPath: scratch + "/" + entry) }
        if !opened.interrupted.isEmpty || !leftovers.isEmpty {
            logger.warning("the previous run left jobs unfinished", metadata: [
                "jobs": "\(opened.interrupted.map(\.id).joined(separator: ","))", "scratch_removed": "\(leftovers.count)"])
        }
    }

    /// Answers a Resume. A job still running (or waiting) moves to the new
    /// connection: the messages after `after_sequence` that its ring still
    /// holds are sent again, then the rest as they happen. A job that ended
    /// within the resume window gets its last messages, its Result or
    /// Failure among them; one that ended earlier, the Result or Failure from
    /// the journal. A job this agent does not know, or that belongs to
    /// another client, gets Failure(UNKNOWN_JOB). Without CURVE there are no
    /// client identities, and the job id (a random UUID from `copa`) is what
    /// entitles the resume.
    func resume(_ request: Copa_Protocol_V1_Resume, from inbound: AgentSocket.Inbound) {
        let id = String(decoding: request.jobID.utf8.prefix(configuration.limits.maxJobIDBytes), as: UTF8.self)
        let client = clientIdentity(inbound)
        let mayResume = { (owner: String) in !owner.hasPrefix("key:") || owner == client }
        let after = request.fromStart ? nil : request.afterSequence
        if let key = live.first(where: { $0.key.id == id && mayResume($0.value.client) })?.key {
            return reattach(key, to: inbound.peer, after: after)
        }
        if let ended = recentlyEnded[id], mayResume(ended.client) {
            let replay = ended.ring.after(after)
            logger.info("job resumed", metadata: [
                "job": "\(id)", "peer": "\(inbound.peer)", "after": "\(after.map(String.init) ?? "none")",
                "replayed": "\(replay.count)", "ended": "yes"])
            for entry in replay { socket?.post(frame: entry.frame, to: inbound.peer) }
            return
        }
        if let ended = journal?.ended[id], mayResume(ended.client), case .success(let envelope) = Envelope.decode(frame: ended.frame) {
            logger.info("job resumed", metadata: [
                "job": "\(id)", "peer": "\(inbound.peer)", "replayed": "1", "ended": "yes", "from": "journal"])
            post(envelope, to: inbound.peer)
            return
        }
        var failure = Copa_Protocol_V1_Failure()
        failure.jobID = id
        failure.code = .unknownJob
        failure.message = "this agent knows no job \(id) of this client (it keeps the last \(journal?.keep ?? 0) ended jobs)"
        post(Envelope(.failure(failure)), to: inbound.peer)
    }

    /// Moves a job's messages to `peer`; the connection that followed it
    /// before (if still there) gets no more of them.
    private func reattach(_ key: JobKey, to peer: AgentSocket.PeerID, after: UInt64?) {
        guard let job = live[key] else { return }
        job.awayTimer?.cancel()
        live[key]?.awayTimer = nil
        live[key]?.peer = peer
        if let old = job.peer, old != peer, !live.values.contains(where: { $0.peer == old }) { socket?.unwatch(old) }
        socket?.watch(peer)
        let replay = job.ring.after(after)
        // What the client will miss: kept no longer (a hostile after_sequence cannot underflow this).
        let first = replay.first?.sequence ?? job.sequence
        let wanted = after.map { $0 == .max ? $0 : $0 + 1 } ?? 0
        let lost = first > wanted ? first - wanted : 0
        logger.info("job resumed", metadata: [
            "job": "\(key.id)", "peer": "\(peer)", "after": "\(after.map(String.init) ?? "none")",
            "replayed": "\(replay.count)", "lost": "\(lost)"])
        for entry in replay { socket?.post(frame: entry.frame, to: peer) }
        updateLoad()
    }
}

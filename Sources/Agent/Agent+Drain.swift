import Foundation
import Protocol

/// Stopping an agent without losing work it accepted (SIGTERM).
extension Agent {
    /// Refuses new jobs, concludes the queued ones as cancelled, lets the
    /// running ones finish for up to `grace`, then stops those left and waits
    /// for them (each at most `cancelGrace`). Returns when no job is left.
    public func drain(grace: Duration) async {
        draining = true
        let queued = queue.removeAll { _ in true }
        for job in queued {
            conclude(job.key, failure(job.key, .cancelled, "the agent is shutting down; the job had not started: submit it again"))
        }
        logger.info("shutting down: no new jobs", metadata: ["running": "\(slots.count)", "cancelled_queued": "\(queued.count)", "grace": "\(grace)"])
        let deadline = ContinuousClock.now + grace
        while !slots.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if !slots.isEmpty {
            logger.warning("shutdown grace over; cancelling the running jobs", metadata: ["jobs": "\(slots.keys.map(\.id).joined(separator: ","))"])
            for key in Array(slots.keys) { stop(key, reason: "the agent is shutting down") }
            let cancelDeadline = ContinuousClock.now + configuration.cancelGrace + .seconds(1)
            while !slots.isEmpty, ContinuousClock.now < cancelDeadline {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        // The last messages are in the socket's queues; give them a moment to leave.
        try? await Task.sleep(for: .milliseconds(300))
    }
}

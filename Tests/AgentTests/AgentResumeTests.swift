import Engine
import Foundation
import Logging
import Protocol
import Testing
import TestSupport
@testable import Agent
@testable import Client

/// Reports a step and `events` progress events at once, notes in the log
/// that it has (`started`), then waits for the log's release and fails: a
/// job whose message count does not depend on how busy the machine is.
struct BurstExecutor: PatchExecutor {
    let name = "native"
    let platforms = [Platform(os: "linux", architecture: "amd64")]
    let events: Int
    let log: ExecutorLog

    func patch(_ request: PatchRequest, reporter: any PatchReporter) async throws -> PatchResult {
        let id = request.target.description
        await reporter.step("burst", .started, detail: id)
        for index in 0..<events {
            await reporter.progress(step: "burst", current: UInt64(index), total: UInt64(events), unit: "events")
        }
        await log.start(id)
        do {
            while await !log.releaseAll { try await Task.sleep(for: .milliseconds(20)) }
        } catch {
            await log.cancel(id)
            throw error
        }
        throw EngineError(.packageNotFound, "released: \(id)")
    }
}

/// A job outlives its client's connection for the resume window: the
/// client comes back on a new connection and loses no message.
@Suite struct AgentResumeTests {
    /// Accepted (0), the step (1), the events (2...51); the Failure is 52.
    static let events = 50
    static let final = UInt64(events + 2)

    /// Waits until the job's executor has reported all its events.
    func waitForBurst(_ id: String, _ log: ExecutorLog) async throws {
        for _ in 0..<400 where await !log.started.contains("oci:/nonexistent:\(id)-patched") {
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(await log.started.contains("oci:/nonexistent:\(id)-patched"))
    }

    /// Waits until the agent has no running job.
    func waitUntilIdle(_ endpoint: String) async throws {
        let session = try await AgentSession(endpoint: endpoint)
        defer { Task { await session.close() } }
        #expect(try await session.runningJobsOnceSettled() == 0)
    }

    func startAgent(window: Duration, messages: Int = 2_048, heartbeat: Duration = .seconds(2),
                    log: ExecutorLog) async throws -> AgentSocket {
        var options = SocketOptions()
        options.heartbeatInterval = heartbeat
        let socket = try await AgentSocket.bind("tcp://127.0.0.1:0", options: options)
        var configuration = AgentConfiguration(name: "resume", maxJobs: 1, workdir: NSTemporaryDirectory())
        configuration.resumeWindow = window
        configuration.resumeMessages = messages
        configuration.cancelGrace = .milliseconds(300)
        let agent = Agent(configuration: configuration, executors: [BurstExecutor(events: Self.events, log: log)],
                          logger: Logger(label: "test"))
        Task { await agent.serve(socket) }
        return socket
    }

    func submit(_ id: String) -> Copa_Protocol_V1_Submit {
        var submit = Copa_Protocol_V1_Submit()
        submit.jobID = id
        submit.image = "oci:/nonexistent:\(id)"
        submit.target = "oci:/nonexistent:\(id)-patched"
        submit.manifest.osFamily = "debian"
        return submit
    }

    /// Submits on a bare socket, reads `count` messages, then closes the
    /// socket (the agent sees the client disconnect). Returns the last
    /// sequence number read.
    func submitAndLeave(_ id: String, on endpoint: String, reading count: Int) async throws -> UInt64 {
        let submit = submit(id)
        // Bounded: a message that never comes fails the test instead of hanging the run.
        return try await withDeadline(.seconds(60), "the first \(count) messages of job \(id)") {
            try await Self.read(submit, on: endpoint, count: count)
        }
    }

    private static func read(_ submit: Copa_Protocol_V1_Submit, on endpoint: String, count: Int) async throws -> UInt64 {
        let client = try await ClientSocket.connect(endpoint)
        defer { client.close() }
        try await client.send(Envelope(.submit(submit)))
        var inbox = client.messages.makeAsyncIterator()
        var last: UInt64 = 0
        var read = 0
        while read < count {
            guard case .success(let envelope) = await inbox.next() else { break }
            switch envelope.body {
            case .accepted(let accepted): last = accepted.sequence
            case .event(let event): last = event.sequence
            // The agent's heartbeats come whenever it has nothing else to send: not the job's.
            case .heartbeat: continue
            default: Issue.record("unexpected \(envelope.body.map { "\($0)" } ?? "nothing")")
            }
            read += 1
        }
        return last
    }

    @Test func aRunningJobMovesToANewConnectionAndLosesNoMessage() async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(window: .seconds(30), log: log)
        defer { socket.close() }
        let last = try await submitAndLeave("moved", on: socket.endpoint, reading: 5)
        #expect(last == 4)
        // Away while the job reports everything: its messages are kept.
        try await waitForBurst("moved", log)
        #expect(await log.cancelled.isEmpty)

        let session = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await session.close() } }
        _ = try await session.hello()
        let updates = try await session.resume(jobID: "moved", afterSequence: last)
        let releaser = Task {
            try await Task.sleep(for: .milliseconds(300))
            await log.release()
        }
        defer { releaser.cancel() }
        let all = try await withDeadline(.seconds(30), "the resumed job") { try await AgentSharingTests.collect(updates) }
        let sequences = all.compactMap(\.sequence)
        #expect(sequences == Array((last + 1)...Self.final), "from the first message after the last one seen: no gap, nothing twice")
        #expect(!all.contains { if case .missed = $0 { true } else { false } })
        #expect(AgentSharingTests.finalFailure(all)?.message.contains("released") == true)
        #expect(await log.cancelled.isEmpty, "the job ran to its end")
    }

    @Test func aJobThatEndedWhileItsClientWasAwayIsReplayedToTheEnd() async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(window: .seconds(30), log: log)
        defer { socket.close() }
        let last = try await submitAndLeave("ended-away", on: socket.endpoint, reading: 3)
        try await waitForBurst("ended-away", log)
        await log.release()
        try await waitUntilIdle(socket.endpoint)
        let session = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await session.close() } }
        _ = try await session.hello()
        let all = try await withDeadline(.seconds(30), "the ended job") {
            try await AgentSharingTests.collect(try await session.resume(jobID: "ended-away", afterSequence: last))
        }
        #expect(all.compactMap(\.sequence) == Array((last + 1)...Self.final))
        #expect(AgentSharingTests.finalFailure(all)?.message.contains("released") == true)
    }

    @Test func aClientThatStaysAwayPastTheWindowHasItsJobCancelled() async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(window: .seconds(1), log: log)
        defer { socket.close() }
        _ = try await submitAndLeave("abandoned", on: socket.endpoint, reading: 2)
        var cancelled = false
        for _ in 0..<200 where !cancelled {
            try await Task.sleep(for: .milliseconds(25))
            cancelled = await log.cancelled.contains("oci:/nonexistent:abandoned-patched")
        }
        #expect(cancelled, "cancelled once the window passed")
        let session = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await session.close() } }
        #expect(try await session.runningJobsOnceSettled() == 0)
        await log.release()
    }

    /// The ring is bounded: a client away for longer than it holds is told
    /// which messages are gone, and still gets the job's end.
    @Test func messagesBeyondTheRingAreReportedMissed() async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(window: .seconds(30), messages: 8, log: log)
        defer { socket.close() }
        let last = try await submitAndLeave("overrun", on: socket.endpoint, reading: 2)
        try await waitForBurst("overrun", log)
        await log.release()
        try await waitUntilIdle(socket.endpoint)
        let session = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await session.close() } }
        _ = try await session.hello()
        let all = try await withDeadline(.seconds(30), "the overrun job") {
            try await AgentSharingTests.collect(try await session.resume(jobID: "overrun", afterSequence: last))
        }
        guard case .missed(let from, let through) = all.first else {
            Issue.record("no missed notice first: \(all.prefix(2))")
            return
        }
        #expect(from == last + 1)
        #expect(through == Self.final - 8)
        #expect(all.compactMap(\.sequence) == Array((Self.final - 7)...Self.final), "the 8 the ring held, the Failure last")
        #expect(AgentSharingTests.finalFailure(all) != nil)
    }

    /// A Resume claiming more messages than the job has is answered, not a
    /// crash (the count of lost messages must not underflow).
    @Test func aResumeAfterAnImpossibleSequenceIsHarmless() async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(window: .seconds(30), log: log)
        defer { socket.close() }
        _ = try await submitAndLeave("far", on: socket.endpoint, reading: 2)
        let client = try await ClientSocket.connect(socket.endpoint)
        defer { client.close() }
        var resume = Copa_Protocol_V1_Resume()
        resume.jobID = "far"
        resume.afterSequence = .max
        try await client.send(Envelope(.resume(resume)))
        try await client.send(Envelope(.hello(Copa_Protocol_V1_Hello())))
        let welcomed = try await withDeadline(.seconds(10), "a Welcome after the Resume") {
            var iterator = client.messages.makeAsyncIterator()
            while case .success(let envelope)? = await iterator.next() {
                if case .welcome(let welcome) = envelope.body { return welcome.agentName }
            }
            return ""
        }
        #expect(welcomed == "resume", "the agent still answers")
        await log.release()
    }

    /// Without a window (the embedded agent) a vanished client's job is
    /// cancelled at once, as before.
    @Test func withoutAWindowADisconnectCancels() async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(window: .zero, log: log)
        defer { socket.close() }
        _ = try await submitAndLeave("gone", on: socket.endpoint, reading: 2)
        var cancelled = false
        for _ in 0..<200 where !cancelled {
            try await Task.sleep(for: .milliseconds(25))
            cancelled = await log.cancelled.contains("oci:/nonexistent:gone-patched")
        }
        #expect(cancelled)
        await log.release()
    }
}

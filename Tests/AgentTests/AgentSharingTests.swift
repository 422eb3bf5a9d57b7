import Dispatch
import Engine
import Foundation
import Logging
import Protocol
import Testing
import TestSupport
@testable import Agent
@testable import Client

/// An executor that reports `events` progress events and then fails with a
/// recognisable error: a short, chatty job.
struct ChattyExecutor: PatchExecutor {
    let name = "native"
    let platforms = [Platform(os: "linux", architecture: "amd64")]
    let events: Int

    func patch(_ request: PatchRequest, reporter: any PatchReporter) async throws -> PatchResult {
        for index in 0..<events {
            await reporter.progress(step: "chat", current: UInt64(index), total: UInt64(events), unit: "events")
        }
        throw EngineError(.packageNotFound, "chatty job done")
    }
}

/// An executor that ignores cancellation, as a read blocked in the kernel
/// does, until the log releases it.
struct StuckExecutor: PatchExecutor {
    let name = "native"
    let platforms = [Platform(os: "linux", architecture: "amd64")]
    let log: ExecutorLog

    func patch(_ request: PatchRequest, reporter: any PatchReporter) async throws -> PatchResult {
        await log.start(request.target.description)
        await reporter.step("stuck", .started, detail: "")
        while await !log.releaseAll {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.02) { done.resume() }
            }
        }
        throw EngineError(.io, "released")
    }
}

/// The agent as a shared service: one client cannot stall, starve or
/// outlast the others, and requests stay within the agent's limits.
@Suite struct AgentSharingTests {
    func startAgent(_ configuration: AgentConfiguration, _ executor: any PatchExecutor,
                    options: SocketOptions = SocketOptions(), heartbeat: Duration = .seconds(2)) async throws -> AgentSocket {
        var options = options
        options.heartbeatInterval = heartbeat
        let socket = try await AgentSocket.bind("tcp://127.0.0.1:0", options: options)
        let agent = Agent(configuration: configuration, executors: [executor], logger: Logger(label: "test"))
        Task { await agent.serve(socket) }
        return socket
    }

    func submit(_ id: String, timeout: UInt32 = 0) -> Copa_Protocol_V1_Submit {
        var submit = Copa_Protocol_V1_Submit()
        submit.jobID = id
        submit.image = "oci:/nonexistent:\(id)"
        submit.target = "oci:/nonexistent:\(id)-patched"
        submit.manifest.osFamily = "debian"
        submit.options.timeoutSeconds = timeout
        return submit
    }

    /// Follows a job to its end; returns its updates.
    static func collect(_ updates: AsyncThrowingStream<JobUpdate, any Error>) async throws -> [JobUpdate] {
        var all: [JobUpdate] = []
        for try await update in updates { all.append(update) }
        return all
    }

    static func finalFailure(_ updates: [JobUpdate]) -> Copa_Protocol_V1_Failure? {
        guard case .failure(let failure) = updates.last else { return nil }
        return failure
    }

    @Test func aClientThatNeverReadsDoesNotStallOthers() async throws {
        var options = SocketOptions()
        // Above the normal job's burst (302 messages, which the agent may
        // queue faster than its socket hands them to ZeroMQ): with 256 the
        // reading client itself was sometimes taken for one that stopped.
        options.peerQueueMessages = 1024
        let socket = try await startAgent(
            AgentConfiguration(name: "shared", maxJobs: 2, workdir: NSTemporaryDirectory()),
            ChattyExecutor(events: 300), options: options)
        defer { socket.close() }
        let flood = FloodingDealer(endpoint: socket.endpoint)
        defer { flood.stop() }
        // Let it fill its pipe and its line at the agent.
        for _ in 0..<200 where flood.sent < 20_000 { try await Task.sleep(for: .milliseconds(25)) }
        #expect(flood.sent > 2_000)

        let session = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await session.close() } }
        // Generous: the point is that the Welcome comes while the flood goes
        // on (it never came before), not how fast it comes on a loaded machine.
        let welcome = try await session.hello(timeout: .seconds(30))
        #expect(welcome.maxJobs == 2)
        let updates = try await session.submit(submit("normal"))
        let all = try await withDeadline(.seconds(30), "a normal client's job beside a flooding one") {
            try await Self.collect(updates)
        }
        #expect(all.filter { if case .event = $0 { true } else { false } }.count == 300)
        #expect(Self.finalFailure(all)?.message == "chatty job done")
    }

    @Test func oversizedFieldsAndTimeoutsAreRefusedByRule() async throws {
        let log = ExecutorLog()
        var limits = AgentLimits()
        limits.maxSubmitBytes = 256 << 10
        limits.maxJobTimeout = .seconds(3600)
        let socket = try await startAgent(
            AgentConfiguration(name: "limits", maxJobs: 1, workdir: NSTemporaryDirectory(), limits: limits),
            GateExecutor(log: log))
        defer { socket.close() }
        // A raw connection: the answers come under the job_id cut to the
        // limit, which a session would not route to the job it sent.
        let client = try await ClientSocket.connect(socket.endpoint)
        defer { client.close() }
        var inbox = client.messages.makeAsyncIterator()

        let hugeID = String(repeating: "j", count: 60 << 10)  // three times over in the Submit: id, image, target
        var bigSubmit = submit("big")
        bigSubmit.manifest.updates = (0..<4_000).map { index in
            var update = Copa_Protocol_V1_PackageUpdate()
            update.name = "package-\(index)-" + String(repeating: "x", count: 80)
            update.fixedVersion = "1.0"
            return update
        }
        var longReference = submit("long-ref")
        longReference.image = "registry.example/" + String(repeating: "a", count: 5_000) + ":1"
        var longField = submit("long-field")
        longField.options.aptSources = ["deb http://deb.example/ " + String(repeating: "s", count: 5_000) + " main"]
        let cases: [(Copa_Protocol_V1_Submit, String, String)] = [
            (submit(String(repeating: "i", count: 129)), String(repeating: "i", count: 128), "limits.max_job_id_bytes"),
            (submit(hugeID), String(repeating: "j", count: 128), "limits.max_job_id_bytes"),
            (submit("slow", timeout: .max), "slow", "limits.max_job_timeout"),
            (bigSubmit, "big", "limits.max_submit_bytes"),
            (longReference, "long-ref", "limits.max_reference_bytes"),
            (longField, "long-field", "limits.max_field_bytes"),
        ]
        for (request, echoedID, rule) in cases {
            try await client.send(Envelope(.submit(request)))
            let answer = try #require(await inbox.next()).get()
            guard case .failure(let failure) = answer.body else {
                Issue.record("\(rule): answered \(answer)")
                continue
            }
            #expect(failure.code == .forbidden, "\(rule)")
            #expect(failure.rule == rule, "\(failure.message.prefix(200))")
            #expect(failure.jobID == echoedID, "\(rule)")
            #expect(failure.sequence == 0)
        }
        #expect(await log.started.isEmpty)
    }

    @Test func queueCapsPerClientAndOverall() async throws {
        let log = ExecutorLog()
        var limits = AgentLimits()
        limits.maxQueuedPerClient = 2
        limits.maxQueuedTotal = 3
        let socket = try await startAgent(
            AgentConfiguration(name: "caps", maxJobs: 1, workdir: NSTemporaryDirectory(), limits: limits),
            GateExecutor(log: log))
        defer { socket.close() }
        let first = try await AgentSession(endpoint: socket.endpoint)
        let second = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await first.close(); await second.close() } }
        _ = try await first.hello()
        _ = try await second.hello()

        var streams: [AsyncThrowingStream<JobUpdate, any Error>] = []
        for id in ["a1", "a2", "a3"] { streams.append(try await first.submit(submit(id))) }
        // a1 runs, a2 and a3 wait: the client's own cap is reached.
        let refusedOwn = try await Self.collect(try await first.submit(submit("a4")))
        #expect(Self.finalFailure(refusedOwn)?.rule == "limits.max_queued_per_client")
        streams.append(try await second.submit(submit("b1")))
        // Three wait now (a2, a3, b1): the agent's cap is reached for everyone.
        let refusedAll = try await Self.collect(try await second.submit(submit("b2")))
        #expect(Self.finalFailure(refusedAll)?.rule == "limits.max_queued_total")
        await log.release()
        for stream in streams {
            let all = try await Self.collect(stream)
            #expect(Self.finalFailure(all)?.code == .packageNotFound)
        }
    }

    @Test func waitingJobsAreTakenRoundRobinByClient() async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(
            AgentConfiguration(name: "fair", maxJobs: 1, workdir: NSTemporaryDirectory()), GateExecutor(log: log))
        defer { socket.close() }
        let busy = try await AgentSession(endpoint: socket.endpoint)
        let other = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await busy.close(); await other.close() } }
        _ = try await busy.hello()
        _ = try await other.hello()
        var streams: [AsyncThrowingStream<JobUpdate, any Error>] = []
        for index in 0..<5 { streams.append(try await busy.submit(submit("busy-\(index)"))) }
        // The busy client's first job is running before the other client arrives.
        for _ in 0..<200 where await log.started.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        let late = try await other.submit(submit("other"))
        var iterator = late.makeAsyncIterator()
        guard case .accepted(let accepted) = try await iterator.next() else { Issue.record("no Accepted"); return }
        #expect(accepted.queuePosition == 2, "one of the busy client's jobs is ahead, then this one")
        await log.release()
        while try await iterator.next() != nil {}
        for stream in streams { _ = try await Self.collect(stream) }
        let order = await log.started.map { $0.replacingOccurrences(of: "oci:/nonexistent:", with: "") }
        #expect(order.prefix(3) == ["busy-0-patched", "busy-1-patched", "other-patched"])
    }

    @Test func aVanishedClientsSlotIsFreedWhileItsJobIsStuck() async throws {
        let log = ExecutorLog()
        var configuration = AgentConfiguration(name: "stuck", maxJobs: 1, workdir: NSTemporaryDirectory())
        configuration.cancelGrace = .milliseconds(300)
        let socket = try await startAgent(configuration, StuckExecutor(log: log), heartbeat: .milliseconds(500))
        defer { socket.close() }
        let client = try await ClientSocket.connect(socket.endpoint)
        try await client.send(Envelope(.submit(submit("stuck"))))
        var inbox = client.messages.makeAsyncIterator()
        _ = await inbox.next()  // Accepted
        _ = await inbox.next()  // the step: it is running
        client.close()

        let session = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await session.close() } }
        let running = try await session.runningJobsOnceSettled()
        #expect(running == 0, "the slot is free although the executor never returned")
        #expect(await log.started.count == 1)
        // The freed slot takes new work.
        let next = try await session.submit(submit("next"))
        var iterator = next.makeAsyncIterator()
        guard case .accepted(let accepted) = try await iterator.next() else { Issue.record("no Accepted"); return }
        #expect(accepted.queuePosition == 0)
        await log.release()
        while try await iterator.next() != nil {}
    }

    @Test func aClientWithAJobThatFallsSilentIsTakenAsGone() async throws {
        let log = ExecutorLog()
        let configuration = AgentConfiguration(name: "silent", maxJobs: 1, workdir: NSTemporaryDirectory())
        let socket = try await startAgent(configuration, GateExecutor(log: log), heartbeat: .milliseconds(500))
        defer { socket.close() }
        // Connected all along, but it sends no heartbeats: a stopped process,
        // or a network that lost the way back.
        let client = try await ClientSocket.connect(socket.endpoint)
        defer { client.close() }
        try await client.send(Envelope(.submit(submit("quiet"))))
        var cancelled = false
        for _ in 0..<400 where !cancelled {
            try await Task.sleep(for: .milliseconds(25))
            cancelled = await log.cancelled.contains("oci:/nonexistent:quiet-patched")
        }
        #expect(cancelled)
    }

    @Test func aJobPastItsTimeoutIsConcludedAndItsSlotFreed() async throws {
        let log = ExecutorLog()
        var configuration = AgentConfiguration(name: "timeout", maxJobs: 1, workdir: NSTemporaryDirectory())
        configuration.cancelGrace = .milliseconds(200)
        let socket = try await startAgent(configuration, StuckExecutor(log: log))
        defer { socket.close() }
        let session = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await session.close() } }
        _ = try await session.hello()
        let all = try await withDeadline(.seconds(20), "a stuck job with a 1 s timeout") {
            try await Self.collect(try await session.submit(self.submit("late", timeout: 1)))
        }
        let failure = try #require(Self.finalFailure(all))
        #expect(failure.code == .cancelled)
        #expect(failure.message.contains("did not finish within"))
        let running = try await session.runningJobsOnceSettled()
        #expect(running == 0)
        await log.release()
    }
}

import Engine
import Foundation
import Logging
import Protocol
import Testing
import TestSupport
@testable import Agent
@testable import Client

/// An executor for exercising the agent's job table: it reports a step, then
/// waits until released or cancelled, and records which happened.
actor ExecutorLog {
    var started: [String] = []
    var cancelled: [String] = []
    var releaseAll = false
    func start(_ id: String) { started.append(id) }
    func cancel(_ id: String) { cancelled.append(id) }
    func release() { releaseAll = true }
}

struct GateExecutor: PatchExecutor {
    let name = "native"
    let platforms = [Platform(os: "linux", architecture: "amd64")]
    let log: ExecutorLog

    func patch(_ request: PatchRequest, reporter: any PatchReporter) async throws -> PatchResult {
        let id = request.target.description
        await log.start(id)
        await reporter.step("gate", .started, detail: id)
        do {
            while await !log.releaseAll {
                try await Task.sleep(for: .milliseconds(20))
                await reporter.progress(step: "gate", current: 1, total: 2, unit: "ticks")
            }
        } catch {
            await log.cancel(id)
            throw error
        }
        throw EngineError(.packageNotFound, "released: \(id)")
    }
}

/// Lists the native executor's arm64 entry as it does (`arm64/v8`) and
/// fails each job at once.
struct Arm64Executor: PatchExecutor {
    let name = "native"
    let platforms = [Platform(os: "linux", architecture: "arm64", variant: "v8")]

    func patch(_ request: PatchRequest, reporter: any PatchReporter) async throws -> PatchResult {
        throw EngineError(.packageNotFound, "ran for \(request.platform)")
    }
}

extension AgentSession {
    /// The agent's running-job count, asked again every 50 ms for up to 5 s
    /// until it is 0: a freed slot shows in the next Welcome after it is freed.
    func runningJobsOnceSettled() async throws -> UInt32 {
        var running = try await hello().runningJobs
        for _ in 0..<100 where running != 0 {
            try await Task.sleep(for: .milliseconds(50))
            running = try await hello().runningJobs
        }
        return running
    }
}

@Suite struct AgentProtocolTests {
    func startAgent(endpoint: String, maxJobs: Int, log: ExecutorLog) async throws -> AgentSocket {
        let socket = try await AgentSocket.bind(endpoint)
        let agent = Agent(configuration: AgentConfiguration(name: "test", maxJobs: maxJobs, workdir: NSTemporaryDirectory()),
                          executors: [GateExecutor(log: log)], logger: Logger(label: "test"))
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

    /// `linux/arm64` and `linux/arm64/v8` are one platform (OCI's default
    /// variant): the agent hands both to an executor that lists `arm64/v8`,
    /// as the BuildKit executor and the index lookup already did.
    @Test(arguments: ["linux/arm64", "linux/arm64/v8", "linux/arm64/8"])
    func aPlatformWithoutItsDefaultVariantIsTheSamePlatform(platform: String) async throws {
        let socket = try await AgentSocket.bind("tcp://127.0.0.1:0")
        defer { socket.close() }
        let agent = Agent(configuration: AgentConfiguration(name: "arm", workdir: NSTemporaryDirectory()),
                          executors: [Arm64Executor()], logger: Logger(label: "test"))
        Task { await agent.serve(socket) }
        let session = try await AgentSession(endpoint: socket.endpoint)
        defer { Task { await session.close() } }
        _ = try await session.hello()
        var arm = submit("arm")
        arm.platform = try Platform(parsing: platform).wire
        let job = arm
        let all = try await withDeadline(.seconds(20), "the arm64 job") { try await AgentSharingTests.collect(try await session.submit(job)) }
        let failure = try #require(AgentSharingTests.finalFailure(all))
        #expect(failure.code == .packageNotFound, "\(failure.message)")
        #expect(failure.message.contains("ran for linux/arm64"))
    }

    @Test(arguments: ["tcp://127.0.0.1:0", "ipc://\(NSTemporaryDirectory())copa-agent-\(UUID().uuidString.prefix(8)).sock",
                      "inproc://agent-\(UUID().uuidString)"])
    func jobsQueueBeyondMaxJobsAndFailuresCarryCodes(endpoint: String) async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(endpoint: endpoint, maxJobs: 1, log: log)
        defer { socket.close() }
        let session = try await AgentSession(endpoint: socket.endpoint)
        let welcome = try await session.hello()
        #expect(welcome.maxJobs == 1)
        #expect(welcome.executors.map(\.name) == ["native"])

        let first = try await session.submit(submit("a"))
        let second = try await session.submit(submit("b"))
        var firstIterator = first.makeAsyncIterator()
        var secondIterator = second.makeAsyncIterator()
        guard case .accepted(let acceptedA) = try await firstIterator.next() else { Issue.record("no Accepted"); return }
        guard case .accepted(let acceptedB) = try await secondIterator.next() else { Issue.record("no Accepted"); return }
        #expect(acceptedA.queuePosition == 0)
        #expect(acceptedB.queuePosition == 1)
        #expect(acceptedA.sequence == 0)

        await log.release()
        var failures: [Copa_Protocol_V1_Failure] = []
        for var iterator in [firstIterator, secondIterator] {
            while let update = try await iterator.next() {
                if case .failure(let failure) = update { failures.append(failure) }
            }
        }
        #expect(failures.map(\.code) == [.packageNotFound, .packageNotFound])
        #expect(await log.started.count == 2)
        await session.close()
    }

    @Test func clientThatDisappearsHasItsJobCancelled() async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(endpoint: "tcp://127.0.0.1:0", maxJobs: 1, log: log)
        defer { socket.close() }
        let client = try await ClientSocket.connect(socket.endpoint)
        try await client.send(Envelope(.submit(submit("gone"))))
        var inbox = client.messages.makeAsyncIterator()
        _ = await inbox.next()  // Accepted
        _ = await inbox.next()  // first event: the job is running
        client.close()
        var cancelled = false
        for _ in 0..<200 where !cancelled {
            try await Task.sleep(for: .milliseconds(50))
            cancelled = await log.cancelled.contains("oci:/nonexistent:gone-patched")
        }
        #expect(cancelled)

        // The agent still serves others, and the job leaves its table once the
        // executor has returned (which happens just after it records the cancel).
        let session = try await AgentSession(endpoint: socket.endpoint)
        let running = try await session.runningJobsOnceSettled()
        #expect(running == 0)
        await session.close()
    }

    @Test func cancelStopsAJobAndGarbageIsRejected() async throws {
        let log = ExecutorLog()
        let socket = try await startAgent(endpoint: "inproc://cancel-\(UUID().uuidString)", maxJobs: 2, log: log)
        defer { socket.close() }
        let raw = try await ClientSocket.connect(socket.endpoint)
        try await raw.sendRaw([[0xde, 0xad, 0xbe, 0xef]])
        var rawInbox = raw.messages.makeAsyncIterator()
        let reject = try #require(await rawInbox.next()).get()
        #expect(reject.reject.code == .protocol)
        raw.close()

        let session = try await AgentSession(endpoint: socket.endpoint)
        _ = try await session.hello()
        let updates = try await session.submit(submit("c"))
        var failure: Copa_Protocol_V1_Failure?
        var sequences: [UInt64] = []
        var cancelSent = false
        for try await update in updates {
            switch update {
            case .accepted(let accepted): sequences.append(accepted.sequence)
            case .event(let event):
                sequences.append(event.sequence)
                if !cancelSent {
                    cancelSent = true
                    await session.cancel(jobID: "c", reason: "test")
                }
            case .failure(let value):
                sequences.append(value.sequence)
                failure = value
            case .result: Issue.record("a cancelled job produced a result")
            case .missed: Issue.record("messages were missed on a connection that never broke")
            }
        }
        #expect(failure?.code == .cancelled)
        #expect(sequences == Array(0..<UInt64(sequences.count)))

        let duplicate = try await session.submit(submit("c"))
        var sawFailureOrAccept = false
        for try await update in duplicate {
            if case .failure = update { sawFailureOrAccept = true }
            if case .accepted = update { sawFailureOrAccept = true; await log.release() }
        }
        #expect(sawFailureOrAccept)
        await session.close()
    }
}

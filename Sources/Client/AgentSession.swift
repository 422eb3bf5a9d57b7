import CopaCore
import Foundation
import Protocol

/// One message of a job, as the client sees it.
public enum JobUpdate: Sendable {
    case accepted(Copa_Protocol_V1_Accepted)
    case event(Copa_Protocol_V1_Event)
    case result(Copa_Protocol_V1_Result)
    case failure(Copa_Protocol_V1_Failure)
    /// After a Resume: messages `from...through` are no longer kept by the
    /// agent (its ring is bounded) and will not arrive.
    case missed(from: UInt64, through: UInt64)

    /// The message's number within its job.
    public var sequence: UInt64? {
        switch self {
        case .accepted(let accepted): accepted.sequence
        case .event(let event): event.sequence
        case .result(let result): result.sequence
        case .failure(let failure): failure.sequence
        case .missed: nil
        }
    }
}

/// The agent could not say what an image is (it is not there, the policy
/// refuses it, the registry failed).
public struct InspectFailure: Error, Sendable, CustomStringConvertible {
    public let failure: Copa_Protocol_V1_Failure
    public var description: String { "\(failure.message) [\(failure.code)]" }
}

/// Errors of talking to an agent, as opposed to a job failing.
public struct AgentConnectionError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The agent sent nothing for four heartbeat intervals: it died, is
        /// stopped, or takes this connection as gone (a client that was
        /// itself stopped). Its jobs may still be resumed on a new connection.
        case silent
        case other
    }

    public let kind: Kind
    public let message: String
    public var description: String { message }

    public init(message: String, kind: Kind = .other) {
        self.message = message
        self.kind = kind
    }
}

/// A client's connection to one agent: says hello, submits jobs and routes
/// the agent's messages to the job they belong to (several jobs may share the
/// connection, as a multi-platform fan-out does).
public actor AgentSession {
    private let socket: ClientSocket
    private let endpoint: String
    private var welcomeWaiters: [CheckedContinuation<Copa_Protocol_V1_Welcome, any Error>] = []
    private var jobs: [String: AsyncThrowingStream<JobUpdate, any Error>.Continuation] = [:]
    private var expectedSequence: [String: UInt64] = [:]
    /// Jobs followed by a Resume whose first message has not come yet: it
    /// may skip what the agent no longer keeps.
    private var resuming: Set<String> = []
    private var receiver: Task<Void, Never>?
    private var closedError: (any Error)?
    /// The agent's heartbeat interval, from its Welcome (0 = it sends none).
    private var heartbeatInterval: Duration = .zero

    public init(endpoint: String, options: SocketOptions = SocketOptions()) async throws {
        do {
            socket = try await ClientSocket.connect(endpoint, options: options)
        } catch {
            throw AgentConnectionError(message: "cannot connect to the agent at \(endpoint): \(error)")
        }
        self.endpoint = endpoint
        let socket = socket
        receiver = Task { [weak self] in
            for await message in socket.messages {
                await self?.dispatch(message)
            }
            await self?.connectionEnded()
        }
        silenceWatcher = Task { [weak self] in
            for await _ in socket.silences { await self?.agentFellSilent() }
        }
        handshakeWatcher = Task { [weak self] in
            for await failure in socket.handshakeFailures { await self?.handshakeFailed(failure) }
        }
    }

    private var handshakeWatcher: Task<Void, Never>?

    /// ZeroMQ retries a refused handshake forever without a word; the
    /// monitor's event is the only sign, so it ends everything waiting.
    private func handshakeFailed(_ failure: HandshakeFailure) {
        let message = switch failure.kind {
        case .authentication(let status):
            "the agent at \(endpoint) refused this client's key (ZAP status \(status)): give --client-key-file with a key whose public half is in the agent's --authorized-keys"
        case .protocolError(let code):
            "the CURVE handshake with the agent at \(endpoint) failed (ZMTP error \(code)): is --agent-key that agent's public key?"
        case .other(let errno):
            "the CURVE handshake with the agent at \(endpoint) failed (errno \(errno))"
        }
        closedError = AgentConnectionError(message: message)
        let error = AgentConnectionError(message: message)
        failWelcomeWaiters(error)
        for job in jobs.values { job.finish(throwing: error) }
        jobs.removeAll()
        expectedSequence.removeAll()
    }

    private var silenceWatcher: Task<Void, Never>?

    /// Heartbeats both ways, at the interval the agent's Welcome names: while
    /// the session has jobs its socket sends one per interval, and when the
    /// agent has sent nothing for four intervals every job ends with an
    /// `AgentConnectionError` (ZeroMQ reconnects silently, so nothing else
    /// would tell that the agent died or the network to it failed).
    private func agentFellSilent() {
        guard !jobs.isEmpty else { return }
        let error = AgentConnectionError(message: """
            the agent at \(endpoint) has sent nothing for \(heartbeatInterval * 4) (it sends a heartbeat \
            every \(heartbeatInterval)): it stopped, or the network to it failed
            """, kind: .silent)
        for job in jobs.values { job.finish(throwing: error) }
        jobs.removeAll()
        expectedSequence.removeAll()
    }

    /// Says hello and waits for the agent's Welcome.
    public func hello(timeout: Duration = .seconds(15)) async throws -> Copa_Protocol_V1_Welcome {
        if let closedError { throw closedError }
        var hello = Copa_Protocol_V1_Hello()
        hello.clientName = "copa"
        hello.clientVersion = AgentVersionInfo.client
        hello.supportedVersions = [ProtocolVersion.current]
        let envelope = Envelope(.hello(hello))
        let socket = socket
        let endpoint = endpoint
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.failWelcomeWaiters(AgentConnectionError(
                message: "the agent at \(endpoint) did not answer within \(timeout); is `copa-agent serve` running there?"))
        }
        defer { timer.cancel() }
        // The waiter is registered before the Hello goes out: the actor is
        // reentrant, so a Welcome may be dispatched while the send is suspended.
        return try await withCheckedThrowingContinuation { waiter in
            welcomeWaiters.append(waiter)
            Task {
                do {
                    try await socket.send(envelope)
                } catch {
                    self.failWelcomeWaiters(error)
                }
            }
        }
    }

    /// Submits a job; its messages arrive on the returned stream, which ends
    /// after the Result or Failure.
    public func submit(_ submit: Copa_Protocol_V1_Submit) async throws -> AsyncThrowingStream<JobUpdate, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: JobUpdate.self, throwing: (any Error).self)
        // Heartbeats are watched once the agent has taken the job (it beats
        // only for peers with jobs): a busy agent may take a while to read the
        // Submit, and that is not silence. Until then, a deadline of its own.
        jobs[submit.jobID] = continuation
        expectedSequence[submit.jobID] = 0
        let id = submit.jobID
        let endpoint = endpoint
        let limit = Self.acceptDeadline
        Task {
            try? await Task.sleep(for: limit)
            self.acceptDeadlinePassed(id, message: "the agent at \(endpoint) did not take job \(id) within \(limit)")
        }
        try await socket.send(Envelope(.submit(submit)))
        return stream
    }

    /// Follows a job submitted on an earlier connection (or before the agent
    /// restarted): the agent answers with what it still has of it, at least
    /// its Result or Failure once it ended, or Failure(UNKNOWN_JOB).
    public func resume(jobID: String, afterSequence: UInt64? = nil) async throws -> AsyncThrowingStream<JobUpdate, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: JobUpdate.self, throwing: (any Error).self)
        if heartbeatInterval > .zero { socket.watch(interval: heartbeatInterval) }
        jobs[jobID] = continuation
        resuming.insert(jobID)
        var resume = Copa_Protocol_V1_Resume()
        resume.jobID = jobID
        if let afterSequence {
            resume.afterSequence = afterSequence
            expectedSequence[jobID] = afterSequence == .max ? .max : afterSequence + 1
        } else {
            resume.fromStart = true
            expectedSequence[jobID] = nil
        }
        try await socket.send(Envelope(.resume(resume)))
        return stream
    }

    /// Asks the agent what `image` holds (an index's platforms, or a single
    /// image's). A Failure of the agent's is thrown as `InspectFailure`.
    public func inspect(image: String, target: String = "", insecureRegistries: [String] = [], listTags: Bool = false,
                        timeout: Duration = .seconds(90)) async throws -> Copa_Protocol_V1_ImageInfo {
        if let closedError { throw closedError }
        var inspect = Copa_Protocol_V1_Inspect()
        inspect.requestID = "inspect-" + UUID().uuidString.lowercased()
        inspect.image = image
        inspect.insecureRegistries = insecureRegistries
        inspect.target = target
        inspect.listTags = listTags
        let id = inspect.requestID
        let endpoint = endpoint
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.finishInspection(id, .failure(AgentConnectionError(
                message: "the agent at \(endpoint) did not say within \(timeout) what \(image) is")))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { waiter in
            inspections[id] = waiter
            socket.post(Envelope(.inspect(inspect)))
        }
    }

    private var inspections: [String: CheckedContinuation<Copa_Protocol_V1_ImageInfo, any Error>] = [:]

    private func finishInspection(_ id: String, _ outcome: Result<Copa_Protocol_V1_ImageInfo, any Error>) {
        guard let waiter = inspections.removeValue(forKey: id) else { return }
        waiter.resume(with: outcome)
    }

    private func failInspections(_ error: any Error) {
        let waiters = inspections
        inspections.removeAll()
        for waiter in waiters.values { waiter.resume(throwing: error) }
    }

    public func cancel(jobID: String, reason: String) async {
        var cancel = Copa_Protocol_V1_Cancel()
        cancel.jobID = jobID
        cancel.reason = reason
        socket.post(Envelope(.cancel(cancel)))
    }

    public func close() {
        socket.close()
        receiver?.cancel()
        silenceWatcher?.cancel()
        handshakeWatcher?.cancel()
    }

    private func failWelcomeWaiters(_ error: any Error) {
        let waiters = welcomeWaiters
        welcomeWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: error) }
        failInspections(error)
    }

    private func connectionEnded() {
        let error = AgentConnectionError(message: "the connection to the agent at \(endpoint) closed")
        failWelcomeWaiters(error)
        for job in jobs.values { job.finish(throwing: error) }
        jobs.removeAll()
    }

    private func dispatch(_ message: Result<Envelope, ProtocolError>) {
        guard case .success(let envelope) = message else {
            if case .failure(let error) = message {
                let failure = AgentConnectionError(message: "the agent sent something that is not our protocol: \(error.message)")
                failWelcomeWaiters(failure)
            }
            return
        }
        switch envelope.body {
        case .welcome(let welcome):
            heartbeatInterval = .milliseconds(Int64(welcome.heartbeatIntervalMs))
            let waiters = welcomeWaiters
            welcomeWaiters.removeAll()
            for waiter in waiters { waiter.resume(returning: welcome) }
        case .accepted(let accepted): route(accepted.jobID, accepted.sequence, .accepted(accepted), final: false)
        case .event(let event): route(event.jobID, event.sequence, .event(event), final: false)
        case .result(let result): route(result.jobID, result.sequence, .result(result), final: true)
        case .failure(let failure) where inspections[failure.jobID] != nil:
            finishInspection(failure.jobID, .failure(InspectFailure(failure: failure)))
        case .failure(let failure): route(failure.jobID, failure.sequence, .failure(failure), final: true)
        case .imageInfo(let info): finishInspection(info.requestID, .success(info))
        case .reject(let reject):
            let error = AgentConnectionError(message: "the agent rejected a message: \(reject.message)")
            failWelcomeWaiters(error)
            for job in jobs.values { job.finish(throwing: error) }
            jobs.removeAll()
        case .heartbeat:
            break
        default:
            break
        }
    }

    /// How long a Submit may wait for its Accepted (or any first message).
    static let acceptDeadline: Duration = .seconds(60)

    private func acceptDeadlinePassed(_ jobID: String, message: String) {
        guard let continuation = jobs[jobID], expectedSequence[jobID] == 0, !resuming.contains(jobID) else { return }
        continuation.finish(throwing: AgentConnectionError(message: message, kind: .silent))
        jobs[jobID] = nil
        expectedSequence[jobID] = nil
    }

    private func route(_ jobID: String, _ sequence: UInt64, _ update: JobUpdate, final: Bool) {
        guard let continuation = jobs[jobID] else { return }
        // The job's first message: from now on the agent beats for us.
        if heartbeatInterval > .zero, !final, expectedSequence[jobID] == 0 { socket.watch(interval: heartbeatInterval) }
        // Messages of one job are numbered from 0; ZeroMQ keeps their order on
        // one connection, so a gap means the agent lost track of the job --
        // except first thing after a Resume, where it is what the agent no
        // longer keeps.
        if resuming.remove(jobID) != nil, let expected = expectedSequence[jobID], sequence > expected {
            continuation.yield(.missed(from: expected, through: sequence - 1))
        } else if let expected = expectedSequence[jobID], sequence != expected, !final {
            continuation.finish(throwing: AgentConnectionError(
                message: "job \(jobID): expected message \(expected) from the agent, got \(sequence)"))
            jobs[jobID] = nil
            return
        }
        expectedSequence[jobID] = sequence + 1
        continuation.yield(update)
        if final {
            continuation.finish()
            jobs[jobID] = nil
            expectedSequence[jobID] = nil
            resuming.remove(jobID)
            if jobs.isEmpty { socket.unwatch() }
        }
    }
}

public enum AgentVersionInfo {
    public static let client = "0.1.0"
}

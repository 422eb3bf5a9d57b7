import CopaCore
import Foundation
import Logging
import Protocol

/// A connection to one agent (remote, or the embedded one started for it).
struct AgentConnection: Sendable {
    let session: AgentSession
    let welcome: Copa_Protocol_V1_Welcome
    /// The endpoint the session is connected to (`inproc://` for the embedded agent).
    let endpoint: String
    /// How the user named it: the endpoint, or "embedded".
    let name: String
    let options: SocketOptions
    /// The inventory's labels for it, with those it advertises over them.
    let labels: [String: String]
    let embeddedSocket: AgentSocket?

    func close() async {
        await session.close()
        embeddedSocket?.close()
    }
}

/// How one job ended, for a command that runs several.
enum JobOutcome: Sendable {
    case succeeded(Copa_Protocol_V1_Result)
    case failed(Int32)
    /// The agent died or could not be reached any more (silent, and no
    /// reconnect within its window): the job may be submitted elsewhere.
    case lost(String)

    var exitCode: Int32 {
        switch self {
        case .succeeded: 0
        case .failed(let code): code
        case .lost: ExitCodes.agentUnreachable
        }
    }
}

/// Connects to an agent (or starts the embedded one), submits jobs and
/// follows each to its end.
struct JobRunner {
    let logger: Logger
    let printer: JobPrinter

    /// Connects and says hello; on failure prints why and returns nil.
    func connect(agent: String?, options: SocketOptions, workdir: String,
                 labels: [String: String] = [:]) async -> AgentConnection? {
        var embeddedSocket: AgentSocket?
        let endpoint: String
        var options = options
        do {
            if let agent {
                endpoint = agent
            } else {
                options = SocketOptions()
                var agentLogger = logger
                // Its warnings repeat what the job's Failure says; on a live
                // board they would also break the lines being redrawn.
                agentLogger.logLevel = printer.board == nil ? .warning : .error
                guard let start = EmbeddedAgentHook.start else { throw NoEmbeddedAgent() }
                let embedded = try await start(workdir, agentLogger)
                endpoint = embedded.endpoint
                embeddedSocket = embedded.socket
            }
            let session = try await AgentSession(endpoint: endpoint, options: options)
            do {
                let welcome = try await session.hello()
                printer.connected(welcome, endpoint: agent ?? "embedded")
                return AgentConnection(session: session, welcome: welcome, endpoint: endpoint, name: agent ?? "embedded",
                                       options: options, labels: labels.merging(welcome.labels) { $1 },
                                       embeddedSocket: embeddedSocket)
            } catch {
                await session.close()
                throw error
            }
        } catch {
            embeddedSocket?.close()
            printer.error("\(error)")
            return nil
        }
    }

    /// Why the agent could never take `submit` (too large for it), or nil.
    static func tooLarge(_ submit: Copa_Protocol_V1_Submit, for welcome: Copa_Protocol_V1_Welcome) -> String? {
        let size = Envelope(.submit(submit)).frame().count
        let limit = min(welcome.maxSubmitBytes > 0 ? Int(clamping: welcome.maxSubmitBytes) : .max, WireLimits.frameBytes)
        guard size > limit else { return nil }
        return "the job is \(size) bytes on the wire; the agent accepts at most \(limit): split the report, or ask the agent's owner to raise limits.max_submit_bytes"
    }

    /// Runs one job to its end: prints its progress and result with
    /// `printer`, reconnects once the agent falls silent, and gives up
    /// (cancelling it) `timeout` + 60 s after it was submitted.
    func run(submit: Copa_Protocol_V1_Submit, on connection: AgentConnection, timeout: Duration,
             printer: JobPrinter, final: Bool = true) async -> JobOutcome {
        let welcome = connection.welcome
        if let tooLarge = Self.tooLarge(submit, for: welcome) {
            printer.error(tooLarge)
            return .failed(ExitCodes.invalidInput)
        }
        let link = JobLink(connection.session)
        let jobID = submit.jobID
        await ActiveJobs.shared.add(jobID, link)
        defer { Task { await ActiveJobs.shared.remove(jobID) } }
        let updates: AsyncThrowingStream<JobUpdate, any Error>
        do {
            updates = try await connection.session.submit(submit)
        } catch {
            return .lost("\(error)")
        }
        let reconnect = Reconnect(endpoint: connection.endpoint, options: connection.options, welcome: welcome)
        // The agent enforces the timeout; this watchdog covers an agent that
        // never concludes the job although it keeps answering.
        let watchdog = timeout + .seconds(60)
        do {
            return try await withThrowingTaskGroup(of: JobOutcome.self) { group in
                group.addTask {
                    try await Self.follow(jobID, updates, link: link, reconnect: reconnect, printer: printer, final: final)
                }
                group.addTask {
                    try await Task.sleep(for: watchdog)
                    await link.cancel(jobID: jobID, reason: "the client gave up waiting")
                    throw JobWatchdogExpired(message: "no result from the agent within \(watchdog); the job was cancelled")
                }
                defer { group.cancelAll() }
                return try await group.next() ?? .failed(ExitCodes.agentUnreachable)
            }
        } catch let error as JobWatchdogExpired {
            printer.error("\(error)")
            return .failed(ExitCodes.cancelled)
        } catch {
            return .lost("\(error)")
        }
    }

    /// How a client gets back to a job whose agent fell silent: a new
    /// connection (the agent ignores the old one once it took it as gone),
    /// Hello, then Resume after the last message seen. Tried for four
    /// heartbeat intervals (at most the agent's resume window), so an agent
    /// that died still ends the command within seconds.
    struct Reconnect: Sendable {
        let endpoint: String
        let options: SocketOptions
        let window: Duration
        let interval: Duration

        init(endpoint: String, options: SocketOptions, welcome: Copa_Protocol_V1_Welcome) {
            self.endpoint = endpoint
            self.options = options
            window = .seconds(Int64(welcome.resumeWindowSeconds))
            interval = .milliseconds(Int64(max(welcome.heartbeatIntervalMs, 100)))
        }

        var enabled: Bool { window > .zero }

        func connect() async -> AgentSession? {
            let deadline = ContinuousClock.now + min(window, interval * 4)
            while ContinuousClock.now < deadline {
                if let session = try? await AgentSession(endpoint: endpoint, options: options) {
                    if (try? await session.hello(timeout: max(interval * 2, .seconds(1)))) != nil { return session }
                    await session.close()
                }
                try? await Task.sleep(for: interval)
            }
            return nil
        }
    }

    private static func follow(_ jobID: String, _ first: AsyncThrowingStream<JobUpdate, any Error>, link: JobLink,
                               reconnect: Reconnect, printer: JobPrinter, final: Bool) async throws -> JobOutcome {
        var updates = first
        var last: UInt64?
        while true {
            do {
                for try await update in updates {
                    last = update.sequence ?? last
                    switch update {
                    case .accepted(let accepted): printer.accepted(accepted)
                    case .event(let event): printer.event(event)
                    case .missed(let from, let through): printer.missed(from: from, through: through)
                    case .result(let result):
                        // Errored packages only reach a result with --ignore-errors,
                        // which asks for the patch to go on; the table shows them.
                        printer.result(result, final: final)
                        return .succeeded(result)
                    case .failure(let failure):
                        printer.failure(failure)
                        return .failed(exitCode(for: failure.code))
                    }
                }
                throw AgentConnectionError(message: "the agent closed the job without a result")
            } catch let error as AgentConnectionError where error.kind == .silent && reconnect.enabled {
                printer.reconnecting(reconnect.endpoint, after: last)
                guard let session = await reconnect.connect() else { throw error }
                await link.replace(with: session)
                updates = try await session.resume(jobID: jobID, afterSequence: last)
            }
        }
    }

    static func exitCode(for code: Copa_Protocol_V1_ErrorCode) -> Int32 {
        switch code {
        case .invalidInput, .unsupportedOs, .unsupportedPlatform: ExitCodes.invalidInput
        case .cancelled: ExitCodes.cancelled
        case .forbidden: ExitCodes.invalidInput
        case .protocol, .protocolVersion, .unknownJob: ExitCodes.agentUnreachable
        default: ExitCodes.patchFailed
        }
    }
}

/// The client's own deadline for a job passed.
struct JobWatchdogExpired: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The connection a job is followed on; a reconnect replaces it, and a
/// Cancel goes to whichever is current.
actor JobLink {
    private var session: AgentSession

    init(_ session: AgentSession) { self.session = session }

    func close() async { await session.close() }

    func replace(with new: AgentSession) async {
        let old = session
        session = new
        await old.close()
    }

    func cancel(jobID: String, reason: String) async {
        await session.cancel(jobID: jobID, reason: reason)
    }
}

/// The jobs this process follows, so Ctrl-C can cancel each on its agent
/// rather than leave them to run out the agent's resume window.
actor ActiveJobs {
    static let shared = ActiveJobs()
    private var links: [String: JobLink] = [:]

    func add(_ jobID: String, _ link: JobLink) { links[jobID] = link }
    func remove(_ jobID: String) { links[jobID] = nil }

    func cancelAll(reason: String) async {
        for (jobID, link) in links { await link.cancel(jobID: jobID, reason: reason) }
    }

    /// Installs the SIGINT handler: cancel every job, then exit 130.
    static func cancelOnInterrupt() -> SignalHandler {
        SignalHandler(SIGINT) {
            Task {
                await ActiveJobs.shared.cancelAll(reason: "the client was interrupted")
                try? await Task.sleep(for: .milliseconds(300))
                exit(ExitCodes.interrupted)
            }
        }
    }
}

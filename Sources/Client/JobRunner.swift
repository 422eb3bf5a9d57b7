import Agent
import Engine
import Foundation
import Logging
import Protocol

/// Connects to an agent (or starts the embedded one), submits one job and
/// follows it to its end. Returns the process exit code.
struct JobRunner {
    let logger: Logger
    let printer: JobPrinter

    func run(submit: Copa_Protocol_V1_Submit, agent: String?, options: SocketOptions, workdir: String,
             timeout: Duration) async throws -> Int32 {
        var embeddedSocket: AgentSocket?
        let endpoint: String
        var options = options
        if let agent {
            endpoint = agent
        } else {
            options = SocketOptions()
            var agentLogger = logger
            agentLogger.logLevel = .warning
            let embedded = try await EmbeddedAgent.start(workdir: workdir, logger: agentLogger)
            endpoint = embedded.endpoint
            embeddedSocket = embedded.socket
        }
        defer { embeddedSocket?.close() }

        let session: AgentSession
        let welcome: Copa_Protocol_V1_Welcome
        do {
            session = try await AgentSession(endpoint: endpoint, options: options)
            welcome = try await session.hello()
        } catch {
            printError("\(error)")
            return ExitCodes.agentUnreachable
        }
        printer.connected(welcome, endpoint: agent ?? "embedded")

        let size = Envelope(.submit(submit)).frame().count
        let limit = min(welcome.maxSubmitBytes > 0 ? Int(clamping: welcome.maxSubmitBytes) : .max, WireLimits.frameBytes)
        guard size <= limit else {
            printError("the job is \(size) bytes on the wire; the agent accepts at most \(limit): split the report, or ask the agent's owner to raise limits.max_submit_bytes")
            return ExitCodes.invalidInput
        }
        let link = JobLink(session)
        let jobID = submit.jobID
        // Ctrl-C stops the job on the agent too, rather than leaving it to
        // run out the agent's resume window.
        let interrupt = SignalHandler(SIGINT) {
            Task {
                await link.cancel(jobID: jobID, reason: "the client was interrupted")
                try? await Task.sleep(for: .milliseconds(300))
                exit(ExitCodes.interrupted)
            }
        }
        defer {
            interrupt.cancel()
            Task { await link.close() }
        }
        let updates = try await session.submit(submit)
        let printer = printer
        let reconnect = Reconnect(endpoint: endpoint, options: options, welcome: welcome)
        // The agent enforces the timeout; this watchdog covers an agent that
        // never concludes the job although it keeps answering.
        let watchdog = timeout + .seconds(60)
        do {
            return try await withThrowingTaskGroup(of: Int32.self) { group in
                group.addTask {
                    try await Self.follow(jobID, updates, link: link, reconnect: reconnect, printer: printer)
                }
                group.addTask {
                    try await Task.sleep(for: watchdog)
                    await link.cancel(jobID: jobID, reason: "the client gave up waiting")
                    throw JobWatchdogExpired(message: "no result from the agent within \(watchdog); the job was cancelled")
                }
                defer { group.cancelAll() }
                return try await group.next() ?? ExitCodes.agentUnreachable
            }
        } catch let error as JobWatchdogExpired {
            printError("\(error)")
            return ExitCodes.cancelled
        } catch {
            printError("\(error)")
            return ExitCodes.agentUnreachable
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
                               reconnect: Reconnect, printer: JobPrinter) async throws -> Int32 {
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
                        printer.result(result)
                        return 0
                    case .failure(let failure):
                        printer.failure(failure)
                        return exitCode(for: failure.code)
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

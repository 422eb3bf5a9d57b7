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
        defer { Task { await session.close() } }
        printer.connected(welcome, endpoint: agent ?? "embedded")

        let size = Envelope(.submit(submit)).frame().count
        let limit = min(welcome.maxSubmitBytes > 0 ? Int(clamping: welcome.maxSubmitBytes) : .max, WireLimits.frameBytes)
        guard size <= limit else {
            printError("the job is \(size) bytes on the wire; the agent accepts at most \(limit): split the report, or ask the agent's owner to raise limits.max_submit_bytes")
            return ExitCodes.invalidInput
        }
        let updates = try await session.submit(submit)
        let printer = printer
        // The agent enforces the timeout; this watchdog covers an agent that
        // never concludes the job although it keeps answering.
        let watchdog = timeout + .seconds(60)
        do {
            return try await withThrowingTaskGroup(of: Int32.self) { group in
                group.addTask { try await Self.follow(updates, printer: printer) }
                group.addTask {
                    try await Task.sleep(for: watchdog)
                    await session.cancel(jobID: submit.jobID, reason: "the client gave up waiting")
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

    private static func follow(_ updates: AsyncThrowingStream<JobUpdate, any Error>, printer: JobPrinter) async throws -> Int32 {
        for try await update in updates {
            switch update {
            case .accepted(let accepted): printer.accepted(accepted)
            case .event(let event): printer.event(event)
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

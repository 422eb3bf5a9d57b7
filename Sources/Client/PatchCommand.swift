import ArgumentParser
import Engine
import Foundation
import Logging
import Protocol

enum ProgressMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, plain, json
}


struct PatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch",
        abstract: "Patch an image's OS packages named in a scanner report.",
        discussion: """
            Without --agent the job runs on an agent embedded in this process. The result is the \
            original layers plus one patch layer, pushed to the registry (or written to the OCI layout) \
            under the target tag.
            """)

    @Option(name: [.short, .customLong("image")], help: "Image to patch: REGISTRY/REPO:TAG or oci:PATH[:TAG].")
    var image: String

    @Option(name: [.short, .customLong("report")],
            help: "Scanner report (Trivy JSON or Copa UpdateManifest JSON), or a directory of them, one per platform.")
    var report: String

    @Option(name: [.short, .customLong("tag")],
            help: "Target: a bare tag, or a full reference (another repository, or oci:PATH:TAG).")
    var tag: String?

    @Option(help: "Suffix for the default target tag (<tag>-<suffix>).")
    var tagSuffix = "patched"

    @Option(help: "Report format: trivy, or native (Copa v1alpha1/v1alpha2 UpdateManifest). Default: detect.")
    var scanner: ReportFormat?

    @Flag(help: "Report packages that cannot be patched as errors instead of failing.")
    var ignoreErrors = false

    @Option(help: "Give up after this long (e.g. 90s, 5m, 1h).")
    var timeout = "30m"

    @Option(help: "Progress output: auto, plain or json (one JSON object per line on stderr).")
    var progress: ProgressMode = .auto

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("Platforms to patch (os/arch[/variant], comma-separated or repeated).",
                               discussion: "Default: the platforms the reports are for; an index's other platforms are kept as they are."))
    var platform: [String] = []

    @Option(help: "Executor on the agent: auto, native or buildkit.")
    var executor = "auto"

    @Option(name: .customLong("insecure-registry"), help: "Registry reached over plain HTTP (repeatable).")
    var insecureRegistries: [String] = []

    @Option(help: "Apt archive to use instead of the URIs in the image's sources.")
    var aptMirror: String?

    @Option(name: .customLong("apt-source"), help: "A one-line apt source replacing the image's sources (repeatable).")
    var aptSources: [String] = []

    @Option(help: "Working directory of the embedded agent.")
    var workdir: String?

    @Option(help: "How many times a job whose agent is lost (died, partitioned) is submitted to another agent.")
    var maxResubmits = 2

    func run() async throws {
        let logger = Logger(label: "copa")
        let printer = JobPrinter(mode: progress)
        let targets: [ConnectionOptions.Target]
        let selector: LabelSelector?
        let reports: (reports: [PlatformReport], isDirectory: Bool)
        let target: String
        let timeoutDuration: Duration
        let requested: [Platform]
        do {
            targets = try connection.targets()
            selector = try connection.labelSelector()
            reports = try ReportSet.load(report, scanner: scanner)
            target = try TargetReference.resolve(image: image, tag: tag, suffix: tagSuffix, embedded: targets.isEmpty)
            guard let duration = DurationParser.parse(timeout) else {
                throw EngineError(.invalidInput, "--timeout \(timeout) is not a duration; use e.g. 90s, 5m or 1h")
            }
            timeoutDuration = duration
            requested = try platform.flatMap { $0.split(separator: ",") }
                .map { try Platform(parsing: $0.trimmingCharacters(in: .whitespaces)) }
            guard maxResubmits >= 0 else { throw ValidationError("--max-resubmits must be 0 or more") }
        } catch {
            printer.error("\(error)")
            throw ExitCode(ExitCodes.invalidInput)
        }
        for report in reports.reports { printer.reportSummary(report.parsed, source: report.path) }

        let runner = JobRunner(logger: logger, printer: printer)
        let pool: AgentPool
        do {
            pool = try await AgentPool.connect(targets, selector: selector, runner: runner,
                                               workdir: workdir ?? EmbeddedAgent.defaultWorkdir())
        } catch .noneReachable {
            throw ExitCode(ExitCodes.agentUnreachable)
        } catch .noneSelected(let message) {
            printer.error(message)
            throw ExitCode(ExitCodes.invalidInput)
        }
        let interrupt = ActiveJobs.cancelOnInterrupt()
        defer { interrupt.cancel() }
        let source = targets.isEmpty ? TargetReference.absolutizeLayout(image) : image
        let exitCode: Int32
        do {
            // Checked before anything is asked of the agents: a job one could never take.
            for report in reports.reports {
                let submit = makeSubmit(source: source, target: target, platform: nil, report: report, timeout: timeoutDuration)
                for connection in pool.connections {
                    if let tooLarge = JobRunner.tooLarge(submit, for: connection.welcome) {
                        throw EngineError(.invalidInput, tooLarge)
                    }
                }
            }
            let info = try await inspect(source, target: target, pool: pool)
            if info.isIndex {
                let plan = try PlatformPlan(image: image, info: info, reports: reports.reports,
                                            isDirectory: reports.isDirectory, requested: requested)
                exitCode = await patchIndex(plan, source: source, target: target, runner: runner,
                                            pool: pool, timeout: timeoutDuration)
            } else {
                let chosen = try singleImageJob(info: info, reports: reports.reports, requested: requested)
                let submit = makeSubmit(source: source, target: target, platform: chosen.platform, report: chosen.report,
                                        timeout: timeoutDuration)
                exitCode = await runPlaced(submit, platform: chosen.platform, executor: executor, pool: pool,
                                           runner: runner, printer: printer, timeout: timeoutDuration).exitCode
            }
        } catch let error as InspectFailure {
            printer.error(error.description)
            exitCode = JobRunner.exitCode(for: error.failure.code)
        } catch let error as AgentConnectionError {
            printer.error(error.description)
            exitCode = ExitCodes.agentUnreachable
        } catch {
            printer.error("\(error)")
            exitCode = ExitCodes.invalidInput
        }
        await pool.closeAll()
        if exitCode != 0 { throw ExitCode(exitCode) }
    }

    /// Asks the pool's agents in turn what the image is, until one answers.
    private func inspect(_ source: String, target: String, pool: AgentPool) async throws -> Copa_Protocol_V1_ImageInfo {
        var lastError: (any Error)?
        for connection in pool.connections {
            do {
                return try await connection.session.inspect(image: source, target: target, insecureRegistries: insecureRegistries)
            } catch let error as AgentConnectionError {
                lastError = error
                await pool.markLost(connection)
            }
        }
        throw lastError ?? AgentConnectionError(message: "no agent to ask what \(image) is")
    }

    /// Runs a job on the agent the pool picks; when that agent is lost, on
    /// another (a new job id), at most `--max-resubmits` times. The patched
    /// digest is deterministic, so a job that ran twice gives the same one.
    private func runPlaced(_ submit: Copa_Protocol_V1_Submit, platform: Platform?, executor: String, pool: AgentPool,
                           runner: JobRunner, printer: JobPrinter, timeout: Duration, final: Bool = true) async -> JobOutcome {
        var submit = submit
        var resubmits = 0
        while true {
            guard let placed = await pool.place(platform, executor: executor) else {
                if resubmits > 0 {
                    printer.error("no agent is left to resubmit the job to")
                    return .failed(ExitCodes.agentUnreachable)
                }
                printer.error("no agent patches \(platform.map(\.description) ?? "this image") with executor \(executor) (they patch: \(await pool.platforms.joined(separator: ", ")))")
                return .failed(ExitCodes.invalidInput)
            }
            if pool.connections.count > 1 {
                printer.note("runs on agent \(placed.welcome.agentName) (\(placed.name))")
            }
            let outcome = await runner.run(submit: submit, on: placed, timeout: timeout, printer: printer, final: final)
            await pool.finished(on: placed)
            guard case .lost(let why) = outcome else { return outcome }
            await pool.markLost(placed)
            guard resubmits < maxResubmits else {
                printer.error(why)
                return outcome
            }
            resubmits += 1
            printer.note("agent \(placed.welcome.agentName) (\(placed.name)) was lost (\(why)); resubmitting the job (\(resubmits) of at most \(maxResubmits))")
            submit.jobID = UUID().uuidString.lowercased()
        }
    }

    /// The one job of a single-platform image: its report, and its own
    /// platform (a --platform or report for another one is refused here,
    /// before any work).
    private func singleImageJob(info: Copa_Protocol_V1_ImageInfo, reports: [PlatformReport],
                                requested: [Platform]) throws -> (platform: Platform?, report: PlatformReport) {
        let own = info.platform.architecture.isEmpty ? nil : Platform(wire: info.platform)
        let wanted = requested.first ?? (reports.count == 1 ? reports.first?.platform : nil) ?? own
        if let own, let wanted, !wanted.matches(own) {
            throw EngineError(.invalidInput, """
                \(image) is a single-platform image for \(own), and the job is for \(wanted): \
                give --platform \(own) (or a report for \(own)), or patch an index that lists \(wanted)
                """)
        }
        guard requested.count <= 1 else {
            throw EngineError(.invalidInput, "\(image) is a single-platform image (\(own.map(\.description) ?? "of unknown platform")); give at most one --platform")
        }
        let report: PlatformReport
        if reports.count == 1, let only = reports.first {
            report = only
        } else if let match = reports.first(where: { $0.platform.map { p in (own ?? wanted).map { $0.matches(p) || p.matches($0) } ?? false } ?? false }) {
            report = match
        } else {
            throw EngineError(.invalidInput, "no report in \(self.report) is for \(own.map(\.description) ?? "this image's platform"), the platform of \(image)")
        }
        return (own ?? wanted, report)
    }

    private func makeSubmit(source: String, target: String, platform: Platform?, report: PlatformReport,
                            timeout: Duration) -> Copa_Protocol_V1_Submit {
        var submit = Copa_Protocol_V1_Submit()
        submit.jobID = UUID().uuidString.lowercased()
        submit.image = source
        submit.target = target
        if let platform { submit.platform = platform.wire }
        submit.manifest = report.parsed.manifest.wire
        submit.options = jobOptions(timeout: timeout)
        return submit
    }

    private func jobOptions(timeout: Duration) -> Copa_Protocol_V1_JobOptions {
        var options = Copa_Protocol_V1_JobOptions()
        options.ignoreErrors = ignoreErrors
        options.timeoutSeconds = UInt32(min(Double(UInt32.max), timeout.seconds))
        options.executor = executor
        options.insecureRegistries = insecureRegistries
        options.aptMirror = aptMirror ?? ""
        options.aptSources = aptSources
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], let value = Int64(epoch) {
            options.hasSourceDateEpoch_p = true
            options.sourceDateEpoch = value
        }
        return options
    }

    /// One job per platform (untagged), then the index with them under the
    /// target tag. Nothing is tagged unless every platform succeeded.
    private func patchIndex(_ plan: PlatformPlan, source: String, target: String, runner: JobRunner,
                            pool: AgentPool, timeout: Duration) async -> Int32 {
        let printer = runner.printer
        for job in plan.jobs where await !pool.canPatch(job.platform, executor: executor) {
            printer.error("no agent patches \(job.platform) with executor \(executor) (they patch: \(await pool.platforms.joined(separator: ", ")))")
            return ExitCodes.invalidInput
        }
        let keptPlatforms = plan.kept.map { entry in
            entry.attestation ? "attestation" : entry.platform.architecture.isEmpty ? entry.descriptor.digest : Platform(wire: entry.platform).description
        }
        printer.note("\(image) is an index: patching \(plan.jobs.map(\.platform.description).joined(separator: ", "))"
            + (keptPlatforms.isEmpty ? "" : "; keeping \(keptPlatforms.joined(separator: ", ")) as they are"))
        let outcomes = await withTaskGroup(of: (Int, JobOutcome).self) { group in
            for (position, job) in plan.jobs.enumerated() {
                var submit = makeSubmit(source: source, target: target, platform: job.platform, report: job.report, timeout: timeout)
                submit.untagged = true
                let labelled = printer.labelled(job.platform.description)
                let executor = executor
                group.addTask {
                    (position, await self.runPlaced(submit, platform: job.platform, executor: executor, pool: pool,
                                                    runner: runner, printer: labelled, timeout: timeout, final: false))
                }
            }
            var outcomes: [(Int, JobOutcome)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var patched: [Copa_Protocol_V1_PatchedManifest] = []
        for (job, outcome) in zip(plan.jobs, outcomes) {
            guard case .succeeded(let result) = outcome else { continue }
            var entry = Copa_Protocol_V1_PatchedManifest()
            entry.source = result.hasSourceManifest ? result.sourceManifest : Copa_Protocol_V1_Descriptor(job.entry)
            entry.patched = result.manifest
            patched.append(entry)
        }
        if let failed = outcomes.first(where: { $0.exitCode != 0 }) {
            let names = zip(plan.jobs, outcomes).filter { $0.1.exitCode != 0 }.map(\.0.platform.description)
            printer.error("\(names.joined(separator: ", ")) could not be patched; \(target) was not written (the other platforms' patched manifests are stored untagged)")
            return failed.exitCode
        }
        var assembly = Copa_Protocol_V1_Submit()
        assembly.jobID = UUID().uuidString.lowercased()
        assembly.image = source
        assembly.target = target
        assembly.assembly.manifests = patched
        assembly.options = jobOptions(timeout: timeout)
        return await runPlaced(assembly, platform: nil, executor: "auto", pool: pool, runner: runner,
                               printer: printer.labelled("index"), timeout: timeout).exitCode
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

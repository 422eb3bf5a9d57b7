import ArgumentParser
import CopaCore
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
    var image: String?

    @Option(help: "Copa's bulk configuration (kind: PatchConfig): many images and tags; -r names the report directory.")
    var config: String?

    @Option(help: "With --config: at most this many images patched at once (default: the pool's capacity).")
    var maxParallel: Int?

    @Option(help: "With --config: write the summary as JSON to this file.")
    var summary: String?

    @Option(name: [.short, .customLong("report")],
            help: "Scanner report (Trivy JSON or Copa UpdateManifest JSON), or a directory of them, one per platform (with --config: per image, matched by ArtifactName).")
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

    @Flag(help: "For an index, also tag each patched platform <target tag>-<arch>[-<variant>], as Copa does.")
    var platformTags = false

    @Option(help: "How many times a job whose agent is lost (died, partitioned) is submitted to another agent.")
    var maxResubmits = 2

    func validate() throws {
        if config == nil, image == nil { throw ValidationError("give -i IMAGE, or --config FILE for many") }
        if config != nil, image != nil || tag != nil {
            throw ValidationError("--config names its images and target tags: it cannot be used with -i or -t")
        }
        if let maxParallel, maxParallel < 1 { throw ValidationError("--max-parallel must be 1 or more") }
        if maxResubmits < 0 { throw ValidationError("--max-resubmits must be 0 or more") }
        if config == nil, maxParallel != nil || summary != nil {
            throw ValidationError("--max-parallel and --summary go with --config")
        }
    }

    func run() async throws {
        let logger = Logger(label: "copa")
        let printer = JobPrinter(mode: progress)
        let targets: [ConnectionOptions.Target]
        let selector: LabelSelector?
        let timeoutDuration: Duration
        let requested: [Platform]
        do {
            targets = try connection.targets()
            selector = try connection.labelSelector()
            guard let duration = DurationParser.parse(timeout) else {
                throw EngineError(.invalidInput, "--timeout \(timeout) is not a duration; use e.g. 90s, 5m or 1h")
            }
            timeoutDuration = duration
            requested = try platform.flatMap { $0.split(separator: ",") }
                .map { try Platform(parsing: $0.trimmingCharacters(in: .whitespaces)) }
        } catch {
            printer.error("\(error)")
            throw ExitCode(ExitCodes.invalidInput)
        }
        // Everything the command needs from files, read before any agent is asked.
        let single: ImagePatch?
        let bulk: (config: PatchConfig, reports: [String: [PlatformReport]])?
        do {
            if let config {
                single = nil
                bulk = (try PatchConfig.load(path: config), try ReportSet.loadByArtifact(report, scanner: scanner))
            } else {
                let image = image ?? ""
                let reports = try ReportSet.load(report, scanner: scanner)
                for report in reports.reports { printer.reportSummary(report.parsed, source: report.path) }
                let target = try TargetReference.resolve(image: image, tag: tag, suffix: tagSuffix, embedded: targets.isEmpty)
                single = ImagePatch(image: image, source: targets.isEmpty ? TargetReference.absolutizeLayout(image) : image,
                                    target: target, reports: reports.reports, isDirectory: reports.isDirectory,
                                    requested: requested)
                bulk = nil
            }
        } catch {
            printer.error("\(error)")
            throw ExitCode(ExitCodes.invalidInput)
        }

        let runner = JobRunner(logger: logger, printer: printer)
        let pool: AgentPool
        do {
            pool = try await AgentPool.connect(targets, selector: selector, runner: runner,
                                               workdir: workdir ?? EmbeddedAgentHook.defaultWorkdir())
        } catch .noneReachable {
            throw ExitCode(ExitCodes.agentUnreachable)
        } catch .noneSelected(let message) {
            printer.error(message)
            throw ExitCode(ExitCodes.invalidInput)
        }
        let interrupt = ActiveJobs.cancelOnInterrupt()
        defer { interrupt.cancel() }
        var patcher = Patcher(runner: runner, pool: pool, options: jobOptions(timeout: timeoutDuration), executor: executor,
                              maxResubmits: maxResubmits, insecureRegistries: insecureRegistries, timeout: timeoutDuration,
                              records: JobRecords())
        patcher.platformTags = platformTags
        let exitCode: Int32
        if let single {
            exitCode = await patcher.patch(single, printer: printer)
        } else if let bulk {
            exitCode = await BulkRun(config: bulk.config, reports: bulk.reports, reportDirectory: report,
                                     requested: requested, patcher: patcher, printer: printer,
                                     maxParallel: maxParallel, summaryPath: summary).run()
        } else {
            exitCode = ExitCodes.invalidInput
        }
        await pool.closeAll()
        if exitCode != 0 { throw ExitCode(exitCode) }
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

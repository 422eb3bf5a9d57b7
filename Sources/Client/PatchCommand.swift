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

    @Option(name: [.short, .customLong("report")], help: "Scanner report (Trivy JSON) or Copa UpdateManifest JSON.")
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

    @Option(help: "Platform to patch (os/arch[/variant]). Default: the report's architecture, else the agent's.")
    var platform: String?

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

    func run() async throws {
        let logger = Logger(label: "copa")
        let agent = connection.agent
        let socketOptions: SocketOptions
        let parsed: ParsedReport
        let target: String
        let timeoutDuration: Duration
        let platformValue: Platform?
        do {
            parsed = try ReportLoader.load(path: report, scanner: scanner)
            target = try TargetReference.resolve(image: image, tag: tag, suffix: tagSuffix, embedded: agent == nil)
            guard let duration = DurationParser.parse(timeout) else {
                throw EngineError(.invalidInput, "--timeout \(timeout) is not a duration; use e.g. 90s, 5m or 1h")
            }
            timeoutDuration = duration
            socketOptions = try connection.socketOptions()
            platformValue = try platform.map { try Platform(parsing: $0) }
                ?? (parsed.manifest.architecture.isEmpty ? nil : Platform(os: "linux", architecture: parsed.manifest.architecture, variant: nil))
        } catch {
            printError("\(error)")
            throw ExitCode(ExitCodes.invalidInput)
        }
        let printer = JobPrinter(mode: progress)
        printer.reportSummary(parsed, source: report)

        var submit = Copa_Protocol_V1_Submit()
        submit.jobID = UUID().uuidString.lowercased()
        submit.image = agent == nil ? TargetReference.absolutizeLayout(image) : image
        submit.target = target
        if let platformValue { submit.platform = platformValue.wire }
        submit.manifest = parsed.manifest.wire
        submit.options.ignoreErrors = ignoreErrors
        submit.options.timeoutSeconds = UInt32(min(Double(UInt32.max), timeoutDuration.seconds))
        submit.options.executor = executor
        submit.options.insecureRegistries = insecureRegistries
        submit.options.aptMirror = aptMirror ?? ""
        submit.options.aptSources = aptSources
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], let value = Int64(epoch) {
            submit.options.hasSourceDateEpoch_p = true
            submit.options.sourceDateEpoch = value
        }

        let exitCode = try await JobRunner(logger: logger, printer: printer).run(
            submit: submit, agent: agent, options: socketOptions,
            workdir: workdir ?? EmbeddedAgent.defaultWorkdir(), timeout: timeoutDuration)
        if exitCode != 0 { throw ExitCode(exitCode) }
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

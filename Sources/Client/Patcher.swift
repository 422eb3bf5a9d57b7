import CopaCore
import Foundation
import Protocol

/// One image to patch: where from, where to, with which reports.
struct ImagePatch: Sendable {
    /// As the user named it (for messages).
    let image: String
    /// As the agent gets it (an embedded agent's layout path made absolute).
    let source: String
    let target: String
    let reports: [PlatformReport]
    let isDirectory: Bool
    /// `--platform` (or a bulk entry's platforms); empty = the reports'.
    let requested: [Platform]
}

/// One row of the summary: a job (a platform, an index, a single image).
struct JobRecord: Sendable {
    var image: String
    var platform: String
    var agent: String
    var outcome: String
    var digest: String
    var seconds: Double
}

actor JobRecords {
    private(set) var rows: [JobRecord] = []
    func append(_ row: JobRecord) { rows.append(row) }
}

/// Patches images over a pool of agents: asks what the image is, runs one
/// job per platform (or the one of a single image) where the pool places it,
/// resubmits a job whose agent was lost, and writes an index last.
struct Patcher: Sendable {
    let runner: JobRunner
    let pool: AgentPool
    let options: Copa_Protocol_V1_JobOptions
    let executor: String
    let maxResubmits: Int
    let insecureRegistries: [String]
    let timeout: Duration
    let records: JobRecords
    /// Tag each patched platform of an index `<target tag>-<arch>[-<variant>]` too.
    var platformTags = false

    /// Returns the exit code for this image.
    func patch(_ patch: ImagePatch, printer: JobPrinter) async -> Int32 {
        do {
            // Checked before anything is asked of the agents: a job one could never take.
            for report in patch.reports {
                let submit = makeSubmit(patch, platform: nil, report: report)
                for connection in pool.connections {
                    if let tooLarge = JobRunner.tooLarge(submit, for: connection.welcome) {
                        throw EngineError(.invalidInput, tooLarge)
                    }
                }
            }
            let info = try await inspect(patch.source, target: patch.target)
            if info.isIndex {
                let plan = try PlatformPlan(image: patch.image, info: info, reports: patch.reports,
                                            isDirectory: patch.isDirectory, requested: patch.requested)
                return await patchIndex(patch, plan: plan, printer: printer)
            }
            let chosen = try singleImageJob(patch, info: info)
            let submit = makeSubmit(patch, platform: chosen.platform, report: chosen.report)
            return await runPlaced(submit, platform: chosen.platform, executor: executor, printer: printer,
                                   row: (patch.image, chosen.platform?.description ?? "-")).exitCode
        } catch let error as InspectFailure {
            printer.error(error.description)
            await records.append(JobRecord(image: patch.image, platform: "-", agent: "-", outcome: "failed: \(error.failure.code)",
                                           digest: "", seconds: 0))
            return JobRunner.exitCode(for: error.failure.code)
        } catch let error as AgentConnectionError {
            printer.error(error.description)
            await records.append(JobRecord(image: patch.image, platform: "-", agent: "-", outcome: "failed: agent unreachable",
                                           digest: "", seconds: 0))
            return ExitCodes.agentUnreachable
        } catch {
            printer.error("\(error)")
            await records.append(JobRecord(image: patch.image, platform: "-", agent: "-", outcome: "failed: invalid input",
                                           digest: "", seconds: 0))
            return ExitCodes.invalidInput
        }
    }

    /// Asks the pool's agents in turn what the image is, until one answers.
    func inspect(_ source: String, target: String = "", listTags: Bool = false) async throws -> Copa_Protocol_V1_ImageInfo {
        var lastError: (any Error)?
        for connection in pool.connections where await !pool.isLost(connection) {
            do {
                return try await connection.session.inspect(image: source, target: target, insecureRegistries: insecureRegistries,
                                                            listTags: listTags)
            } catch let error as AgentConnectionError {
                lastError = error
                await pool.markLost(connection)
            }
        }
        throw lastError ?? AgentConnectionError(message: "no agent is left to ask what \(source) is")
    }

    /// The one job of a single-platform image: its report, and its own
    /// platform (a --platform or report for another one is refused here,
    /// before any work).
    private func singleImageJob(_ patch: ImagePatch, info: Copa_Protocol_V1_ImageInfo) throws -> (platform: Platform?, report: PlatformReport) {
        let reports = patch.reports, requested = patch.requested
        let own = info.platform.architecture.isEmpty ? nil : Platform(wire: info.platform)
        let wanted = requested.first ?? (reports.count == 1 ? reports.first?.platform : nil) ?? own
        if let own, let wanted, !wanted.matches(own) {
            throw EngineError(.invalidInput, """
                \(patch.image) is a single-platform image for \(own), and the job is for \(wanted): \
                give --platform \(own) (or a report for \(own)), or patch an index that lists \(wanted)
                """)
        }
        guard requested.count <= 1 else {
            throw EngineError(.invalidInput, "\(patch.image) is a single-platform image (\(own.map(\.description) ?? "of unknown platform")); give at most one --platform")
        }
        let report: PlatformReport
        if reports.count == 1, let only = reports.first {
            report = only
        } else if let match = reports.first(where: { $0.platform.map { p in (own ?? wanted).map { $0.matches(p) || p.matches($0) } ?? false } ?? false }) {
            report = match
        } else {
            throw EngineError(.invalidInput, "no report is for \(own.map(\.description) ?? "the platform of \(patch.image)"), the platform of \(patch.image)")
        }
        return (own ?? wanted, report)
    }

    func makeSubmit(_ patch: ImagePatch, platform: Platform?, report: PlatformReport) -> Copa_Protocol_V1_Submit {
        var submit = Copa_Protocol_V1_Submit()
        submit.jobID = UUID().uuidString.lowercased()
        submit.image = patch.source
        submit.target = patch.target
        if let platform { submit.platform = platform.wire }
        submit.manifest = report.parsed.manifest.wire
        submit.options = options
        return submit
    }

    /// One job per platform (untagged), then the index with them under the
    /// target tag. Nothing is tagged unless every platform succeeded.
    private func patchIndex(_ patch: ImagePatch, plan: PlatformPlan, printer: JobPrinter) async -> Int32 {
        for job in plan.jobs where await !pool.canPatch(job.platform, executor: executor) {
            printer.error("no agent patches \(job.platform) with executor \(executor) (they patch: \(await pool.platforms.joined(separator: ", ")))")
            return ExitCodes.invalidInput
        }
        let keptPlatforms = plan.kept.map { entry in
            entry.attestation ? "attestation" : entry.platform.architecture.isEmpty ? entry.descriptor.digest : Platform(wire: entry.platform).description
        }
        printer.note("\(patch.image) is an index: patching \(plan.jobs.map(\.platform.description).joined(separator: ", "))"
            + (keptPlatforms.isEmpty ? "" : "; keeping \(keptPlatforms.joined(separator: ", ")) as they are"))
        let outcomes = await withTaskGroup(of: (Int, JobOutcome).self) { group in
            for (position, job) in plan.jobs.enumerated() {
                var submit = makeSubmit(patch, platform: job.platform, report: job.report)
                submit.untagged = true
                let labelled = printer.labelled(printer.label.map { "\($0) \(job.platform)" } ?? job.platform.description)
                group.addTask {
                    (position, await runPlaced(submit, platform: job.platform, executor: executor, printer: labelled,
                                               row: (patch.image, job.platform.description), final: false))
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
            entry.source = result.hasSourceManifest ? result.sourceManifest : job.entry
            entry.patched = result.manifest
            patched.append(entry)
        }
        if let failed = outcomes.first(where: { $0.exitCode != 0 }) {
            let names = zip(plan.jobs, outcomes).filter { $0.1.exitCode != 0 }.map(\.0.platform.description)
            printer.error("\(names.joined(separator: ", ")) could not be patched; \(patch.target) was not written (the other platforms' patched manifests are stored untagged)")
            return failed.exitCode
        }
        var assembly = Copa_Protocol_V1_Submit()
        assembly.jobID = UUID().uuidString.lowercased()
        assembly.image = patch.source
        assembly.target = patch.target
        assembly.assembly.manifests = patched
        assembly.assembly.platformTags = platformTags
        assembly.options = options
        return await runPlaced(assembly, platform: nil, executor: "auto",
                               printer: printer.labelled(printer.label.map { "\($0) index" } ?? "index"),
                               row: (patch.image, "index")).exitCode
    }

    /// Runs a job on the agent the pool picks; when that agent is lost, on
    /// another (a new job id), at most `maxResubmits` times. The patched
    /// digest is deterministic, so a job that ran twice gives the same one.
    private func runPlaced(_ submit: Copa_Protocol_V1_Submit, platform: Platform?, executor: String, printer: JobPrinter,
                           row: (image: String, platform: String), final: Bool = true) async -> JobOutcome {
        let (outcome, agent, seconds) = await placeAndRun(submit, platform: platform, executor: executor, printer: printer, final: final)
        let digest: String, text: String
        switch outcome {
        case .succeeded(let result): (digest, text) = (result.manifest.digest, "succeeded")
        case .failed(let code): (digest, text) = ("", "failed (exit \(code))")
        case .lost: (digest, text) = ("", "agent lost")
        }
        await records.append(JobRecord(image: row.image, platform: row.platform, agent: agent, outcome: text,
                                       digest: digest, seconds: seconds))
        return outcome
    }

    private func placeAndRun(_ submit: Copa_Protocol_V1_Submit, platform: Platform?, executor: String, printer: JobPrinter,
                             final: Bool) async -> (JobOutcome, String, Double) {
        var submit = submit
        var resubmits = 0
        // From the job's placement (not its wait for a free slot) to its end.
        var started = ContinuousClock.now
        let elapsed = { (ContinuousClock.now - started).seconds }
        while true {
            guard let placed = await pool.acquire(platform, executor: executor) else {
                if resubmits > 0 {
                    printer.error("no agent is left to resubmit the job to")
                    return (.failed(ExitCodes.agentUnreachable), "-", elapsed())
                }
                printer.error("no agent patches \(platform.map(\.description) ?? "this image") with executor \(executor) (they patch: \(await pool.platforms.joined(separator: ", ")))")
                return (.failed(ExitCodes.invalidInput), "-", elapsed())
            }
            if resubmits == 0 { started = ContinuousClock.now }
            if pool.connections.count > 1 { printer.placed(on: placed.welcome.agentName, endpoint: placed.name) }
            let outcome = await runner.run(submit: submit, on: placed, timeout: timeout, printer: printer, final: final)
            await pool.finished(on: placed)
            guard case .lost(let why) = outcome else { return (outcome, placed.welcome.agentName, elapsed()) }
            await pool.markLost(placed)
            guard resubmits < maxResubmits else {
                printer.error(why)
                return (outcome, placed.welcome.agentName, elapsed())
            }
            resubmits += 1
            printer.note("agent \(placed.welcome.agentName) (\(placed.name)) was lost (\(why)); resubmitting the job (\(resubmits) of at most \(maxResubmits))")
            submit.jobID = UUID().uuidString.lowercased()
        }
    }
}

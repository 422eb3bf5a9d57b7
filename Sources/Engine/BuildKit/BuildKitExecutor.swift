import AsyncHTTPClient
import BuildKitAPI
import Foundation
import Logging

/// Patches images with BuildKit: the image's own apt (or, for distroless
/// images, the tools of a matching Debian/Ubuntu image) runs inside
/// BuildKit's sandbox, and the changes become one layer on top of the
/// original ones:
///
///     image ──────────────┬──────────────────────────┐
///       └─ exec: apt-get update && apt-get install  │
///             (or: tooling image, image at /target)  │
///                 └─ diff(image → after) ─── merge(image, diff) ─→ push
///
/// The versions to install come from the same probe and resolver as the
/// native executor (which reads the image and the signed repositories as
/// data), so both executors install the same versions; the patched image is
/// read back and validated the same way.
public struct BuildKitExecutor: PatchExecutor {
    public struct Configuration: Sendable {
        public var address: BuildKitAddress
        public var tls = BuildKitTLS()
        /// The image that deploys packages into distroless targets (which
        /// have no apt and no shell). `{id}`, `{codename}` and `{version}` are
        /// replaced from the target's os-release. Nil: Debian's
        /// `debian:{codename}-slim`, or `ubuntu:{version}`.
        public var toolingImage: String?

        public init(address: BuildKitAddress) { self.address = address }
    }

    public let name = "buildkit"
    /// The platforms of BuildKit's workers (ListWorkers).
    public let platforms: [Platform]
    /// What BuildKit says it is (Info), for the welcome and logs.
    public let version: String
    let client: BuildKitClient
    let configuration: Configuration
    let planner: NativeExecutor
    let workdir: String
    let logger: Logger

    /// Connects, lists the workers and checks that BuildKit can run the
    /// patch graph (MergeOp and DiffOp); an older BuildKit fails here.
    public static func connect(_ configuration: Configuration, workdir: String, logger: Logger,
                               defaults: NativeExecutor.Defaults = .init(), httpClient: HTTPClient = RegistryClient.defaultHTTPClient) async throws -> BuildKitExecutor {
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
        let client = try BuildKitClient(address: configuration.address, tls: configuration.tls, scratch: workdir + "/run")
        do {
            let workers = try await client.listWorkers()
            var platforms: [Platform] = []
            for worker in workers {
                for platform in worker.platforms {
                    let value = Platform(os: platform.os, architecture: platform.architecture,
                                         variant: platform.variant.isEmpty ? nil : platform.variant)
                    if !platforms.contains(value) { platforms.append(value) }
                }
            }
            guard !platforms.isEmpty else {
                throw EngineError(.executor, "BuildKit at \(configuration.address) has no workers")
            }
            var version = "unknown"
            if let info = try? await client.info() {
                version = [info.package, info.version, info.revision].filter { !$0.isEmpty }.joined(separator: " ")
            }
            try await checkCapabilities(client, version: version)
            return BuildKitExecutor(
                platforms: platforms, version: version, client: client, configuration: configuration,
                planner: try NativeExecutor(workdir: workdir, logger: logger, defaults: defaults, httpClient: httpClient),
                workdir: workdir, logger: logger)
        } catch {
            client.close()
            throw error
        }
    }

    public func close() { client.close() }

    /// Auto picks BuildKit for registry images. OCI layouts stay native, and
    /// so do jobs that name their own apt sources or mirror: apt inside the
    /// image fetches from the image's sources, which the native executor
    /// replaces as asked.
    public func prefers(_ request: PatchRequest) -> Bool {
        guard request.options.aptSources.isEmpty, request.options.aptMirror == nil else { return false }
        if case .registry = request.image, case .registry = request.target { return true }
        return false
    }

    /// Solves a tiny graph that declares both capabilities: a file made on
    /// scratch, diffed against scratch and merged. BuildKit refuses it before
    /// running anything when it lacks either, and it costs nothing otherwise.
    /// `also` adds capabilities to require (tests use one no BuildKit has).
    static func checkCapabilities(_ client: BuildKitClient, version: String, also: [String] = []) async throws {
        var llb = LLBDefinition()
        var mkfile = Pb_FileActionMkFile()
        mkfile.path = "/copa-capability-check"
        mkfile.mode = 0o644
        var action = Pb_FileAction()
        action.input = -1
        action.secondaryInput = -1
        action.output = 0
        action.mkfile = mkfile
        var file = Pb_FileOp()
        file.actions = [action]
        var op = Pb_Op()
        op.file = file
        let made = try llb.add(op, name: "capability check: file", caps: ["file.base"] + also)
        var scratch = Pb_Op()
        var diff = Pb_DiffOp()
        diff.lower.input = -1
        diff.upper.input = 0
        scratch.inputs = [LLBDefinition.input(made)]
        scratch.diff = diff
        let changes = try llb.add(scratch, name: "capability check: diffop", caps: ["diffop"])
        let merged = try llb.merge([made, changes], name: "capability check: mergeop")
        var request = Moby_Buildkit_V1_SolveRequest()
        request.ref = "copa-capabilities-" + UUID().uuidString.lowercased()
        request.definition = try llb.definition(result: merged)
        request.internal = true
        do {
            _ = try await client.solve(request)
        } catch let error as EngineError {
            throw EngineError(.executor,
                "BuildKit at \(client.address) (\(version)) cannot run the patch graph: \(error.message). The BuildKit executor needs MergeOp and DiffOp: BuildKit v0.10 or later, or a Docker Engine with the containerd image store enabled (known to work: Docker Engine 26.1); use the embedded executor (--executor native) instead")
        }
    }

    public func patch(_ request: PatchRequest, reporter: any PatchReporter) async throws -> PatchResult {
        try NativeExecutor.checkFamily(request.manifest)
        guard case .registry(let sourceReference) = request.image, case .registry(let targetReference) = request.target else {
            throw EngineError(.invalidInput,
                "the BuildKit executor pulls from and pushes to registries; \(request.image) → \(request.target) names an OCI layout, which the native executor (--executor native) patches")
        }
        guard platforms.contains(where: { $0.matches(request.platform) }) else {
            throw EngineError(.invalidInput,
                "BuildKit at \(configuration.address) builds \(platforms.map(\.description).joined(separator: ", ")), not \(request.platform)")
        }
        return try await planner.withJob(request, reporter: reporter) { job in
            try await patch(request, job: job, source: sourceReference, target: targetReference, reporter: reporter)
        }
    }

    private func patch(_ request: PatchRequest, job: PatchJob, source sourceReference: RegistryReference,
                       target targetReference: RegistryReference, reporter: any PatchReporter) async throws -> PatchResult {
        let planned = try await job.prepare()
        if planned.base.previousPatch != nil {
            throw EngineError(.invalidInput,
                "\(request.image) already ends in a patch layer of this project; BuildKit can only add layers, so patch it again with --executor native, which replaces that layer")
        }
        guard !planned.plan.installs.isEmpty else {
            return try await job.publishUnchanged(planned.image, source: planned.source, plan: planned.plan)
        }

        let graph = try PatchGraph(planned: planned, source: sourceReference, platform: request.platform,
                                   toolingTemplate: configuration.toolingImage)
        await reporter.log(.info, "BuildKit \(version) at \(configuration.address): \(graph.summary)")
        if graph.path == .apt, !request.options.aptSources.isEmpty || request.options.aptMirror != nil || planner.defaults.aptMirror != nil {
            await reporter.log(.warning,
                "apt inside the image fetches from the image's own sources: the apt mirror/sources given chose the versions only")
        }
        let created = ImageExporter.createdTime(sourceDateEpoch: request.options.sourceDateEpoch, source: planned.image)
        let config = try ImageExporter.patchedConfig(source: planned.image, base: planned.base, created: created,
                                                     summary: job.summary(planned.plan), sourceReference: request.image.description)

        var solve = Moby_Buildkit_V1_SolveRequest()
        solve.ref = "copa-" + UUID().uuidString.lowercased()
        solve.definition = graph.definition
        solve.entitlements = ["network.host"]
        solve.exporterDeprecated = "image"
        var attributes = [
            "name": targetReference.description,
            "push": "true",
            "oci-mediatypes": planned.image.family == .oci ? "true" : "false",
            "containerimage.config": String(decoding: config.canonicalBytes(), as: UTF8.self),
        ]
        if job.registry.usesPlainHTTP(targetReference.registry) { attributes["registry.insecure"] = "true" }
        if request.options.untagged {
            // One platform of an index: pushed by digest, the index assembly tags it.
            attributes["name"] = "\(targetReference.registry)/\(targetReference.repository)"
            attributes["push-by-digest"] = "true"
        }
        solve.exporterAttrsDeprecated = attributes

        let exported = try await job.step("buildkit-solve") { try await run(solve, reporter: reporter) }
        guard let digestText = exported.exporterResponse["containerimage.digest"], let digest = try? Digest(digestText) else {
            throw EngineError(.executor, "BuildKit's image exporter returned no digest (response keys: \(exported.exporterResponse.keys.sorted().joined(separator: ", ")))")
        }
        return try await job.step("validate") {
            try await validate(job: job, planned: planned, pushed: .registry(targetReference.withDigest(digest)),
                               graph: graph, request: request)
        }
    }

    /// Solves while streaming BuildKit's status into the job's events. Task
    /// cancellation cancels the Solve call, which makes BuildKit stop.
    private func run(_ solve: Moby_Buildkit_V1_SolveRequest, reporter: any PatchReporter) async throws -> Moby_Buildkit_V1_SolveResponse {
        let progress = BuildKitProgress(reporter: reporter)
        let client = client
        return try await withThrowingTaskGroup(of: Moby_Buildkit_V1_SolveResponse?.self) { group in
            group.addTask {
                try? await client.status(ref: solve.ref) { await progress.handle($0) }
                return nil
            }
            let result: Result<Moby_Buildkit_V1_SolveResponse, any Error>
            do { result = .success(try await client.solve(solve)) } catch { result = .failure(error) }
            // Let the last status messages arrive (a failed step's output
            // too), then stop listening.
            try? await Task.sleep(for: .milliseconds(300))
            group.cancelAll()
            if case .failure(is EngineError) = result, let report = await progress.failureReport() {
                throw EngineError(.executor, "BuildKit step failed: \(report)")
            }
            return try result.get()
        }
    }

    /// Reads the pushed image back: the original layers unchanged plus one,
    /// and the dpkg database that layer leaves at the planned versions.
    private func validate(job: PatchJob, planned: PatchJob.Planned, pushed: ImageReference, graph: PatchGraph,
                          request: PatchRequest) async throws -> PatchResult {
        let source = try makeImageSource(pushed, client: job.registry)
        let image = try await source.resolve(platform: request.platform)
        let original = planned.image.layers.map(\.digest)
        guard image.layers.count == original.count + 1, Array(image.layers.map(\.digest).prefix(original.count)) == original else {
            throw EngineError(.validation,
                "BuildKit pushed \(image.layers.count) layers to \(request.target), expected the \(original.count) original layers plus one patch layer")
        }
        let layer = image.layers[original.count]
        try await job.fetchLayers([layer], from: source)
        let outcomes = try PatchValidator(cache: job.cache, layer: layer, probe: planned.probe, plan: planned.plan,
                                          ignoreErrors: request.options.ignoreErrors).validate()
        let diffIDs = try image.config.diffIDs()
        var result = PatchResult(reference: request.target.description, platform: request.platform, manifest: image.descriptor,
                                 config: image.manifest.config, patchLayer: layer, patchLayerDiffID: diffIDs.last ?? layer.digest,
                                 packages: outcomes, warnings: graph.warnings)
        result.sourceManifest = planned.image.descriptor
        result.sourceIndex = planned.image.index
        return result
    }
}

extension BuildKitExecutor: ImageOperations {
    public func withAssembler<T: Sendable>(options: PatchOptions, _ body: (IndexAssembler) async throws -> T) async throws -> T {
        try await planner.withAssembler(options: options, body)
    }
}

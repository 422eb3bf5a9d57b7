import Foundation

/// One run of the native pipeline: resolve image → fetch layers → probe →
/// repositories → resolve → fetch packages → apply → validate → export.
/// Each step is a small function; `step` reports it to the client.
struct PatchJob {
    let request: PatchRequest
    let reporter: any PatchReporter
    let defaults: NativeExecutor.Defaults
    let registry: RegistryClient
    let fetcher: HTTPFetcher
    /// Content-addressed blob cache shared by jobs (an OCI layout's blob store).
    let cache: OCILayout
    let scratch: String
    let indexCache: PackagesIndexCache

    /// What the steps up to the resolver found: shared by every executor, so
    /// they install the same versions for the same image and manifest.
    struct Planned {
        let source: any ImageSource
        let image: SourceImage
        let base: PatchBase
        let probe: ImageProbe
        let plan: ResolutionPlan
    }

    func run() async throws -> PatchResult {
        let planned = try await prepare()
        let (source, image, base, probe, plan) = (planned.source, planned.image, planned.base, planned.probe, planned.plan)
        // Nothing new: no install, or only the packages an earlier patch
        // layer of ours already holds at these versions.
        let onlyCarriedOver = plan.installs.allSatisfy { if case .carriedOver = $0.reason { true } else { false } }
        guard !plan.installs.isEmpty, !onlyCarriedOver else {
            return try await publishUnchanged(image, source: source, plan: plan)
        }
        let debs = try await step("fetch-packages") { try await fetchPackages(plan) }
        let created = ImageExporter.createdTime(sourceDateEpoch: request.options.sourceDateEpoch, source: image,
                                                packageTimes: debs.values.compactMap(ImageExporter.debBuildTime))
        let layer = try await step("apply") {
            try PatchLayerWriter(probe: probe, plan: plan, debs: debs, mtime: ImageExporter.epochSeconds(created),
                                 mediaType: image.family.layer(.gzip), cache: cache, scratch: scratch,
                                 architecture: try DebianArchitectureName(request.platform).name).write()
        }
        for note in layer.notes { await reporter.log(.info, note) }
        let outcomes = try await step("validate") {
            try PatchValidator(cache: cache, layer: layer.descriptor, probe: probe, plan: plan,
                               ignoreErrors: request.options.ignoreErrors).validate()
        }
        let built = try ImageExporter.build(source: image, base: base, patchLayer: layer.descriptor, diffID: layer.diffID,
                                            created: created, summary: summary(plan), sourceReference: request.image.description)
        let destination = try makeImageDestination(request.target, client: registry)
        let written = try await step("export") {
            try await ImageExporter.publish(built, to: destination, tag: targetTag, listed: request.options.untagged, source: source, cache: cache)
        }
        var result = PatchResult(reference: request.target.description, platform: request.platform, manifest: written,
                                 config: built.config, patchLayer: layer.descriptor, patchLayerDiffID: layer.diffID,
                                 packages: outcomes, warnings: layer.warnings)
        result.sourceManifest = image.descriptor
        result.sourceIndex = image.index
        return result
    }

    /// The tag the patched manifest is written under: none for one platform
    /// of an index, which the index assembly tags.
    var targetTag: String? { request.options.untagged ? nil : request.target.tagName }

    /// resolve image → fetch layers → probe → repositories → resolve.
    func prepare() async throws -> Planned {
        let source = try makeImageSource(request.image, client: registry)
        let image = try await step("resolve-image") {
            try await source.resolve(platform: request.platform)
        }
        let base = try PatchBase(image)
        try await step("fetch-layers") { try await fetchLayers(image.layers, from: source) }
        let probe = try await step("probe") { try ImageProbe(layers: base.baseLayers, previousPatch: base.previousPatch, cache: cache) }
        try probe.checkSupported()
        await reporter.log(.info, "image: \(probe.osRelease.prettyName), \(probe.database.installed.count) packages (\(probe.databaseLayout))")
        let carriedOver = try await step("previous-patch") { await carriedOverPackages(probe) }
        let architecture = try DebianArchitectureName(request.platform)
        let available = try await step("repositories") {
            try await RepositoryLoader(fetcher: fetcher, scratch: scratch, reporter: reporter, cache: indexCache)
                .load(sources: try probe.aptSources(options: request.options, defaults: defaults),
                      keyrings: try probe.keyrings(scratch: scratch, extra: defaults.extraKeyrings),
                      architecture: architecture.name)
        }
        let plan = try await step("resolve") {
            try Resolver(database: probe.database, available: available, architecture: architecture.name,
                         ignoreErrors: request.options.ignoreErrors)
                .resolve(request.manifest.updates, carriedOver: carriedOver)
        }
        for install in plan.orderedInstalls {
            await reporter.log(.info, "install \(install.package.name) \(install.replacing.map { "\($0.version) → " } ?? "")\(install.package.version)")
        }
        return Planned(source: source, image: image, base: base, probe: probe, plan: plan)
    }

    /// Runs one step, reporting its start and end (and failure) to the client.
    func step<T: Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        try Task.checkCancellation()
        await reporter.step(name, .started, detail: "")
        do {
            let value = try await body()
            await reporter.step(name, .completed, detail: "")
            return value
        } catch {
            await reporter.step(name, .failed, detail: "\(error)")
            throw error
        }
    }

    func summary(_ plan: ResolutionPlan) -> String {
        let names = plan.orderedInstalls.map { "\($0.package.name)=\($0.package.version)" }
        return "patched OS packages: " + names.joined(separator: " ")
    }

    /// Downloads every layer into the cache (verifying its digest) unless it is there.
    func fetchLayers(_ layers: [Descriptor], from source: any ImageSource) async throws {
        var done: UInt64 = 0
        let total = UInt64(layers.reduce(0) { $0 + max(0, $1.size) })
        for layer in layers {
            try Task.checkCancellation()
            if !cache.hasBlob(layer) {
                let writer = try cache.blobWriter(expecting: layer)
                try await source.fetchBlob(layer, to: writer)
                _ = try writer.commit()
            }
            done += UInt64(max(0, layer.size))
            await reporter.progress(step: "fetch-layers", current: done, total: total, unit: "bytes")
        }
    }

    /// Packages an earlier patch layer of ours installed or changed: they are
    /// installed again so replacing that layer loses none of its fixes.
    private func carriedOverPackages(_ probe: ImageProbe) async -> [Resolver.CarriedOver] {
        guard let current = probe.databaseWithPreviousPatch else { return [] }
        var carried: [Resolver.CarriedOver] = []
        for package in current.installed where package.isInstalled {
            let before = probe.database.packages(named: package.name)
                .first { $0.isInstalled && $0.architecture == package.architecture }
            if before?.version != package.version {
                carried.append(.init(name: package.name, architecture: package.architecture, version: package.version))
            }
        }
        await reporter.log(.info, "replacing the earlier patch layer (\(carried.count) package(s) carried over)")
        return carried
    }

    /// Downloads the planned .debs, each checked against the SHA-256 and size
    /// of the signed index, into the cache's scratch area.
    private func fetchPackages(_ plan: ResolutionPlan) async throws -> [String: String] {
        var paths: [String: String] = [:]
        let installs = plan.orderedInstalls
        for (index, install) in installs.enumerated() {
            try Task.checkCancellation()
            let package = install.package
            let path = scratch + "/\(package.sha256).deb"
            let sink = SHA256Sink(downstream: try FileSink(path: path))
            guard try await fetcher.download(package.url, to: sink, limit: package.size) != nil else {
                throw EngineError(.packageNotFound, "\(package.url) is missing from the repository (HTTP 404)")
            }
            try sink.finish()
            let (digest, size) = sink.finalize()
            guard digest.encoded == package.sha256, size == package.size else {
                throw EngineError(.verification,
                    "\(package.url) does not match the repository index (sha256 \(digest.encoded), \(size) bytes; expected \(package.sha256), \(package.size) bytes)")
            }
            paths[package.sha256] = path
            await reporter.progress(step: "fetch-packages", current: UInt64(index + 1), total: UInt64(installs.count), unit: "packages")
        }
        return paths
    }

    /// Nothing to install: the target gets the source image as it is.
    func publishUnchanged(_ image: SourceImage, source: any ImageSource, plan: ResolutionPlan) async throws -> PatchResult {
        await reporter.log(.info, "nothing to change: every package is already at its fixed version, so the target is the source image unchanged")
        let destination = try makeImageDestination(request.target, client: registry)
        let built = ImageExporter.Built(configBytes: image.configBytes, config: image.manifest.config,
                                        manifestBytes: image.manifestBytes, manifest: image.descriptor, layers: image.layers)
        let written = try await step("export") {
            try await ImageExporter.publish(built, to: destination, tag: targetTag, listed: request.options.untagged, source: source, cache: cache)
        }
        let diffIDs = try image.config.diffIDs()
        var result = PatchResult(reference: request.target.description, platform: request.platform, manifest: written,
                                 config: image.manifest.config, patchLayer: image.layers.last ?? image.manifest.config,
                                 patchLayerDiffID: diffIDs.last ?? image.manifest.config.digest,
                                 packages: plan.outcomes, warnings: [])
        result.sourceManifest = image.descriptor
        result.sourceIndex = image.index
        return result
    }
}

import Engine
import Foundation
import Protocol

/// Image work that is not a patch: Inspect (what a reference holds, for a
/// client planning one job per platform) and index assembly jobs.
extension Agent {
    /// At most this many Inspects run at once on an agent; more are refused.
    static let maxInspections = 16
    /// An Inspect that takes longer fails.
    static let inspectTimeout: Duration = .seconds(60)

    /// The executor that reads and writes images for non-patch work.
    var imageOperations: (any ImageOperations)? {
        executors.lazy.compactMap { $0 as? any ImageOperations }.first
    }

    func inspect(_ request: Copa_Protocol_V1_Inspect, from inbound: AgentSocket.Inbound) {
        let limits = configuration.limits
        let id = String(decoding: request.requestID.utf8.prefix(limits.maxJobIDBytes), as: UTF8.self)
        let peer = inbound.peer
        let answerFailure = { (code: Copa_Protocol_V1_ErrorCode, message: String, rule: String) in
            self.failUnregistered(JobKey(peer: peer, id: id), code, message, rule: rule)
        }
        guard request.requestID.utf8.count <= limits.maxJobIDBytes, request.image.utf8.count <= limits.maxReferenceBytes,
              request.target.utf8.count <= limits.maxReferenceBytes,
              request.insecureRegistries.count <= 64, request.insecureRegistries.allSatisfy({ $0.utf8.count <= limits.maxReferenceBytes }) else {
            return answerFailure(.forbidden, "an Inspect's request id, image or registries are longer than this agent allows", "limits.max_field_bytes")
        }
        guard let images = imageOperations else {
            return answerFailure(.unsupportedPlatform, "this agent has no executor that reads images", "")
        }
        guard inspections < Self.maxInspections else {
            return answerFailure(.forbidden, "\(inspections) Inspects are running on this agent, its limit; try again shortly", "limits.max_inspections")
        }
        var options = PatchOptions()
        options.insecureRegistries = request.insecureRegistries
        let reference: ImageReference
        do {
            let parsed = try ImageReference(parsing: request.image)
            let rules = configuration.policy.rules(for: inbound.userID)
            reference = try rules.authorizeRead(parsed, insecureRegistries: request.insecureRegistries)
            if !request.target.isEmpty {
                _ = try rules.authorizeWrite(try ImageReference(parsing: request.target), source: parsed)
            }
        } catch let refusal as PolicyRefusal {
            configuration.metrics?.refused(rule: refusal.rule)
            logger.warning("inspect refused", metadata: ["request": "\(id)", "rule": "\(refusal.rule)", "reason": "\(refusal.message)"])
            return answerFailure(.forbidden, refusal.description, refusal.rule)
        } catch {
            let (code, message) = Self.classify(error)
            return answerFailure(code, message, "")
        }
        inspections += 1
        let timeout = Self.inspectTimeout
        let readOptions = options
        let listTags = request.listTags
        Task {
            let outcome: Result<ImageSummary, any Error> = await Self.withTimeout(timeout, what: "reading \(reference)") {
                try await images.withAssembler(options: readOptions) { assembler in
                    guard listTags else { return try await assembler.inspect(reference) }
                    var summary = ImageSummary(descriptor: Descriptor(of: [], mediaType: .ociIndex), isIndex: false,
                                               entries: [], platform: nil, annotations: [:])
                    summary.tags = try await assembler.listTags(reference)
                    return summary
                }
            }
            await self.inspected(id: id, peer: peer, outcome: outcome)
        }
    }

    private func inspected(id: String, peer: AgentSocket.PeerID, outcome: Result<ImageSummary, any Error>) {
        inspections -= 1
        switch outcome {
        case .success(let summary):
            var info = summary.wire
            info.requestID = id
            post(Envelope(.imageInfo(info)), to: peer)
        case .failure(let error):
            let (code, message) = Self.classify(error)
            failUnregistered(JobKey(peer: peer, id: id), code, message)
        }
    }

    static func withTimeout<T: Sendable>(_ timeout: Duration, what: String,
                                         _ body: @escaping @Sendable () async throws -> T) async -> Result<T, any Error> {
        await withTaskGroup(of: Result<T, any Error>?.self) { group in
            group.addTask {
                do { return .success(try await body()) } catch { return .failure(error) }
            }
            group.addTask {
                guard (try? await Task.sleep(for: timeout)) != nil else { return nil }
                return .failure(EngineError(.registry, "\(what) took longer than \(timeout)"))
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let next { return next }
            }
            return .failure(CancellationError())
        }
    }

    /// The executor of an assembly job (Submit.assembly).
    func assemblyExecutor(_ assembly: Copa_Protocol_V1_IndexAssembly) throws -> any PatchExecutor {
        guard let images = imageOperations else {
            throw ProtocolError(.unsupportedPlatform, "this agent has no executor that writes images")
        }
        let replacements = try assembly.manifests.map { entry in
            PatchedManifest(source: try Descriptor(wire: entry.source), patched: try Descriptor(wire: entry.patched))
        }
        return IndexAssemblyExecutor(images: images, replacements: replacements, platformTags: assembly.platformTags)
    }
}

/// Writes a patched index: the source index with its patched platforms
/// replaced, everything else kept, under the target's tag.
struct IndexAssemblyExecutor: PatchExecutor {
    let name = "index"
    let platforms: [Platform] = []
    let images: any ImageOperations
    let replacements: [PatchedManifest]
    let platformTags: Bool

    func patch(_ request: PatchRequest, reporter: any PatchReporter) async throws -> PatchResult {
        let replacements = replacements, platformTags = platformTags
        return try await images.withAssembler(options: request.options) { assembler in
            let written = try await assembler.assemble(request.image, target: request.target, replacements: replacements,
                                                       sourceDateEpoch: request.options.sourceDateEpoch,
                                                       platformTags: platformTags, reporter: reporter)
            await reporter.log(.info, "index \(written.digest): \(replacements.count) platform(s) patched, the rest kept")
            var result = PatchResult(reference: request.target.description, platform: request.platform, manifest: written,
                                     config: written, patchLayer: written, patchLayerDiffID: written.digest,
                                     packages: [], warnings: [])
            result.isIndex = true
            return result
        }
    }
}

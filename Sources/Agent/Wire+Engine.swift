import Engine
import Protocol

// Explicit conversions between the protobuf wire types and the engine's
// model. Wire types never enter the engine.

extension PatchRequest {
    /// Validates a Submit: references parse, the platform is complete.
    public init(wire submit: Copa_Protocol_V1_Submit) throws {
        let image = try ImageReference(parsing: submit.image)
        let target = try ImageReference(parsing: submit.target)
        let platform = submit.hasPlatform && !submit.platform.architecture.isEmpty
            ? Platform(wire: submit.platform) : Platform.host
        var options = PatchOptions()
        options.ignoreErrors = submit.options.ignoreErrors
        options.insecureRegistries = submit.options.insecureRegistries
        options.aptMirror = submit.options.aptMirror.isEmpty ? nil : submit.options.aptMirror
        options.aptSources = submit.options.aptSources
        options.sourceDateEpoch = submit.options.hasSourceDateEpoch_p ? submit.options.sourceDateEpoch : nil
        options.untagged = submit.untagged
        self.init(image: image, target: target, platform: platform,
                  manifest: UpdateManifest(wire: submit.manifest), options: options)
    }
}

extension Copa_Protocol_V1_Descriptor {
    public init(_ descriptor: Descriptor) {
        self.init()
        mediaType = descriptor.mediaType.rawValue
        digest = descriptor.digest.description
        size = descriptor.size
    }
}

extension Copa_Protocol_V1_Result {
    public init(_ result: PatchResult) {
        self.init()
        image = result.reference
        manifest = Copa_Protocol_V1_Descriptor(result.manifest)
        if !result.isIndex {
            platform = result.platform.wire
            config = Copa_Protocol_V1_Descriptor(result.config)
            patchLayer = Copa_Protocol_V1_Descriptor(result.patchLayer)
            patchLayerDiffID = result.patchLayerDiffID.description
        }
        if let source = result.sourceManifest { sourceManifest = Copa_Protocol_V1_Descriptor(source) }
        if let index = result.sourceIndex { sourceIndex = Copa_Protocol_V1_Descriptor(index) }
        packages = result.packages.map { outcome in
            var wire = Copa_Protocol_V1_PackageOutcome()
            wire.name = outcome.name
            wire.fromVersion = outcome.fromVersion
            wire.toVersion = outcome.toVersion
            wire.fixedVersion = outcome.fixedVersion
            wire.outcome = outcome.kind.wire
            wire.message = outcome.message
            return wire
        }
        warnings = result.warnings.map { warning in
            var wire = Copa_Protocol_V1_Warning()
            wire.package = warning.package
            wire.kind = warning.kind
            wire.message = warning.message
            return wire
        }
    }
}

extension PackageOutcome.Kind {
    var wire: Copa_Protocol_V1_PackageOutcome.Outcome {
        switch self {
        case .updated: .updated
        case .added: .added
        case .alreadyFixed: .alreadyFixed
        case .errored: .errored
        case .notInstalled: .notInstalled
        }
    }
}

extension LogLevel {
    var wire: Copa_Protocol_V1_LogLine.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        }
    }
}

extension StepState {
    var wire: Copa_Protocol_V1_Step.State {
        switch self {
        case .started: .started
        case .completed: .completed
        case .failed: .failed
        case .skipped: .skipped
        }
    }
}

extension EngineError {
    public var wireCode: Copa_Protocol_V1_ErrorCode {
        switch code {
        case .invalidInput: .invalidInput
        case .unsupportedOS: .unsupportedOs
        case .imageNotFound: .imageNotFound
        case .registry: .registry
        case .verification: .verification
        case .packageNotFound: .packageNotFound
        case .dependency: .dependency
        case .archive: .archive
        case .io: .io
        case .validation: .validation
        case .cancelled: .cancelled
        case .executor: .executor
        case .forbidden: .forbidden
        case .internal: .internal
        }
    }
}

extension Descriptor {
    /// A descriptor from the wire: the media type, digest and size only.
    public init(wire: Copa_Protocol_V1_Descriptor) throws {
        guard wire.size >= 0 else { throw ProtocolError(.invalidInput, "a descriptor's size is negative") }
        self.init(mediaType: MediaType(wire.mediaType), digest: try Digest(wire.digest), size: wire.size)
    }
}

extension ImageSummary {
    public var wire: Copa_Protocol_V1_ImageInfo {
        var info = Copa_Protocol_V1_ImageInfo()
        info.descriptor = Copa_Protocol_V1_Descriptor(descriptor)
        info.isIndex = isIndex
        info.entries = entries.map { entry in
            var wire = Copa_Protocol_V1_IndexEntry()
            wire.descriptor = Copa_Protocol_V1_Descriptor(entry.descriptor)
            if let platform = entry.platform { wire.platform = platform.wire }
            wire.attestation = entry.isAttestation
            return wire
        }
        if let platform { info.platform = platform.wire }
        info.annotations = annotations
        info.tags = tags
        return info
    }
}

/// The seam between the agent and the ways it can patch an image. The
/// embedded native executor edits layers as data; a BuildKit executor runs the
/// image's own package manager inside BuildKit. Both take the same request and
/// give the same result, so the agent and the protocol do not care which ran.
public protocol PatchExecutor: Sendable {
    /// "native", "buildkit".
    var name: String { get }
    /// Platforms this executor can patch.
    var platforms: [Platform] { get }
    /// Shown to clients next to the name (a BuildKit executor: BuildKit's version).
    var version: String { get }
    /// Whether `--executor auto` may pick this executor for `request`.
    func prefers(_ request: PatchRequest) -> Bool
    func patch(_ request: PatchRequest, reporter: any PatchReporter) async throws -> PatchResult
}

extension PatchExecutor {
    public var version: String { "" }
    public func prefers(_ request: PatchRequest) -> Bool { true }
}

/// What one job asks for.
public struct PatchRequest: Sendable {
    public var image: ImageReference
    public var target: ImageReference
    public var platform: Platform
    public var manifest: UpdateManifest
    public var options: PatchOptions

    public init(image: ImageReference, target: ImageReference, platform: Platform, manifest: UpdateManifest, options: PatchOptions) {
        self.image = image
        self.target = target
        self.platform = platform
        self.manifest = manifest
        self.options = options
    }
}

public struct PatchOptions: Sendable {
    /// Report packages that cannot be patched as errored instead of failing the job.
    public var ignoreErrors = false
    /// Registries reached over plain HTTP (loopback always is).
    public var insecureRegistries: [String] = []
    /// Replaces the URI of the image's apt sources (keeping suites and components).
    public var aptMirror: String?
    /// Replaces the image's apt sources altogether (one-line `deb ...` entries).
    public var aptSources: [String] = []
    /// Seconds since the epoch for the patch layer's times and the config's
    /// `created`; nil = the source image's `created`.
    public var sourceDateEpoch: Int64?
    /// Whether apt fetches may reach link-local and cloud metadata addresses
    /// (the agent's policy decides; the embedded agent allows them).
    public var allowPrivateAddresses = true
    /// Write the patched manifest by digest only and tag nothing (one
    /// platform of an index; the index is tagged once all are done).
    public var untagged = false

    public init() {}
}

/// What happened to one package of the manifest (or one pulled in for it).
public struct PackageOutcome: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case updated, added, alreadyFixed = "already-fixed", errored, notInstalled = "not-installed"
    }
    public var name: String
    public var fromVersion: String
    public var toVersion: String
    public var fixedVersion: String
    public var kind: Kind
    public var message: String

    public init(name: String, fromVersion: String, toVersion: String, fixedVersion: String, kind: Kind, message: String = "") {
        self.name = name
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.fixedVersion = fixedVersion
        self.kind = kind
        self.message = message
    }
}

/// Something the user should know about the patched image: mostly what a
/// maintainer script or trigger would have done and did not.
public struct PatchWarning: Sendable, Hashable {
    public var package: String
    public var kind: String
    public var message: String
    public init(package: String, kind: String, message: String) {
        self.package = package
        self.kind = kind
        self.message = message
    }
}

public struct PatchResult: Sendable {
    public var reference: String
    public var platform: Platform
    public var manifest: Descriptor
    public var config: Descriptor
    public var patchLayer: Descriptor
    public var patchLayerDiffID: Digest
    public var packages: [PackageOutcome]
    public var warnings: [PatchWarning]
    /// The manifest that was patched, and the index it was chosen from.
    public var sourceManifest: Descriptor?
    public var sourceIndex: Descriptor?
    /// The job wrote an index (an assembly): `manifest` is the index, and
    /// there is no config or patch layer of its own.
    public var isIndex = false

    public init(reference: String, platform: Platform, manifest: Descriptor, config: Descriptor, patchLayer: Descriptor,
                patchLayerDiffID: Digest, packages: [PackageOutcome], warnings: [PatchWarning]) {
        self.reference = reference
        self.platform = platform
        self.manifest = manifest
        self.config = config
        self.patchLayer = patchLayer
        self.patchLayerDiffID = patchLayerDiffID
        self.packages = packages
        self.warnings = warnings
    }
}

/// Where an executor reports what it is doing; the agent turns these into
/// protocol events.
public protocol PatchReporter: Sendable {
    func log(_ level: LogLevel, _ message: String) async
    func step(_ name: String, _ state: StepState, detail: String) async
    func progress(step: String, current: UInt64, total: UInt64, unit: String) async
}

public enum LogLevel: String, Sendable { case debug, info, warning, error }
public enum StepState: String, Sendable { case started, completed, failed, skipped }

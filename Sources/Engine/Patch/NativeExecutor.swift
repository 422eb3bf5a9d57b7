import AsyncHTTPClient
import Foundation
import Logging

/// The embedded executor: patches Debian and Ubuntu images as data. It reads
/// layers, resolves updates against the image's signed apt repositories,
/// unpacks the new .debs into one new layer and rewrites the dpkg database the
/// way dpkg would leave it. It never runs code from the image, needs no
/// daemon, and can patch any architecture from any host.
public struct NativeExecutor: PatchExecutor {
    /// Agent-wide settings a job may override.
    public struct Defaults: Sendable {
        /// Used instead of the URIs in images' apt sources.
        public var aptMirror: String?
        /// Keyrings trusted in addition to the image's own.
        public var extraKeyrings: [String] = []
        public init() {}
    }

    public let name = "native"
    /// Debian ports whose images this executor patches. Nothing is executed,
    /// so the host's own architecture does not matter.
    public let platforms: [Platform] = [
        Platform(os: "linux", architecture: "amd64"),
        Platform(os: "linux", architecture: "arm64", variant: "v8"),
        Platform(os: "linux", architecture: "arm64"),
        Platform(os: "linux", architecture: "arm", variant: "v7"),
        Platform(os: "linux", architecture: "386"),
        Platform(os: "linux", architecture: "ppc64le"),
        Platform(os: "linux", architecture: "s390x"),
    ]

    let workdir: String
    let logger: Logger
    let defaults: Defaults
    let http: HTTPClient
    let indexCache = PackagesIndexCache()

    public init(workdir: String, logger: Logger, defaults: Defaults = Defaults(), httpClient: HTTPClient = RegistryClient.defaultHTTPClient) throws {
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
        self.workdir = workdir
        self.logger = logger
        self.defaults = defaults
        self.http = httpClient
    }

    /// OS families (as scanners name them) whose images this executor patches.
    public static let supportedFamilies = ["debian", "ubuntu"]

    public func patch(_ request: PatchRequest, reporter: any PatchReporter) async throws -> PatchResult {
        try Self.checkFamily(request.manifest)
        return try await withJob(request, reporter: reporter) { try await $0.run() }
    }

    /// Runs `body` with a job over this executor's registry client, fetcher
    /// and caches, in a scratch directory of its own that is removed after.
    func withJob<T>(_ request: PatchRequest, reporter: any PatchReporter,
                    _ body: (PatchJob) async throws -> T) async throws -> T {
        let scratch = workdir + "/jobs/" + UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        return try await body(try makeJob(request, reporter: reporter, scratch: scratch))
    }

    private func registryClient(_ options: PatchOptions) throws -> RegistryClient {
        var registryConfiguration = RegistryClient.Configuration()
        registryConfiguration.insecureRegistries = options.insecureRegistries
        registryConfiguration.credentials = try DockerConfig.load()
        return RegistryClient(configuration: registryConfiguration, httpClient: http)
    }

    private func makeJob(_ request: PatchRequest, reporter: any PatchReporter, scratch: String) throws -> PatchJob {
        PatchJob(
            request: request, reporter: reporter, defaults: defaults,
            registry: try registryClient(request.options),
            fetcher: HTTPFetcher(client: HTTPFetcher.sourcesClient, allowPrivateAddresses: request.options.allowPrivateAddresses),
            cache: try OCILayout.create(at: workdir + "/cache").touchingBlobs(),
            scratch: scratch, indexCache: indexCache)
    }

    /// Checks the family the report names before any work.
    static func checkFamily(_ manifest: UpdateManifest) throws {
        let family = manifest.os.family.lowercased()
        guard family.isEmpty || supportedFamilies.contains(family) else {
            throw EngineError(.unsupportedOS,
                "the report is for \(family) \(manifest.os.version); this project patches \(supportedFamilies.joined(separator: " and ")) images (dpkg) only")
        }
    }
}

extension NativeExecutor: ImageOperations {
    public func withAssembler<T: Sendable>(options: PatchOptions, _ body: (IndexAssembler) async throws -> T) async throws -> T {
        let scratch = workdir + "/jobs/" + UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        return try await body(IndexAssembler(registry: try registryClient(options), scratch: scratch))
    }
}

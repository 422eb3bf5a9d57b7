import Agent
import ArgumentParser
import Engine
import Foundation
import Logging
import Protocol

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copa-agent",
        abstract: "Run patch jobs for copa clients.",
        version: AgentVersion.current,
        subcommands: [Serve.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Listen for clients and run their jobs.")

    @Option(help: "ZeroMQ endpoint to bind: tcp://ADDR:PORT, ipc://PATH.")
    var listen = "tcp://127.0.0.1:7800"

    @Option(help: "Directory for downloaded blobs and packages.")
    var workdir = "/var/lib/copa-agent"

    @Option(help: "Jobs run at once; more are queued.")
    var maxJobs = 2

    @Option(help: "Name shown to clients.")
    var name = ProcessInfo.processInfo.hostName

    @Option(name: .customLong("label"),
            help: "A label clients select agents by (KEY=VALUE, as Kubernetes labels; repeatable), e.g. region=eu-west.")
    var labels: [String] = []

    @Option(help: "This agent's CURVE key file (`copa keygen --output`); clients then need its public key as --agent-key.")
    var curveSecretKeyFile: String?

    @Option(help: ArgumentHelp(
        "Client public keys accepted with CURVE: a file of `KEY NAME` lines, or a directory of such files. Reloaded on SIGHUP.",
        discussion: "Required with --curve-secret-key-file. A client whose key is not listed is refused at the handshake, and the agent logs its key."))
    var authorizedKeys: String?

    @Option(help: ArgumentHelp(
        "Policy file (YAML): which layouts, registries and apt hosts clients may use, and request limits.",
        discussion: "Without one: oci: layouts only under WORKDIR/layouts, pushes only beside the source image, apt only from the image's own sources and --apt-mirror. See docs/security.md."))
    var policy: String?

    @Flag(help: "Allow plain TCP (no CURVE) on an address other machines can reach: anyone who reaches the port may then submit jobs.")
    var insecureAllowPlaintext = false

    @Option(help: "Apt archive used instead of the URIs in images' sources, unless a job names its own.")
    var aptMirror: String?

    @Option(name: .customLong("keyring"), help: "Extra OpenPGP keyring trusted for repository signatures (repeatable).")
    var keyrings: [String] = []

    @Option(help: ArgumentHelp(
        "BuildKit to run jobs on: unix:///run/buildkit/buildkitd.sock, tcp://HOST:PORT or docker://unix:///var/run/docker.sock.",
        discussion: "With a BuildKit, --executor auto (the clients' default) patches registry images there; OCI layouts and --executor native use the embedded executor."))
    var buildkit: String?

    @Option(help: "CA certificate (PEM) that a tcp:// BuildKit's certificate must chain to.")
    var buildkitCacert: String?

    @Option(help: "Client certificate (PEM) for a tcp:// BuildKit that wants mutual TLS.")
    var buildkitCert: String?

    @Option(help: "Key (PEM) of --buildkit-cert.")
    var buildkitKey: String?

    @Option(help: ArgumentHelp(
        "Image that deploys packages into distroless images on BuildKit; {id}, {codename} and {version} come from the image's os-release.",
        discussion: "Default: docker.io/library/debian:{codename}-slim, or docker.io/library/ubuntu:{version}."))
    var toolingImage: String?

    @Option(help: "Log level: debug, info, warning, error.")
    var logLevel = "info"

    @Option(help: "Bound on the blob cache in WORKDIR/cache (e.g. 20G, 500M): least recently used blobs are removed after each job, never one a running job uses. Default: unbounded.")
    var cacheMaxSize: String?

    @Option(help: "Serve Prometheus metrics on HOST:PORT (GET /metrics), e.g. 127.0.0.1:9464.")
    var metricsListen: String?

    @Option(help: "Log format on stderr: text, or json (one object per line).")
    var logFormat = "text"

    @Option(help: "On SIGTERM: how long running jobs may go on (queued ones are cancelled, new ones refused) before they are cancelled, e.g. 90s, 5m.")
    var shutdownGrace = "60s"

    @Option(help: "How long a job whose client went away (disconnected, or silent for four heartbeats) keeps running, waiting for the client to reconnect and resume it; 0 cancels it at once.")
    var resumeWindow = "60s"

    @Option(help: "How often the agent and its clients exchange heartbeats while jobs run; four missed and the other side is taken as gone.")
    var heartbeatInterval = "2s"

    func validate() throws {
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format is text or json") }
        if let cacheMaxSize, Self.bytes(cacheMaxSize) == nil { throw ValidationError("--cache-max-size is a size such as 20G, 500M or a byte count") }
        guard DurationParser.parse(shutdownGrace, allowingZero: true) != nil else { throw ValidationError("--shutdown-grace is a duration such as 90s, 5m or 1h") }
        guard DurationParser.parse(resumeWindow, allowingZero: true) != nil else { throw ValidationError("--resume-window is a duration such as 60s or 5m, or 0") }
        guard let beat = DurationParser.parse(heartbeatInterval), beat >= .milliseconds(100), beat <= .seconds(60) else {
            throw ValidationError("--heartbeat-interval is a duration from 100ms to 60s")
        }
        if curveSecretKeyFile != nil, authorizedKeys == nil {
            throw ValidationError("--curve-secret-key-file needs --authorized-keys: the client keys this agent accepts (make them with `copa keygen --output NAME`)")
        }
        if authorizedKeys != nil, curveSecretKeyFile == nil {
            throw ValidationError("--authorized-keys needs --curve-secret-key-file: client keys are checked in the CURVE handshake")
        }
        if curveSecretKeyFile == nil, !insecureAllowPlaintext, !ListenAddress.isLocal(listen) {
            throw ValidationError("""
                \(listen) is reachable from other machines: give --curve-secret-key-file and --authorized-keys, \
                or --insecure-allow-plaintext to let anyone who reaches the port submit jobs
                """)
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "copa-agent")
        var options = SocketOptions()
        options.heartbeatInterval = DurationParser.parse(heartbeatInterval) ?? .seconds(2)
        var hangup: SignalHandler?
        if let curveSecretKeyFile, let authorizedKeys {
            let keys = try CurveKeyPair.load(path: curveSecretKeyFile)
            let ring = try AuthorizedKeyRing(path: authorizedKeys, logger: logger)
            options.curve = .server(secretKey: keys.secretKey)
            options.authorizer = ring
            logger.info("CURVE on", metadata: [
                "public_key": "\(keys.publicKey)", "authorized_keys": "\(authorizedKeys)", "clients": "\(ring.count)"])
            hangup = SignalHandler(SIGHUP) {
                do {
                    let count = try ring.reload()
                    logger.info("authorized keys reloaded", metadata: ["authorized_keys": "\(authorizedKeys)", "clients": "\(count)"])
                } catch {
                    logger.error("authorized keys not reloaded; the previous keys stay in force", metadata: ["error": "\(error)"])
                }
            }
        } else if !ListenAddress.isLocal(listen) {
            logger.warning("plain TCP on an address other machines reach: any client that reaches it may submit jobs",
                           metadata: ["listen": "\(listen)"])
        }
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
        // One agent per workdir: the journal and the job scratch are its own.
        let lock = open(workdir + "/agent.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            throw ValidationError("another copa-agent uses the workdir \(workdir) (it holds \(workdir)/agent.lock); give each agent its own --workdir")
        }
        let agentPolicy = try policy.map { try AgentPolicy.load(path: $0, workdir: workdir) }
            ?? AgentPolicy.remoteDefault(workdir: workdir)
        for root in agentPolicy.layoutRoots {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        logger.info("policy", metadata: ["file": "\(policy ?? "none: the default")",
                                         "layouts": "\(agentPolicy.rules.layoutWriteRoots?.joined(separator: ",") ?? "anywhere")"])
        var defaults = NativeExecutor.Defaults()
        defaults.aptMirror = aptMirror
        defaults.extraKeyrings = keyrings
        var executors: [any PatchExecutor] = []
        if let buildkit {
            var configuration = BuildKitExecutor.Configuration(address: try BuildKitAddress(parsing: buildkit))
            configuration.tls = BuildKitTLS(caCertificate: buildkitCacert, certificate: buildkitCert, key: buildkitKey)
            configuration.toolingImage = toolingImage
            let executor = try await BuildKitExecutor.connect(configuration, workdir: workdir, logger: logger, defaults: defaults)
            logger.info("BuildKit ready", metadata: [
                "address": "\(configuration.address)", "version": "\(executor.version)",
                "platforms": "\(executor.platforms.map(\.description).joined(separator: ","))"])
            executors.append(executor)
        }
        executors.append(try NativeExecutor(workdir: workdir, logger: logger, defaults: defaults))
        let socket = try await AgentSocket.bind(listen, options: options)
        var configuration = AgentConfiguration(name: name, maxJobs: maxJobs, workdir: workdir, limits: agentPolicy.limits)
        configuration.policy = agentPolicy
        configuration.labels = try Self.parseLabels(labels)
        configuration.journal = true
        configuration.resumeWindow = DurationParser.parse(resumeWindow, allowingZero: true) ?? .seconds(60)
        configuration.cacheMaxBytes = cacheMaxSize.flatMap(Self.bytes)
        var metricsServer: MetricsServer?
        if let metricsListen {
            let metrics = AgentMetrics()
            metricsServer = try MetricsServer(listen: metricsListen, metrics: metrics)
            configuration.metrics = metrics
            logger.info("metrics", metadata: ["listen": "\(metricsListen)", "port": "\(metricsServer?.port ?? 0)"])
        }
        configuration.mirrorHosts = aptMirror.flatMap { URLComponents(string: $0)?.host }.map { [$0] } ?? []
        let agent = Agent(configuration: configuration, executors: executors, logger: logger)
        let grace = DurationParser.parse(shutdownGrace, allowingZero: true) ?? .seconds(60)
        let terminate = SignalHandler(SIGTERM) {
            Task {
                await agent.drain(grace: grace)
                socket.close()
            }
        }
        await agent.serve(socket)
        terminate.cancel()
        _ = metricsServer
        hangup?.cancel()
        close(lock)
    }

    /// `20G`, `500M`, `64K` (powers of 1024) or plain bytes.
    static func parseLabels(_ values: [String]) throws -> [String: String] {
        var labels: [String: String] = [:]
        for value in values {
            guard let (key, text) = LabelSyntax.parse(value) else {
                throw ValidationError("--label \(value) is not KEY=VALUE with a Kubernetes label key and value (e.g. region=eu-west)")
            }
            labels[key] = text
        }
        return labels
    }

    static func bytes(_ text: String) -> Int64? {
        if let plain = Int64(text), plain >= 0 { return plain }
        guard let unit = text.uppercased().last, let number = Int64(text.dropLast()), number >= 0,
              let shift = ["K": 10, "M": 20, "G": 30, "T": 40][String(unit)] else { return nil }
        return number << Int64(shift)
    }
}

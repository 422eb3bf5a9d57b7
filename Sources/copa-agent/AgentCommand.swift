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

    @Option(help: "File holding this agent's CURVE secret key (Z85); clients then need --agent-key.")
    var curveSecretKeyFile: String?

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

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "copa-agent")
        var options = SocketOptions()
        if let curveSecretKeyFile {
            let key = try String(contentsOfFile: curveSecretKeyFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            options.curve = .server(secretKey: key)
        }
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
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
        let agent = Agent(
            configuration: AgentConfiguration(name: name, maxJobs: maxJobs, workdir: workdir),
            executors: executors, logger: logger)
        await agent.serve(socket)
    }
}

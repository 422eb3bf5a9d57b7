import ArgumentParser
import Foundation
import Protocol

/// How `copa` reaches an agent: where, the agent's key, and the client's own.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("agent"),
            help: "Agent endpoint (tcp://HOST:PORT, ipc://PATH); repeat for a pool. Default: an agent embedded in this process.")
    var agents: [String] = []

    @Option(name: .customLong("agents"), help: ArgumentHelp(
        "An inventory of agents (YAML: endpoint, key, labels per agent).",
        discussion: "Default: $COPA_AGENTS when no --agent is given."))
    var inventory: String?

    @Option(help: "Use only the agents whose labels match (Kubernetes syntax: 'region=eu-west,pool!=canary', 'region in (eu-west,eu-north)').")
    var selector: String?

    /// The one agent of commands that talk to one (the first given).
    var agent: String? { agents.first }

    /// One agent to connect to: where, how, and the labels the inventory gives it.
    struct Target: Sendable {
        let endpoint: String
        let options: SocketOptions
        let labels: [String: String]
    }

    /// Every agent named by `--agent` (all with `--agent-key`) and by the
    /// inventory (each with its own key); empty = the embedded agent.
    func targets() throws -> [Target] {
        var targets = try agents.map { Target(endpoint: $0, options: try socketOptions(), labels: [:]) }
        let environment = ProcessInfo.processInfo.environment
        let path = inventory ?? (agents.isEmpty ? environment["COPA_AGENTS"].flatMap { $0.isEmpty ? nil : $0 } : nil)
        if let path {
            let pair = try clientKeyPair()
            for entry in try AgentInventory.load(path: path).entries where !targets.contains(where: { $0.endpoint == entry.endpoint }) {
                var options = SocketOptions()
                if let key = entry.key {
                    let client = try pair ?? CurveKey.generate()
                    options.curve = .client(serverPublicKey: key, publicKey: client.publicKey, secretKey: client.secretKey)
                }
                targets.append(Target(endpoint: entry.endpoint, options: options, labels: entry.labels))
            }
        }
        if targets.isEmpty, selector != nil {
            throw ValidationError("--selector chooses among agents: give --agent or --agents (the embedded agent has no labels)")
        }
        return targets
    }

    func labelSelector() throws -> LabelSelector? {
        try selector.map { try LabelSelector(parsing: $0) }
    }

    @Option(help: "The agent's CURVE public key (Z85), or a file holding it: encrypts the connection and proves the agent.")
    var agentKey: String?

    @Option(help: ArgumentHelp(
        "This client's CURVE key pair (`copa keygen --output`), whose public key the agent lists in its --authorized-keys.",
        discussion: "Default: $COPA_CLIENT_KEY_FILE, else ~/.config/copa/client.key when it exists. Without one, a key made up for this run is used, which an agent with authorized keys refuses."))
    var clientKeyFile: String?

    /// The socket options for `--agent`: CURVE when `--agent-key` is given.
    func socketOptions() throws -> SocketOptions {
        var options = SocketOptions()
        guard let agentKey else {
            if clientKeyFile != nil {
                throw ValidationError("--client-key-file needs --agent-key: client keys are only used on CURVE connections")
            }
            return options
        }
        let serverKey = try Self.publicKey(agentKey)
        let pair = try clientKeyPair() ?? CurveKey.generate()
        options.curve = .client(serverPublicKey: serverKey, publicKey: pair.publicKey, secretKey: pair.secretKey)
        return options
    }

    private func clientKeyPair() throws -> CurveKeyPair? {
        let environment = ProcessInfo.processInfo.environment
        if let path = clientKeyFile ?? environment["COPA_CLIENT_KEY_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            return try CurveKeyPair.load(path: path)
        }
        let configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.config"
        let defaultPath = configHome + "/copa/client.key"
        return FileManager.default.fileExists(atPath: defaultPath) ? try CurveKeyPair.load(path: defaultPath) : nil
    }

    /// A Z85 public key given inline, or read from a file: a bare key, a
    /// `public: KEY` line, or an authorized-keys line (`KEY NAME`).
    static func publicKey(_ value: String) throws -> String {
        if CurveKey.isValid(value) { return value }
        guard let text = try? String(contentsOfFile: value, encoding: .utf8) else {
            throw ValidationError("--agent-key is neither a CURVE public key (40 Z85 characters) nor a readable file: \(value)")
        }
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.lowercased().hasPrefix("public:") { line = String(line.dropFirst("public:".count)).trimmingCharacters(in: .whitespaces) }
            if let first = line.split(whereSeparator: \.isWhitespace).first, CurveKey.isValid(String(first)) {
                return String(first)
            }
        }
        throw ValidationError("\(value) holds no CURVE public key")
    }
}

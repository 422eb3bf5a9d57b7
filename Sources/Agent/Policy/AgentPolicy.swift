import Engine
import Foundation
import Yams

/// What the agent's owner lets clients do (`copa-agent serve --policy FILE`):
/// where `oci:` layouts may be read and written, which registries and
/// repositories may be pulled from and pushed to with the agent's
/// credentials, which may be plain HTTP, which apt hosts a job may name, and
/// the limits of one request. Rules apply to every client; a `clients:` entry
/// (by the name its key is listed under in `--authorized-keys`) replaces
/// single fields for that client. The client's own options only narrow what
/// this allows: a request outside it is refused with FORBIDDEN and the rule.
///
/// See docs/security.md for the file format and docs/agent.md for an example.
public struct AgentPolicy: Sendable {
    public struct Rules: Sendable, Equatable {
        /// Directories `oci:` sources must be under; nil = anywhere (the
        /// embedded agent, acting for its own user).
        public var layoutReadRoots: [String]?
        /// Directories `oci:` targets must be under; nil = anywhere.
        public var layoutWriteRoots: [String]?
        /// `REGISTRY/REPOSITORY` globs (fnmatch(3), `*` crosses `/`) a source may come from.
        public var pull: [String] = ["*"]
        /// Globs a target may be pushed to; nil = only the source's own
        /// registry and repository (another tag beside the original).
        public var push: [String]?
        /// Registries (`host[:port]` globs) a job may name as plain HTTP.
        /// Loopback registries are plain HTTP without asking.
        public var insecureRegistries: [String] = []
        /// Hosts a job's own `--apt-mirror`/`--apt-source` may name, besides the
        /// agent's `--apt-mirror`; nil = any host. The image's own sources are
        /// always allowed: patching from them is the point.
        public var sourceHosts: [String]? = []
        /// Whether apt fetches may reach link-local and cloud metadata
        /// addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254).
        public var allowPrivateAddresses = false

        public init() {}
    }

    public var rules: Rules
    public var clients: [String: Rules]
    public var limits: AgentLimits

    public init(rules: Rules, clients: [String: Rules] = [:], limits: AgentLimits = AgentLimits()) {
        self.rules = rules
        self.clients = clients
        self.limits = limits
    }

    /// The embedded agent: it acts for the user who runs `copa`, with that
    /// user's own files and credentials, so it confines nothing.
    public static var unrestricted: AgentPolicy {
        var rules = Rules()
        rules.push = ["*"]
        rules.insecureRegistries = ["*"]
        rules.sourceHosts = nil
        rules.allowPrivateAddresses = true
        return AgentPolicy(rules: rules)
    }

    /// A remote agent without `--policy`: layouts only under
    /// `WORKDIR/layouts`, pushes only beside the source, apt only from the
    /// image's own hosts and the agent's mirror, no plain-HTTP registries
    /// beyond loopback.
    public static func remoteDefault(workdir: String) -> AgentPolicy {
        var rules = Rules()
        rules.layoutReadRoots = [workdir + "/layouts"]
        rules.layoutWriteRoots = [workdir + "/layouts"]
        return AgentPolicy(rules: rules)
    }

    /// The rules for a client (its authorized-key name; nil without CURVE).
    public func rules(for client: String?) -> Rules {
        client.flatMap { clients[$0] } ?? rules
    }

    /// Every layout root, to create and resolve at start.
    public var layoutRoots: [String] {
        ([rules] + Array(clients.values)).flatMap { ($0.layoutReadRoots ?? []) + ($0.layoutWriteRoots ?? []) }
    }

    /// Reads a policy file. Relative layout roots are relative to `workdir`.
    public static func load(path: String, workdir: String) throws -> AgentPolicy {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PolicyFileError("cannot read the policy file \(path): \(error.localizedDescription)")
        }
        do {
            return try parse(text, workdir: workdir)
        } catch let error as PolicyFileError {
            throw PolicyFileError("\(path): \(error.message)")
        }
    }

    public static func parse(_ text: String, workdir: String) throws -> AgentPolicy {
        // Composed into nodes and read here, not loaded into Swift values:
        // Yams' untyped loader traps on a mapping key that is not a string
        // (found by fuzz-policy), and an owner's typo must be an error.
        let document: Yams.Node?
        do {
            document = try Yams.compose(yaml: text)
        } catch {
            throw PolicyFileError("not YAML: \(error)")
        }
        let top = try Node(document ?? .mapping(.init([])), at: "")
        try top.only(["layouts", "registries", "sources", "limits", "clients"])
        let defaults = try remoteDefault(workdir: workdir).rules.merging(top, workdir: workdir)
        var clients: [String: Rules] = [:]
        if let entries = try top.map("clients") {
            for (name, value) in entries.entries {
                let node = try Node(value, at: "clients.\(name)")
                try node.only(["layouts", "registries", "sources"])
                clients[name] = try defaults.merging(node, workdir: workdir)
            }
        }
        var limits = AgentLimits()
        if let node = try top.map("limits") {
            try node.only(["max_job_timeout", "max_queued_per_client", "max_queued_total", "max_submit_bytes",
                           "max_job_id_bytes", "max_reference_bytes", "max_updates", "max_field_bytes", "max_list_entries"])
            if let value = try node.duration("max_job_timeout") { limits.maxJobTimeout = value }
            if let value = try node.int("max_queued_per_client") { limits.maxQueuedPerClient = value }
            if let value = try node.int("max_queued_total") { limits.maxQueuedTotal = value }
            if let value = try node.int("max_submit_bytes") { limits.maxSubmitBytes = min(value, 16 << 20) }
            if let value = try node.int("max_job_id_bytes") { limits.maxJobIDBytes = value }
            if let value = try node.int("max_reference_bytes") { limits.maxReferenceBytes = value }
            if let value = try node.int("max_updates") { limits.maxUpdates = value }
            if let value = try node.int("max_field_bytes") { limits.maxFieldBytes = value }
            if let value = try node.int("max_list_entries") { limits.maxListEntries = value }
        }
        return AgentPolicy(rules: defaults, clients: clients, limits: limits)
    }
}

extension AgentPolicy.Rules {
    /// These rules with the fields `node` sets replaced.
    fileprivate func merging(_ node: Node, workdir: String) throws -> Self {
        var rules = self
        if let layouts = try node.map("layouts") {
            try layouts.only(["read", "write"])
            if let read = try layouts.strings("read") { rules.layoutReadRoots = read.map { Self.absolute($0, workdir) } }
            if let write = try layouts.strings("write") { rules.layoutWriteRoots = write.map { Self.absolute($0, workdir) } }
        }
        if let registries = try node.map("registries") {
            try registries.only(["pull", "push", "insecure"])
            if let pull = try registries.strings("pull") { rules.pull = pull }
            if let push = try registries.strings("push") { rules.push = push }
            if let insecure = try registries.strings("insecure") { rules.insecureRegistries = insecure }
        }
        if let sources = try node.map("sources") {
            try sources.only(["hosts", "allow_private_addresses"])
            if let hosts = try sources.strings("hosts") { rules.sourceHosts = hosts == ["*"] ? nil : hosts }
            if let allow = try sources.bool("allow_private_addresses") { rules.allowPrivateAddresses = allow }
        }
        return rules
    }

    private static func absolute(_ path: String, _ workdir: String) -> String {
        path.hasPrefix("/") ? path : workdir + "/" + path
    }
}

/// A YAML mapping with its place in the file, for errors that say where.
private struct Node {
    let mapping: [String: Yams.Node]
    let at: String

    init(_ node: Yams.Node, at: String) throws {
        guard let pairs = node.mapping else {
            throw PolicyFileError("\(at.isEmpty ? "the file" : at) must be a mapping")
        }
        var mapping: [String: Yams.Node] = [:]
        for (key, value) in pairs {
            guard let name = key.scalar?.string else {
                throw PolicyFileError("\(at.isEmpty ? "the file" : at) has a key that is not a plain string")
            }
            mapping[name] = value
        }
        self.mapping = mapping
        self.at = at
    }

    private func key(_ name: String) -> String { at.isEmpty ? name : "\(at).\(name)" }

    /// Refuses unknown keys: a misspelt rule must not silently allow more.
    func only(_ known: Set<String>) throws {
        if let unknown = mapping.keys.sorted().first(where: { !known.contains($0) }) {
            throw PolicyFileError("unknown key \(key(String(unknown.prefix(80)))) (known here: \(known.sorted().joined(separator: ", ")))")
        }
    }

    /// The names of a mapping's entries (`clients:`), with their nodes.
    var entries: [(String, Yams.Node)] { mapping.sorted { $0.key < $1.key } }

    func map(_ name: String) throws -> Node? {
        guard let value = mapping[name] else { return nil }
        return try Node(value, at: key(name))
    }

    private func scalar(_ name: String) -> String? {
        mapping[name]?.scalar?.string
    }

    func strings(_ name: String) throws -> [String]? {
        guard let value = mapping[name] else { return nil }
        if let scalar = value.scalar, ["", "~", "null"].contains(scalar.string) { return [] }
        guard let sequence = value.sequence else { throw PolicyFileError("\(key(name)) must be a list of strings") }
        return try sequence.map { item in
            guard let string = item.scalar?.string else { throw PolicyFileError("\(key(name)) must be a list of strings") }
            return string
        }
    }

    func int(_ name: String) throws -> Int? {
        guard mapping[name] != nil else { return nil }
        guard let text = scalar(name), let number = Int(text), number > 0 else {
            throw PolicyFileError("\(key(name)) must be a positive integer")
        }
        return number
    }

    func bool(_ name: String) throws -> Bool? {
        guard mapping[name] != nil else { return nil }
        switch scalar(name) {
        case "true": return true
        case "false": return false
        default: throw PolicyFileError("\(key(name)) must be true or false")
        }
    }

    /// `90s`, `30m`, `2h`, or a number of seconds (`DurationParser`).
    func duration(_ name: String) throws -> Duration? {
        guard mapping[name] != nil else { return nil }
        guard let text = scalar(name), let duration = DurationParser.parse(text) else {
            throw PolicyFileError("\(key(name)) must be a duration such as 90s, 30m or 2h")
        }
        return duration
    }
}

public struct PolicyFileError: Error, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

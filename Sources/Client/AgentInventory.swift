import Foundation
import Protocol
import Yams

/// The agents a client may use, from `--agents FILE` (or `$COPA_AGENTS`):
///
/// ```yaml
/// agents:
///   - endpoint: tcp://build-eu-1.example:7800
///     key: rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7     # the agent's CURVE public key, or a file holding it
///     labels: {region: eu-west, pool: prod}
///   - endpoint: tcp://build-us-1.example:7800
/// ```
///
/// The labels here are known before connecting; an agent's own (from
/// `copa-agent serve --label`, in its Welcome) are added to them.
struct AgentInventory: Sendable {
    struct Entry: Sendable {
        var endpoint: String
        /// The agent's CURVE public key (Z85); nil = plain TCP.
        var key: String?
        var labels: [String: String]
    }

    var entries: [Entry]

    struct InventoryError: Error, CustomStringConvertible {
        let description: String
    }

    static func load(path: String) throws -> AgentInventory {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw InventoryError(description: "cannot read the agent inventory \(path): \(error.localizedDescription)")
        }
        return try parse(text, source: path, directory: (path as NSString).deletingLastPathComponent)
    }

    /// `directory`: where relative key files are looked up.
    static func parse(_ text: String, source: String, directory: String) throws -> AgentInventory {
        let fail = { (why: String) in InventoryError(description: "the agent inventory \(source): \(why)") }
        let document: Yams.Node?
        do {
            document = try Yams.compose(yaml: text)
        } catch {
            throw fail("not YAML: \(error)")
        }
        let list: Yams.Node.Sequence
        switch document {
        case .mapping(let mapping)?:
            for key in mapping.keys where key.string != "agents" {
                throw fail("unknown key '\(key.string ?? "?")' (only 'agents' is known)")
            }
            guard case .sequence(let agents)? = mapping["agents"] else { throw fail("'agents' must be a list of agents") }
            list = agents
        case .sequence(let agents)?:
            list = agents
        default:
            throw fail("expected a list of agents under 'agents'")
        }
        var entries: [Entry] = []
        for (position, node) in list.enumerated() {
            let at = "agents[\(position)]"
            guard case .mapping(let agent) = node else { throw fail("\(at) must be a mapping with an endpoint") }
            var entry = Entry(endpoint: "", key: nil, labels: [:])
            for (keyNode, value) in agent {
                guard let key = keyNode.string else { throw fail("\(at) has a key that is not a string") }
                switch key {
                case "endpoint":
                    guard let endpoint = value.string, Self.isEndpoint(endpoint) else {
                        throw fail("\(at).endpoint must be tcp://HOST:PORT or ipc://PATH, not '\(value.string ?? "?")'")
                    }
                    entry.endpoint = endpoint
                case "key":
                    guard let key = value.string else { throw fail("\(at).key must be a string") }
                    let resolved = key.hasPrefix("/") || CurveKey.isValid(key) ? key : directory + "/" + key
                    do {
                        entry.key = try ConnectionOptions.publicKey(resolved)
                    } catch {
                        throw fail("\(at).key is neither a CURVE public key (40 Z85 characters) nor a file holding one")
                    }
                case "labels":
                    guard case .mapping(let labels) = value else { throw fail("\(at).labels must be a mapping") }
                    for (labelKey, labelValue) in labels {
                        guard let name = labelKey.string, LabelSelector.isKey(name),
                              let text = labelValue.string, LabelSelector.isValue(text) else {
                            throw fail("\(at).labels has an invalid label (keys and values as Kubernetes labels)")
                        }
                        entry.labels[name] = text
                    }
                default:
                    throw fail("\(at) has an unknown key '\(key)' (endpoint, key, labels)")
                }
            }
            guard !entry.endpoint.isEmpty else { throw fail("\(at) has no endpoint") }
            guard !entries.contains(where: { $0.endpoint == entry.endpoint }) else {
                throw fail("\(entry.endpoint) is listed twice")
            }
            entries.append(entry)
        }
        guard !entries.isEmpty else { throw fail("lists no agents") }
        return AgentInventory(entries: entries)
    }

    static func isEndpoint(_ text: String) -> Bool {
        if text.hasPrefix("ipc://") { return text.count > 6 }
        guard text.hasPrefix("tcp://") else { return false }
        let rest = text.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
              (1...65535).contains(port) else { return false }
        return colon > rest.startIndex
    }
}

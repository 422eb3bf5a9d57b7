import Agent
import FuzzSupport

/// The agent's policy file and authorized keys, as an owner may mistype them.
@main enum Harness {
    static func main() {
        fuzzMain { buffer in
            let text = String(decoding: buffer, as: UTF8.self)
            _ = try? AgentPolicy.parse(text, workdir: "/var/lib/copa-agent")
            _ = try? AuthorizedKeys.parse(text, source: "fuzz", fileName: nil)
        }
    }
}

import Foundation
import Testing

/// `copa` driving several `copa-agent` processes: placement over a pool,
/// label selection, and a job resubmitted when its agent dies.
@Suite struct AgentFleetTests {
    /// Runs `copa ARGUMENTS` without holding a thread of the test pool while
    /// it runs (its output goes to files, polled with Task.sleep).
    static func copa(_ arguments: [String], until stop: (@Sendable (String) -> Bool)? = nil,
                     whenSeen: (@Sendable () -> Void)? = nil) async throws -> CommandResult {
        let directory = try TestEnvironment.temporaryDirectory()
        FileManager.default.createFile(atPath: directory + "/out", contents: nil)
        FileManager.default.createFile(atPath: directory + "/err", contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.binary("copa"))
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/err"))
        try process.run()
        let read = { (name: String) in (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "" }
        var seen = false
        for _ in 0..<3_000 where process.isRunning {
            if !seen, let stop, stop(read("err")) {
                seen = true
                whenSeen?()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: read("out"), stderr: read("err"),
                             command: "copa " + arguments.joined(separator: " "))
    }

    static func agent(_ name: String, _ extra: [String] = []) throws -> AgentProcess {
        try AgentProcess(["--listen", "tcp://127.0.0.1:0", "--policy", try TestEnvironment.layoutPolicy(), "--name", name] + extra)
    }

    /// Two agents: the index's two platforms go one to each (least loaded,
    /// ties to the agent listed first), the output names where each ran,
    /// and the index is the one a single agent makes (same digest).
    @Test func aPoolSpreadsAnIndexsPlatformsOverItsAgents() async throws {
        let first = try Self.agent("first")
        defer { first.stop() }
        let second = try Self.agent("second")
        defer { second.stop() }
        let (a, b) = (try await first.endpoint(), try await second.endpoint())
        let layout = try TestEnvironment.copyFixtureLayout()
        let reports = try TestEnvironment.fixtures + "/images/reports-multi"
        let pooled = try await Self.copa(["patch", "--agent", a, "--agent", b, "-i", "oci:\(layout):multi", "-r", reports, "-t", "pooled"])
        try pooled.check()
        #expect(pooled.stderr.contains("runs on agent first") && pooled.stderr.contains("runs on agent second"), "\(pooled.stderr)")
        let succeeded = { (agent: AgentProcess) in agent.logText.components(separatedBy: "job succeeded").count - 1 }
        // Two platform jobs and the assembly: each agent ran at least one.
        #expect(succeeded(first) >= 1 && succeeded(second) >= 1 && succeeded(first) + succeeded(second) == 3,
                "first: \(first.logText)\nsecond: \(second.logText)")
        let index = try EmbeddedPatchTests.multiIndex("oci:\(layout):pooled")
        #expect(index.manifests.count == 3)

        try await Self.copa(["patch", "--agent", b, "-i", "oci:\(layout):multi", "-r", reports, "-t", "single"]).check()
        #expect(try skopeoDigest("oci:\(layout):pooled") == skopeoDigest("oci:\(layout):single"))
    }

    /// Labels from the agents (`--label`) and the inventory; the selector
    /// keeps the matching agents only. Bad selectors and an empty selection
    /// are errors before any job.
    @Test func theSelectorRoutesJobsToTheMatchingAgents() async throws {
        let eu = try Self.agent("eu", ["--label", "region=eu-west", "--label", "pool=prod"])
        defer { eu.stop() }
        let canary = try Self.agent("canary", ["--label", "region=eu-north", "--label", "pool=canary"])
        defer { canary.stop() }
        let us = try Self.agent("us", ["--label", "region=us-east"])
        defer { us.stop() }
        let inventory = try TestEnvironment.temporaryDirectory() + "/agents.yaml"
        try """
            agents:
              - endpoint: \(try await canary.endpoint())
              - endpoint: \(try await eu.endpoint())
              - endpoint: \(try await us.endpoint())
                labels: {pool: prod}
            """.write(toFile: inventory, atomically: true, encoding: .utf8)
        let layout = try TestEnvironment.copyFixtureLayout()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"

        let routed = try await Self.copa(["patch", "--agents", inventory, "--selector", "region in (eu-west,eu-north),pool!=canary",
                                          "-i", "oci:\(layout):debian", "-r", report, "-t", "routed"])
        try routed.check()
        #expect(eu.logText.contains("job succeeded"))
        #expect(!canary.logText.contains("job accepted") && !us.logText.contains("job accepted"))

        // The inventory's label makes `us` a prod agent too.
        let prod = try await Self.copa(["patch", "--agents", inventory, "--selector", "pool=prod,region=us-east",
                                        "-i", "oci:\(layout):debian", "-r", report, "-t", "prod"])
        try prod.check()
        #expect(us.logText.contains("job succeeded"))

        let none = try await Self.copa(["patch", "--agents", inventory, "--selector", "region=mars",
                                        "-i", "oci:\(layout):debian", "-r", report, "-t", "never"])
        #expect(none.status == 3, "\(none.stderr)")
        #expect(none.stderr.contains("no agent matches the selector 'region=mars'"), "\(none.stderr)")
        let bad = try await Self.copa(["patch", "--agents", inventory, "--selector", "region ~ eu",
                                       "-i", "oci:\(layout):debian", "-r", report, "-t", "never"])
        #expect(bad.status == 3)
        #expect(bad.stderr.contains("'region ~ eu'"), "\(bad.stderr)")
        let broken = try TestEnvironment.temporaryDirectory() + "/broken.yaml"
        try "agents:\n  - endpoint: http://build-1:7800\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let badInventory = try await Self.copa(["patch", "--agents", broken, "-i", "oci:\(layout):debian", "-r", report, "-t", "never"])
        #expect(badInventory.status == 3)
        #expect(badInventory.stderr.contains("endpoint must be tcp://HOST:PORT"), "\(badInventory.stderr)")
        try "agents:\n  - endpoint: tcp://127.0.0.1:1\n    key: no-such-key.pub\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let badKey = try await Self.copa(["patch", "--agents", broken, "-i", "oci:\(layout):debian", "-r", report, "-t", "never"])
        #expect(badKey.status == 3)
        #expect(badKey.stderr.contains("key is neither a CURVE public key"), "\(badKey.stderr)")
        #expect(try run("/usr/bin/skopeo", ["inspect", "oci:\(layout):never"]).status != 0)

        let info = try await Self.copa(["agent-info", "--agents", inventory])
        try info.check()
        let rows = info.stdout.split(separator: "\n")
        #expect(rows.count == 4, "a header and one row per agent: \(info.stdout)")
        #expect(rows.contains { $0.contains("eu 0.1.0") && $0.contains("pool=prod,region=eu-west") }, "\(info.stdout)")
        #expect(rows.contains { $0.contains("pool=prod,region=us-east") }, "inventory and agent labels merged: \(info.stdout)")
        let selected = try await Self.copa(["agent-info", "--agents", inventory, "--selector", "pool=canary"])
        try selected.check()
        #expect(selected.stdout.contains("agent: canary"), "one agent: its block: \(selected.stdout)")
    }

    /// The agent a job runs on is killed mid-job: copa says so in one line,
    /// submits the job to the other agent, and the image it gets is the one
    /// an undisturbed run makes.
    @Test func aJobWhoseAgentIsKilledIsResubmittedElsewhere() async throws {
        // The first agent's mirror answers each request after a second: its job is still running when it dies.
        let mirror = try await SlowFileServer.start(root: try TestEnvironment.fixtures + "/repo", delay: 1)
        defer { mirror.stop() }
        let doomed = try Self.agent("doomed", ["--apt-mirror", mirror.url, "--heartbeat-interval", "250ms"])
        defer { doomed.stop() }
        let spare = try Self.agent("spare", ["--heartbeat-interval", "250ms"])
        defer { spare.stop() }
        let (a, b) = (try await doomed.endpoint(), try await spare.endpoint())
        let layout = try TestEnvironment.copyFixtureLayout()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let pid = doomed.process.processIdentifier
        let result = try await Self.copa(
            ["patch", "--agent", a, "--agent", b, "-i", "oci:\(layout):debian", "-r", report, "-t", "failover"],
            until: { $0.contains("[repositories]") || $0.contains("runs on agent doomed") && $0.contains("[probe]") },
            whenSeen: { kill(pid, SIGKILL) })
        try result.check()
        #expect(result.stderr.contains("agent doomed (\(a)) was lost"), "\(result.stderr)")
        #expect(result.stderr.contains("resubmitting the job (1 of at most 2)"))
        #expect(spare.logText.contains("job succeeded"))
        #expect(!doomed.process.isRunning)

        try await Self.copa(["patch", "--agent", b, "-i", "oci:\(layout):debian", "-r", report, "-t", "direct"]).check()
        #expect(try skopeoDigest("oci:\(layout):failover") == skopeoDigest("oci:\(layout):direct"))
    }

    /// Three agents, each in its own network namespace (veth pairs to the
    /// test's namespace; nothing leaves the machine): the index's two
    /// platforms start on the first two; one of those is killed (SIGKILL)
    /// and the other cut off (its link set down) mid-job. Both jobs complete
    /// on the third, nothing appears under the target tag before the end,
    /// and the index is the one an undisturbed run makes.
    @Test func jobsSurviveAKilledAndAPartitionedAgent() async throws {
        let network = NetworkNamespaces.create(count: 3)
        if network == nil {
            print("AgentFleetTests: network namespaces cannot be made here (\(NetworkNamespaces.lastError)); fell back to loopback ports, and a stopped process (SIGSTOP) stands in for the partition")
        }
        defer { network?.destroy() }
        let root = try TestEnvironment.fixtures + "/repo"
        var mirrors: [SlowFileServer] = []
        defer { mirrors.forEach { $0.stop() } }
        var agents: [AgentProcess] = []
        defer {
            for agent in agents where agent.process.isRunning {
                kill(agent.process.processIdentifier, SIGKILL)
                agent.process.waitUntilExit()
            }
        }
        let policy = try TestEnvironment.layoutPolicy()
        for (index, name) in ["one", "two", "three"].enumerated() {
            let mirror = try await SlowFileServer.start(root: root, delay: index < 2 ? 1 : 0,
                                                        host: network?.hostAddress(index) ?? "127.0.0.1")
            mirrors.append(mirror)
            let listen = network.map { "tcp://\($0.agentAddress(index)):0" } ?? "tcp://127.0.0.1:0"
            agents.append(try AgentProcess(
                ["--listen", listen, "--insecure-allow-plaintext", "--policy", policy, "--name", name,
                 "--apt-mirror", mirror.url, "--heartbeat-interval", "250ms", "--label", "region=eu", "--label", "host=\(name)"],
                prefix: network?.exec(index) ?? []))
        }
        var endpoints: [String] = []
        for agent in agents { endpoints.append(try await agent.endpoint()) }
        let layout = try TestEnvironment.copyFixtureLayout()
        let reports = try TestEnvironment.fixtures + "/images/reports-multi"

        try await Self.copa(["patch", "--agent", endpoints[2], "-i", "oci:\(layout):multi", "-r", reports, "-t", "reference"]).check()

        let (one, two) = (agents[0].process.processIdentifier, agents[1].process.processIdentifier)
        let halfway = TagProbe(layout: layout, tag: "fleet")
        let result = try await Self.copa(
            ["patch", "--agent", endpoints[0], "--agent", endpoints[1], "--agent", endpoints[2], "--selector", "region=eu",
             "-i", "oci:\(layout):multi", "-r", reports, "-t", "fleet"],
            until: { err in
                err.contains("runs on agent one") && err.contains("runs on agent two")
                    && err.components(separatedBy: "[probe] completed").count >= 3
            },
            whenSeen: {
                kill(one, SIGKILL)
                if let network { network.partition(1) } else { kill(two, SIGSTOP) }
                halfway.check()
            })
        if network == nil { kill(two, SIGCONT) }
        try result.check()
        #expect(halfway.checked && !halfway.existed, "the target tag was there before every platform was done")
        #expect(result.stderr.contains("agent one (\(endpoints[0])) was lost"), "\(result.stderr)")
        #expect(result.stderr.contains("agent two (\(endpoints[1])) was lost"), "\(result.stderr)")
        #expect(agents[2].logText.components(separatedBy: "job succeeded").count - 1 >= 4, "\(agents[2].logText)")
        #expect(try skopeoDigest("oci:\(layout):fleet") == skopeoDigest("oci:\(layout):reference"))
    }
}

/// Whether a tag is in a layout at one moment (from a callback).
final class TagProbe: @unchecked Sendable {
    let layout: String
    let tag: String
    private(set) var checked = false
    private(set) var existed = false

    init(layout: String, tag: String) {
        self.layout = layout
        self.tag = tag
    }

    func check() {
        let index = (try? String(contentsOfFile: layout + "/index.json", encoding: .utf8)) ?? ""
        existed = index.contains("\"org.opencontainers.image.ref.name\":\"\(tag)\"")
        checked = true
    }
}

/// Network namespaces joined to the test's by veth pairs: namespace i is
/// 10.231.B+i.2, its peer in the test's namespace 10.231.B+i.1.
struct NetworkNamespaces: Sendable {
    let suffix: String
    let base: Int
    let count: Int
    nonisolated(unsafe) static var lastError = ""

    func name(_ index: Int) -> String { "copa-\(suffix)-\(index)" }
    func hostLink(_ index: Int) -> String { "ch\(index)\(suffix)" }
    func agentLink(_ index: Int) -> String { "cn\(index)\(suffix)" }
    func hostAddress(_ index: Int) -> String { "10.231.\(base + index).1" }
    func agentAddress(_ index: Int) -> String { "10.231.\(base + index).2" }
    func exec(_ index: Int) -> [String] { ["/usr/sbin/ip", "netns", "exec", name(index)] }

    static func create(count: Int) -> NetworkNamespaces? {
        if ProcessInfo.processInfo.environment["COPA_TEST_NO_NETNS"] == "1" {
            lastError = "COPA_TEST_NO_NETNS=1"
            return nil
        }
        let suffix = String(UInt32.random(in: 0x1000...0xffff), radix: 16)
        let network = NetworkNamespaces(suffix: suffix, base: Int.random(in: 0..<80) * 3, count: count)
        for index in 0..<count {
            let steps: [[String]] = [
                ["netns", "add", network.name(index)],
                ["link", "add", network.hostLink(index), "type", "veth", "peer", "name", network.agentLink(index)],
                ["link", "set", network.agentLink(index), "netns", network.name(index)],
                ["addr", "add", network.hostAddress(index) + "/24", "dev", network.hostLink(index)],
                ["link", "set", network.hostLink(index), "up"],
                ["netns", "exec", network.name(index), "ip", "addr", "add", network.agentAddress(index) + "/24", "dev", network.agentLink(index)],
                ["netns", "exec", network.name(index), "ip", "link", "set", network.agentLink(index), "up"],
                ["netns", "exec", network.name(index), "ip", "link", "set", "lo", "up"],
            ]
            for step in steps {
                guard let result = try? run("/usr/sbin/ip", step), result.status == 0 else {
                    lastError = "ip \(step.joined(separator: " ")): " + ((try? run("/usr/sbin/ip", step).stderr) ?? "not runnable")
                    network.destroy()
                    return nil
                }
            }
        }
        return network
    }

    /// The link to namespace `index` goes down: its agent is cut off.
    func partition(_ index: Int) {
        _ = try? run("/usr/sbin/ip", ["link", "set", hostLink(index), "down"])
    }

    func destroy() {
        for index in 0..<count {
            _ = try? run("/usr/sbin/ip", ["link", "del", hostLink(index)])
            _ = try? run("/usr/sbin/ip", ["netns", "del", name(index)])
        }
    }
}

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
}

import Foundation
import Testing
import TestSupport

/// The real `copa` and `copa-agent` processes when the other side dies or
/// a request could never arrive.
@Suite struct AgentLivenessTests {
    /// Starts `copa-agent serve` on a free loopback port.
    static func startAgent(_ extra: [String] = []) throws -> (process: Process, endpoint: String, workdir: String) {
        let workdir = try TestEnvironment.temporaryDirectory()
        let port = 20_000 + Int.random(in: 0..<20_000)
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: TestEnvironment.binary("copa-agent"))
        agent.arguments = ["serve", "--listen", "tcp://127.0.0.1:\(port)", "--workdir", workdir,
                           "--policy", try TestEnvironment.layoutPolicy()] + extra
        agent.standardError = FileHandle.nullDevice
        try agent.run()
        return (agent, "tcp://127.0.0.1:\(port)", workdir)
    }

    @Test func aClientLearnsWithinSecondsThatItsAgentWasKilled() async throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        // The agent's mirror never answers: the job sits in I/O until the kill.
        let silent = try SilentTCPPort()
        defer { silent.close() }
        let agent = try Self.startAgent(["--apt-mirror", "http://127.0.0.1:\(silent.port)/debian"])
        defer { if agent.process.isRunning { agent.process.terminate() } }

        let client = Process()
        client.executableURL = URL(fileURLWithPath: TestEnvironment.binary("copa"))
        client.arguments = ["patch", "--agent", agent.endpoint, "-i", "oci:\(layout):debian", "-r", report,
                            "-t", "never", "--progress", "json"]
        let errors = Pipe()
        client.standardError = errors
        client.standardOutput = FileHandle.nullDevice
        try client.run()
        // Wait until the job is running on the agent (its first step is reported).
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("\"type\":\"step\"") {
            let chunk = errors.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            seen += chunk
        }
        #expect(String(decoding: seen, as: UTF8.self).contains("\"type\":\"step\""))

        kill(agent.process.processIdentifier, SIGKILL)
        agent.process.waitUntilExit()
        let killedAt = ContinuousClock.now
        let rest = errors.fileHandleForReading.readDataToEndOfFile()
        client.waitUntilExit()
        let waited = ContinuousClock.now - killedAt
        let stderr = String(decoding: seen + rest, as: UTF8.self)
        #expect(client.terminationStatus == 4, "\(stderr)")
        #expect(stderr.contains("has sent nothing"))
        // Four heartbeat intervals of 2 s, plus the client's own tick: far
        // from the 31 minutes (timeout + 60 s) it used to wait.
        #expect(waited < .seconds(30), "the client waited \(waited)")
    }

    /// `copa` stopped (SIGSTOP) long enough for the agent to take it as
    /// gone, then continued: the job went on meanwhile, the client reconnects,
    /// resumes after the last message it saw, and every event arrives once.
    @Test func aClientStoppedAndContinuedWithinTheWindowLosesNoEvent() async throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        // Each answer of the mirror takes a second: the job runs for several.
        let mirror = try await SlowFileServer.start(root: try TestEnvironment.fixtures + "/repo", delay: 1)
        defer { mirror.stop() }
        let agent = try AgentProcess(["--listen", "tcp://127.0.0.1:0", "--policy", try TestEnvironment.layoutPolicy(),
                                      "--apt-mirror", mirror.url, "--heartbeat-interval", "250ms", "--resume-window", "30s"])
        defer { agent.stop() }
        let endpoint = try await agent.endpoint()

        let directory = try TestEnvironment.temporaryDirectory()
        let client = Process()
        client.executableURL = URL(fileURLWithPath: TestEnvironment.binary("copa"))
        client.arguments = ["patch", "--agent", endpoint, "-i", "oci:\(layout):debian", "-r", report,
                            "-t", "resumed", "--progress", "json"]
        FileManager.default.createFile(atPath: directory + "/stderr", contents: nil)
        FileManager.default.createFile(atPath: directory + "/stdout", contents: nil)
        client.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/stderr"))
        client.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/stdout"))
        try client.run()
        defer { if client.isRunning { kill(client.processIdentifier, SIGCONT); client.terminate() } }
        let stderr = { (try? String(contentsOfFile: directory + "/stderr", encoding: .utf8)) ?? "" }
        for _ in 0..<600 where !stderr().contains("\"type\":\"step\"") && client.isRunning {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(stderr().contains("\"type\":\"step\""), "the job started: \(stderr())")

        // Four heartbeats of 250 ms and the agent takes the client as gone.
        kill(client.processIdentifier, SIGSTOP)
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(agent.logText.contains("for it to resume them"), "\(agent.logText)")
        kill(client.processIdentifier, SIGCONT)
        for _ in 0..<1_200 where client.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        let output = (try? String(contentsOfFile: directory + "/stdout", encoding: .utf8)) ?? ""
        #expect(!client.isRunning)
        #expect(client.terminationStatus == 0, "\(stderr())\n\(agent.logText)")
        #expect(output.contains("digest: sha256:"), "\(output)")
        #expect(stderr().contains("\"type\":\"reconnect\""), "the client reconnected: \(stderr())")
        #expect(agent.logText.contains("job resumed"), "\(agent.logText)")
        #expect(!stderr().contains("\"type\":\"missed\""))
        // Every event, numbered from 1 (0 is Accepted), once and in order.
        let sequences = stderr().split(separator: "\n").compactMap { line -> Int? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["seq"] as? Int
        }
        #expect(sequences.count > 5)
        #expect(sequences == Array(1...max(1, sequences.count)), "\(sequences)")
    }

    @Test func aSubmitTooLargeToArriveIsRefusedBeforeSending() throws {
        let agent = try Self.startAgent()
        defer { agent.process.terminate(); agent.process.waitUntilExit() }
        // 130 000 vulnerable packages: a Submit of about 20 MB.
        let directory = try TestEnvironment.temporaryDirectory()
        let vulnerabilities = (0..<130_000).map { index in
            """
            {"VulnerabilityID":"CVE-2026-\(index)","PkgName":"package-\(index)-with-a-long-name-for-size","InstalledVersion":"1.0-1","FixedVersion":"1.0-2"}
            """
        }
        let report = """
            {"SchemaVersion":2,"ArtifactName":"big:1","ArtifactType":"container_image",
             "Metadata":{"OS":{"Family":"debian","Name":"12.5"},"ImageConfig":{"architecture":"amd64","os":"linux"}},
             "Results":[{"Target":"big","Class":"os-pkgs","Type":"debian","Vulnerabilities":[\(vulnerabilities.joined(separator: ","))]}]}
            """
        try report.write(toFile: directory + "/big.json", atomically: true, encoding: .utf8)
        let result = try run(TestEnvironment.binary("copa"),
                             ["patch", "--agent", agent.endpoint, "-i", "oci:/nonexistent:1", "-r", directory + "/big.json"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("bytes on the wire; the agent accepts at most"))
    }
}

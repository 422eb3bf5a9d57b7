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

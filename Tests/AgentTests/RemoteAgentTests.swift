import Foundation
import Testing

/// `copa patch --agent` against a `copa-agent serve` process over TCP: the
/// remote path of the protocol, end to end.
@Suite struct RemoteAgentTests {
    /// With no --policy, a remote agent's layouts live under WORKDIR/layouts,
    /// and a relative `oci:` path names one there.
    @Test func patchesThroughARemoteAgentProcess() throws {
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let workdir = try TestEnvironment.workdirWithFixtureLayout()
        let layout = workdir + "/layouts/fixture"
        let port = 20_000 + Int.random(in: 0..<20_000)
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: TestEnvironment.binary("copa-agent"))
        agent.arguments = ["serve", "--listen", "tcp://127.0.0.1:\(port)", "--workdir", workdir, "--max-jobs", "1"]
        agent.standardError = FileHandle.nullDevice
        try agent.run()
        defer {
            agent.terminate()
            agent.waitUntilExit()
        }
        let result = try run(TestEnvironment.binary("copa"),
                             ["patch", "--agent", "tcp://127.0.0.1:\(port)", "-i", "oci:fixture:debian", "-r", report,
                              "-t", "remote", "--progress", "json"])
        try result.check()
        #expect(result.stderr.contains("\"type\":\"step\""))
        #expect(result.stdout.contains("digest: sha256:"))
        let versions = try UnpackedImage.unpack(layout: layout, tag: "remote").installedVersions()
        #expect(versions["fx-dep"] == "2.0-1")
        #expect(!result.stderr.contains("index cache"))

        // A second job on the same agent reads the repository's index from the
        // agent's cache (the signed Release file names the same index hash).
        let second = try run(TestEnvironment.binary("copa"),
                             ["patch", "--agent", "tcp://127.0.0.1:\(port)", "-i", "oci:\(layout):debian", "-r", report,
                              "-t", "remote-2", "--progress", "json"])
        try second.check()
        #expect(second.stderr.contains("from the agent's index cache"))
        #expect(try skopeoDigest("oci:\(layout):remote-2") == skopeoDigest("oci:\(layout):remote"))
        #expect(agent.isRunning, "the agent must survive the job")
    }

    @Test func unreachableAgentIsAClearError() throws {
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let result = try run(TestEnvironment.binary("copa"),
                             ["patch", "--agent", "tcp://127.0.0.1:1", "-i", "oci:/nonexistent:x", "-r", report])
        #expect(result.status == 4)
        #expect(result.stderr.contains("did not answer"))
    }
}

import Foundation
import Testing

/// A `copa-agent serve` process with CURVE and authorized keys, driven by the
/// `copa` binary: who gets in, who is refused and what the agent logs.
@Suite struct AgentAuthenticationTests {
    struct Keys {
        let directory: String
        var agentKey: String { directory + "/agent.key" }
        var agentPublic: String { directory + "/agent.pub" }
        func client(_ name: String) -> String { directory + "/\(name).key" }
        func clientPublic(_ name: String) -> String { directory + "/\(name).pub" }
    }

    /// Agent and client keys made by `copa keygen --output`, and an
    /// authorized-keys directory holding the public keys of `authorized`.
    static func keys(authorized: [String], unauthorized: [String] = []) throws -> (Keys, String) {
        let keys = Keys(directory: try TestEnvironment.temporaryDirectory())
        try run(TestEnvironment.binary("copa"), ["keygen", "--output", keys.directory + "/agent"]).check()
        let authorizedDirectory = keys.directory + "/authorized"
        try FileManager.default.createDirectory(atPath: authorizedDirectory, withIntermediateDirectories: true)
        for name in authorized + unauthorized {
            try run(TestEnvironment.binary("copa"), ["keygen", "--output", keys.directory + "/" + name]).check()
        }
        for name in authorized {
            try FileManager.default.copyItem(atPath: keys.clientPublic(name), toPath: authorizedDirectory + "/\(name).pub")
        }
        return (keys, authorizedDirectory)
    }

    static func agentInfo(_ agent: AgentProcess, _ keys: Keys, client: String) async throws -> CommandResult {
        try run(TestEnvironment.binary("copa"), [
            "agent-info", "--agent", try await agent.endpoint(), "--agent-key", keys.agentPublic, "--client-key-file", keys.client(client)])
    }

    @Test func onlyAuthorizedKeysGetInAndARefusedKeyIsLogged() async throws {
        let (keys, authorized) = try Self.keys(authorized: ["alice"], unauthorized: ["mallory"])
        let agent = try AgentProcess(["--listen", "tcp://127.0.0.1:0", "--curve-secret-key-file", keys.agentKey,
                                      "--authorized-keys", authorized])
        defer { agent.stop() }

        let alice = try await Self.agentInfo(agent, keys, client: "alice")
        try alice.check()
        #expect(alice.stdout.contains("client: alice"))

        let mallory = try await Self.agentInfo(agent, keys, client: "mallory")
        #expect(mallory.status == 4)
        #expect(mallory.stderr.contains("refused this client's key"))
        let malloryKey = try String(contentsOfFile: keys.clientPublic("mallory"), encoding: .utf8).split(separator: " ")[0]
        #expect(agent.logText.contains(String(malloryKey)), "the agent logs the refused key")

        // A key made up for the run (no --client-key-file) is refused as well.
        let anonymous = try run(TestEnvironment.binary("copa"), [
            "agent-info", "--agent", try await agent.endpoint(), "--agent-key", keys.agentPublic],
            environment: ["XDG_CONFIG_HOME": keys.directory + "/none"])
        #expect(anonymous.status == 4)
    }

    @Test func sighupReloadsTheAuthorizedKeys() async throws {
        let (keys, authorized) = try Self.keys(authorized: ["alice"], unauthorized: ["bob"])
        let agent = try AgentProcess(["--listen", "tcp://127.0.0.1:0", "--curve-secret-key-file", keys.agentKey,
                                      "--authorized-keys", authorized])
        defer { agent.stop() }
        try await Self.agentInfo(agent, keys, client: "alice").check()
        #expect(try await Self.agentInfo(agent, keys, client: "bob").status == 4)

        try FileManager.default.copyItem(atPath: keys.clientPublic("bob"), toPath: authorized + "/bob.pub")
        try FileManager.default.removeItem(atPath: authorized + "/alice.pub")
        kill(agent.process.processIdentifier, SIGHUP)
        var reloaded = false
        for _ in 0..<100 where !reloaded {
            reloaded = agent.logText.contains("authorized keys reloaded")
            if !reloaded { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(reloaded)
        let bob = try await Self.agentInfo(agent, keys, client: "bob")
        try bob.check()
        #expect(bob.stdout.contains("client: bob"))
        #expect(try await Self.agentInfo(agent, keys, client: "alice").status == 4)
        #expect(agent.process.isRunning)
    }

    @Test func plainTCPBeyondLoopbackNeedsAnExplicitFlag() async throws {
        let refused = try AgentProcess(["--listen", "tcp://0.0.0.0:0"])
        refused.process.waitUntilExit()
        #expect(refused.process.terminationStatus != 0)
        #expect(refused.logText.contains("--insecure-allow-plaintext"))

        let allowed = try AgentProcess(["--listen", "tcp://0.0.0.0:0", "--insecure-allow-plaintext"])
        defer { allowed.stop() }
        let info = try run(TestEnvironment.binary("copa"), ["agent-info", "--agent", try await allowed.endpoint()])
        try info.check()
        #expect(info.stdout.contains("client: unauthenticated"))
    }

    @Test func curveWithoutAuthorizedKeysDoesNotStart() throws {
        let (keys, _) = try Self.keys(authorized: [])
        let agent = try AgentProcess(["--listen", "tcp://127.0.0.1:0", "--curve-secret-key-file", keys.agentKey])
        agent.process.waitUntilExit()
        #expect(agent.process.terminationStatus != 0)
        #expect(agent.logText.contains("--authorized-keys"))
    }

    @Test func keygenWritesAPrivateKeyFileAndRefusesToOverwriteIt() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        try run(TestEnvironment.binary("copa"), ["keygen", "--name", "ci-runner", "--output", directory + "/ci"]).check()
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/ci.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let line = try String(contentsOfFile: directory + "/ci.pub", encoding: .utf8)
        #expect(line.hasSuffix(" ci-runner\n"))
        let before = try String(contentsOfFile: directory + "/ci.key", encoding: .utf8)
        let again = try run(TestEnvironment.binary("copa"), ["keygen", "--output", directory + "/ci"])
        #expect(again.status != 0)
        #expect(try String(contentsOfFile: directory + "/ci.key", encoding: .utf8) == before)
    }
}

import Engine
import Foundation
import Logging
import Protocol
import Testing
import TestSupport
@testable import Agent
@testable import Client

/// What a remote agent's policy lets a client do: each refusal is a Failure
/// with FORBIDDEN and the rule, before the executor starts, and nothing is
/// created on disk or fetched from the network for it.
@Suite struct AgentPolicyTests {
    struct Agent_ {
        let socket: AgentSocket
        let session: AgentSession
        let log: ExecutorLog
    }

    static func start(_ policy: AgentPolicy, workdir: String, executor: (any PatchExecutor)? = nil) async throws -> Agent_ {
        let log = ExecutorLog()
        var configuration = AgentConfiguration(name: "policy", maxJobs: 2, workdir: workdir, limits: policy.limits)
        configuration.policy = policy
        let socket = try await AgentSocket.bind("tcp://127.0.0.1:0")
        let agent = Agent(configuration: configuration, executors: [executor ?? GateExecutor(log: log)], logger: Logger(label: "test"))
        Task { await agent.serve(socket) }
        let session = try await AgentSession(endpoint: socket.endpoint)
        _ = try await session.hello()
        return Agent_(socket: socket, session: session, log: log)
    }

    static func submit(_ id: String, image: String, target: String) -> Copa_Protocol_V1_Submit {
        var submit = Copa_Protocol_V1_Submit()
        submit.jobID = id
        submit.image = image
        submit.target = target
        submit.manifest.osFamily = "debian"
        return submit
    }

    static func failure(of submit: Copa_Protocol_V1_Submit, on session: AgentSession) async throws -> Copa_Protocol_V1_Failure? {
        let updates = try await withDeadline(.seconds(60), "job \(submit.jobID)") {
            try await AgentSharingTests.collect(try await session.submit(submit))
        }
        return AgentSharingTests.finalFailure(updates)
    }

    @Test func layoutsOutsideTheRootsAreRefusedAndNothingIsCreated() async throws {
        let workdir = try TestEnvironment.temporaryDirectory()
        let outside = try TestEnvironment.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: workdir + "/layouts", withIntermediateDirectories: true)
        // A symlink inside the root that leads out of it.
        try FileManager.default.createSymbolicLink(atPath: workdir + "/layouts/out", withDestinationPath: outside)
        let agent = try await Self.start(.remoteDefault(workdir: workdir), workdir: workdir)
        defer { agent.socket.close() }

        let cases: [(String, String, String, String)] = [
            ("abs", "oci:\(workdir)/layouts/src:1", "oci:\(outside)/evil:1", "layouts.write"),
            ("dotdot", "oci:\(workdir)/layouts/src:1", "oci:../../evil:1", "layouts.write"),
            ("symlink", "oci:\(workdir)/layouts/src:1", "oci:out/evil:1", "layouts.write"),
            ("system", "oci:\(workdir)/layouts/src:1", "oci:/etc/copa-evil:1", "layouts.write"),
            ("read", "oci:/etc:1", "oci:\(workdir)/layouts/copy:1", "layouts.read"),
        ]
        for (id, image, target, rule) in cases {
            let failure = try await Self.failure(of: Self.submit(id, image: image, target: target), on: agent.session)
            #expect(failure?.code == .forbidden, "\(id): \(failure?.message ?? "no failure")")
            #expect(failure?.rule == rule, "\(id)")
        }
        #expect(!FileManager.default.fileExists(atPath: outside + "/evil"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/copa-evil"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        #expect(await agent.log.started.isEmpty)

        // A relative path names a layout under the first root.
        let relative = Self.submit("relative", image: "oci:src:1", target: "oci:dst:1")
        _ = try await agent.session.submit(relative)
        try await withDeadline(.seconds(30), "the allowed job starting") {
            while await agent.log.started.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        let canonicalRoot = URL(fileURLWithPath: workdir + "/layouts").resolvingSymlinksInPath().path
        #expect(await agent.log.started == ["oci:\(canonicalRoot)/dst:1"])
        await agent.log.release()
    }

    @Test func pushesAndPlainHTTPOnlyWhereThePolicySays() async throws {
        let workdir = try TestEnvironment.temporaryDirectory()
        let agent = try await Self.start(.remoteDefault(workdir: workdir), workdir: workdir)
        defer { agent.socket.close() }
        let other = Self.submit("other-repo", image: "registry.example/team/app:1", target: "registry.example/team/other:1")
        #expect(try await Self.failure(of: other, on: agent.session)?.rule == "registries.push")
        let otherRegistry = Self.submit("other-registry", image: "registry.example/team/app:1", target: "evil.example/team/app:1")
        #expect(try await Self.failure(of: otherRegistry, on: agent.session)?.rule == "registries.push")
        var insecure = Self.submit("insecure", image: "registry.example/team/app:1", target: "registry.example/team/app:1-patched")
        insecure.options.insecureRegistries = ["registry.example"]
        #expect(try await Self.failure(of: insecure, on: agent.session)?.rule == "registries.insecure")
        #expect(await agent.log.started.isEmpty)

        // Beside the source is the default's one allowed push.
        _ = try await agent.session.submit(Self.submit("beside", image: "registry.example/team/app:1", target: "registry.example/team/app:1-patched"))
        try await withDeadline(.seconds(30), "the allowed job starting") {
            while await agent.log.started.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        await agent.log.release()
    }

    /// The sources a job names itself: refused by scheme or host before any
    /// connection. The image is the real fixture and the executor the real
    /// native one, which would otherwise fetch from the (silent) mirror.
    @Test func aptSourcesAreRefusedWithoutAConnection() async throws {
        let workdir = try TestEnvironment.workdirWithFixtureLayout()
        let silent = try SilentTCPPort()
        defer { silent.close() }
        let executor = try NativeExecutor(workdir: workdir, logger: Logger(label: "test"))
        let agent = try await Self.start(.remoteDefault(workdir: workdir), workdir: workdir, executor: executor)
        defer { agent.socket.close() }
        let cases: [(String, String?, [String], String)] = [
            ("unix", "http+unix://%2Frun%2Fdocker.sock/containers/json", [], "sources.schemes"),
            ("file", "file:///etc", [], "sources.schemes"),
            ("internal", "http://127.0.0.1:\(silent.port)/debian", [], "sources.hosts"),
            ("metadata", "http://169.254.169.254/latest/", [], "sources.hosts"),
            ("line", nil, ["deb [trusted=yes] http://127.0.0.1:\(silent.port)/debian bookworm main"], "sources.hosts"),
        ]
        for (id, mirror, sources, rule) in cases {
            var submit = Self.submit(id, image: "oci:fixture:debian", target: "oci:fixture:\(id)")
            submit.options.aptMirror = mirror ?? ""
            submit.options.aptSources = sources
            let failure = try await Self.failure(of: submit, on: agent.session)
            #expect(failure?.code == .forbidden, "\(id): \(failure?.message ?? "no failure")")
            #expect(failure?.rule == rule, "\(id)")
        }
        #expect(!silent.hasPendingConnection, "a refused source must not be connected to")
    }

    @Test func thePolicyFileParsesPerClientRulesAndRefusesTypos() throws {
        let text = """
            layouts:
              read: [/srv/oci]
              write: [patched]
            registries:
              pull: ["registry.example/*"]
              push: ["registry.example/patched/*"]
              insecure: ["127.0.0.1:5000"]
            sources:
              hosts: [deb.debian.org, "*.internal"]
            limits:
              max_job_timeout: 2h
              max_queued_per_client: 4
            clients:
              alice:
                registries:
                  push: ["registry.example/alice/*"]
            """
        let policy = try AgentPolicy.parse(text, workdir: "/var/lib/copa-agent")
        #expect(policy.rules.layoutReadRoots == ["/srv/oci"])
        #expect(policy.rules.layoutWriteRoots == ["/var/lib/copa-agent/patched"])
        #expect(policy.limits.maxJobTimeout == .seconds(7200))
        #expect(policy.limits.maxQueuedPerClient == 4)
        let alice = policy.rules(for: "alice")
        #expect(alice.push == ["registry.example/alice/*"])
        #expect(alice.pull == ["registry.example/*"], "a client entry replaces only the fields it names")
        #expect(policy.rules(for: "bob").push == ["registry.example/patched/*"])

        let source = try ImageReference(parsing: "registry.example/app:1")
        let request = PatchRequest(image: source, target: try ImageReference(parsing: "registry.example/alice/app:1"),
                                   platform: .host, manifest: UpdateManifest(os: UpdateManifest.OS(family: "debian", version: "12"), architecture: "amd64", updates: []),
                                   options: PatchOptions())
        #expect(throws: Never.self) { try alice.authorize(request, agentMirrors: []) }
        #expect(throws: PolicyRefusal.self) { try policy.rules(for: "bob").authorize(request, agentMirrors: []) }

        // The first: a mapping key that is a sequence, which trapped in Yams'
        // untyped loader (found by fuzz-policy; kept in Fuzz/corpus too).
        for typo in ["? [a, b]\n: 1\n", "layouts:\n  ? {read: x}\n  : [/]\n", "registries:\n  pussh: ['*']\n", "layout:\n  read: [/]\n", "limits:\n  max_job_timeout: forever\n",
                     "registries:\n  push: '*'\n"] {
            #expect(throws: PolicyFileError.self, "\(typo)") { try AgentPolicy.parse(typo, workdir: "/w") }
        }
    }
}

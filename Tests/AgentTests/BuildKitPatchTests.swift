import BuildKitAPI
import Foundation
import Logging
import Testing
@testable import Engine

/// The BuildKit executor against a real BuildKit (the one in trixie's Docker
/// Engine, started by scripts/test through scripts/buildkit): a `copa-agent
/// serve --buildkit` process, `copa patch --agent --executor ...` clients, and
/// the results read back with skopeo, umoci and dpkg.
@Suite(.serialized) struct BuildKitPatchTests {
    /// The BuildKit address, or nil after printing why the tests skip. They
    /// skip only when scripts/test said BuildKit could not start; run without
    /// scripts/test they fail, like every integration test.
    static func buildKit(_ test: String) throws -> String? {
        if let reason = ProcessInfo.processInfo.environment["COPA_TEST_BUILDKIT_SKIP"], !reason.isEmpty {
            print("BuildKitPatchTests.\(test) skipped: \(reason)")
            return nil
        }
        return try TestEnvironment.variable("COPA_TEST_BUILDKIT")
    }

    /// The live bookworm image and the tooling image in the test registry.
    static func liveImages(_ test: String) throws -> (image: String, report: String, tooling: String)? {
        if ProcessInfo.processInfo.environment["COPA_TEST_SKIP_LIVE"] == "1" {
            print("BuildKitPatchTests.\(test) skipped: COPA_TEST_SKIP_LIVE=1 (no live image to patch or to use as tooling)")
            return nil
        }
        return (try TestEnvironment.variable("COPA_TEST_LIVE_IMAGE"), try TestEnvironment.variable("COPA_TEST_LIVE_REPORT"),
                try TestEnvironment.variable("COPA_TEST_TOOLING_IMAGE"))
    }

    /// A `copa-agent serve --buildkit` process on a free port.
    final class AgentProcess {
        let process = Process()
        let endpoint: String
        let log: String

        init(buildKit: String, tooling: String) throws {
            let workdir = try TestEnvironment.temporaryDirectory()
            let port = 20_000 + Int.random(in: 0..<20_000)
            endpoint = "tcp://127.0.0.1:\(port)"
            log = workdir + "/agent.log"
            FileManager.default.createFile(atPath: log, contents: nil)
            process.executableURL = URL(fileURLWithPath: TestEnvironment.binary("copa-agent"))
            process.arguments = ["serve", "--listen", endpoint, "--workdir", workdir, "--max-jobs", "2",
                                 "--buildkit", buildKit, "--tooling-image", tooling, "--policy", try TestEnvironment.layoutPolicy(sourceHosts: ["127.0.0.1"])]
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            try process.run()
        }

        func patch(_ arguments: [String]) throws -> CommandResult {
            guard process.isRunning else {
                throw TestSetupError(message: "copa-agent exited: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            return try run(TestEnvironment.binary("copa"), ["patch", "--agent", endpoint, "--progress", "json"] + arguments)
        }

        deinit {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// A registry image copied into an OCI layout and unpacked by umoci.
    static func unpack(_ reference: String) throws -> UnpackedImage {
        let layout = try TestEnvironment.temporaryDirectory() + "/layout"
        try run("/usr/bin/skopeo", ["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                                    "docker://\(reference)", "oci:\(layout):image"]).check()
        return try UnpackedImage.unpack(layout: layout, tag: "image")
    }

    @Test func welcomeAdvertisesBuildKitAndItsPlatforms() throws {
        guard let buildKit = try Self.buildKit(#function), let live = try Self.liveImages(#function) else { return }
        let agent = try AgentProcess(buildKit: buildKit, tooling: live.tooling)
        Thread.sleep(forTimeInterval: 1)
        let result = try run(TestEnvironment.binary("copa"), ["agent-info", "--agent", agent.endpoint])
        try result.check()
        #expect(result.stdout.contains("buildkit"), "\(result.stdout)")
        #expect(result.stdout.contains("linux/amd64") || result.stdout.contains("linux/arm64"), "\(result.stdout)")
    }

    /// Parity: the same image and report through both executors give images
    /// whose dpkg databases hold the same versions of the updated packages,
    /// each the original layers plus exactly one.
    @Test func bothExecutorsInstallTheSameVersions() throws {
        guard let buildKit = try Self.buildKit(#function), let live = try Self.liveImages(#function) else { return }
        let agent = try AgentProcess(buildKit: buildKit, tooling: live.tooling)
        let registry = try TestEnvironment.registry
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let source = "\(registry)/parity-\(suffix)/debian:bookworm"
        try run("/usr/bin/skopeo", ["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                                    "--preserve-digests", "docker://\(live.image)", "docker://\(source)"]).check()

        let native = try agent.patch(["-i", source, "-r", live.report, "-t", "native", "--executor", "native"])
        try native.check()
        // No --executor: auto prefers BuildKit for a registry image.
        let built = try agent.patch(["-i", source, "-r", live.report, "-t", "buildkit"])
        try built.check()
        // BuildKit's own progress reached the client as job events.
        #expect(built.stderr.contains("apt-get install"), "\(built.stderr.suffix(2000))")
        // apt's own output is streamed, unless BuildKit had the step cached
        // from an earlier run against the same image content.
        let cached = built.stderr.contains("\"detail\":\"cached\",\"name\":\"apt-get install")
        #expect(cached || built.stderr.contains("Setting up"), "apt's output is streamed")

        let original = try skopeoLayers("docker://\(source)")
        for tag in ["native", "buildkit"] {
            let layers = try skopeoLayers("docker://\(registry)/parity-\(suffix)/debian:\(tag)")
            #expect(layers.count == original.count + 1, "\(tag): \(layers.count) layers")
            #expect(Array(layers.prefix(original.count)) == original, "\(tag) keeps the original layers")
        }

        let reportJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: live.report))) as? [String: Any]
        let results = reportJSON?["Results"] as? [[String: Any]] ?? []
        let names = Set(results.flatMap { $0["Vulnerabilities"] as? [[String: Any]] ?? [] }.compactMap { $0["PkgName"] as? String })
        #expect(!names.isEmpty)
        let nativeImage = try Self.unpack("\(registry)/parity-\(suffix)/debian:native")
        let buildKitImage = try Self.unpack("\(registry)/parity-\(suffix)/debian:buildkit")
        let nativeVersions = try nativeImage.installedVersions()
        let buildKitVersions = try buildKitImage.installedVersions()
        let before = try Self.unpack(source).installedVersions()
        for name in names.sorted() {
            #expect(nativeVersions[name] != nil && nativeVersions[name] == buildKitVersions[name],
                    "\(name): native \(nativeVersions[name] ?? "-"), buildkit \(buildKitVersions[name] ?? "-")")
            #expect(buildKitVersions[name] != before[name], "\(name) was updated")
        }
        // apt really ran inside the image: dpkg's log in the patch layer.
        #expect(buildKitImage.contents("var/log/dpkg.log")?.contains(" upgrade ") == true)

        // Fidelity: every file of every updated package, and what the
        // maintainer scripts and triggers generate (the CA links and bundle,
        // the loader cache), identical in type, mode, owner, link target and
        // content between the native layer and apt inside the image.
        let updated = nativeVersions.keys.filter { nativeVersions[$0] != before[$0] }.sorted()
        var files = 0
        var differing: [String] = []
        for name in updated {
            let paths = nativeImage.listedPaths(of: name)
            #expect(!paths.isEmpty, "\(name) lists its files")
            for path in paths {
                files += 1
                if nativeImage.entry(path) != buildKitImage.entry(path) { differing.append("\(name): /\(path)") }
            }
        }
        let generated = ["etc/ld.so.cache", "etc/ca-certificates.conf", "etc/ca-certificates.conf.dpkg-old"]
            + nativeImage.walk("etc/ssl/certs").union(buildKitImage.walk("etc/ssl/certs")).sorted()
        for path in generated where nativeImage.entry(path) != buildKitImage.entry(path) {
            differing.append("generated: /\(path)")
        }
        #expect(differing.isEmpty, "\(differing.count) differ: \(differing.prefix(20))")
        print("BuildKitPatchTests: fidelity: \(files) files of \(updated.count) updated packages and \(generated.count) generated entries, \(differing.count) differing")

        // BuildKit only adds layers: patching its result again is refused
        // with a pointer to the native executor, which replaces the layer.
        let again = try agent.patch(["-i", "\(registry)/parity-\(suffix)/debian:buildkit", "-r", live.report,
                                     "-t", "again", "--executor", "buildkit"])
        #expect(again.status != 0)
        #expect(again.stderr.contains("--executor native"), "\(again.stderr.suffix(1000))")
        #expect(agent.process.isRunning)
    }

    /// A distroless-style image (status.d, no apt, no shell): the tooling
    /// image deploys the packages into it.
    @Test func patchesDistrolessThroughTheToolingImage() throws {
        guard let buildKit = try Self.buildKit(#function), let live = try Self.liveImages(#function) else { return }
        let agent = try AgentProcess(buildKit: buildKit, tooling: live.tooling)
        let registry = try TestEnvironment.registry
        let fixtures = try TestEnvironment.fixtures
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let source = "\(registry)/distroless-\(suffix)/app:1.0"
        try run("/usr/bin/skopeo", ["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                                    "--preserve-digests", "docker://\(registry)/fixture/distroless:1.0", "docker://\(source)"]).check()
        let aptSource = "deb [signed-by=\(fixtures)/repo/keyring.gpg] \(try TestEnvironment.repoURL) fixture main"
        let result = try agent.patch(["-i", source, "-r", fixtures + "/images/trivy-distroless.json", "-t", "1.0-patched",
                                      "--apt-source", aptSource, "--executor", "buildkit"])
        try result.check()
        #expect(result.stderr.contains("deploy "), "the tooling step's progress is streamed")
        #expect(result.stderr.contains("warning: fx-conf: deployed into a distroless image: maintainer scripts and triggers were not run"),
                "the result says maintainer scripts did not run")

        let patched = "\(registry)/distroless-\(suffix)/app:1.0-patched"
        let original = try skopeoLayers("docker://\(source)")
        let layers = try skopeoLayers("docker://\(patched)")
        #expect(layers.count == original.count + 1)
        #expect(Array(layers.prefix(original.count)) == original)

        let image = try Self.unpack(patched)
        image.expectPatchedFixtureDistroless()
        // Nothing of the tooling image leaks into the patched image.
        #expect(!image.exists("usr/bin/apt-get"))
        #expect(!image.exists("bin/sh") && !image.exists("usr/bin/sh"))

        // A job that names its own apt sources goes to the native executor
        // under auto: it replaces the image's sources as asked.
        let auto = try agent.patch(["-i", source, "-r", fixtures + "/images/trivy-distroless.json", "-t", "1.0-auto",
                                    "--apt-source", aptSource])
        try auto.check()
        #expect(auto.stderr.contains("\"name\":\"apply\"") && !auto.stderr.contains("buildkit-solve"), "\(auto.stderr.suffix(1500))")
    }

    /// What BuildKit cannot do is a clear error, and the agent goes on.
    @Test func layoutsAndRepatchedImagesAreClearErrorsOnBuildKit() throws {
        guard let buildKit = try Self.buildKit(#function), let live = try Self.liveImages(#function) else { return }
        let agent = try AgentProcess(buildKit: buildKit, tooling: live.tooling)
        let layout = try TestEnvironment.copyFixtureLayout()
        let fixtures = try TestEnvironment.fixtures
        let result = try agent.patch(["-i", "oci:\(layout):debian", "-r", fixtures + "/images/trivy-debian.json",
                                      "--executor", "buildkit"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--executor native"), "\(result.stderr)")
        // With auto, the layout goes to the native executor.
        let auto = try agent.patch(["-i", "oci:\(layout):debian", "-r", fixtures + "/images/trivy-debian.json", "-t", "auto"])
        try auto.check()
        #expect(agent.process.isRunning)
    }
}

/// Cancelling a job cancels its Solve call, and BuildKit stops the step.
@Suite struct BuildKitCancelTests {
    actor Seen {
        var started = false
        var stoppedWith: String?
        func update(_ status: Moby_Buildkit_V1_StatusResponse, name: String) {
            for vertex in status.vertexes where vertex.name == name {
                if vertex.hasStarted { started = true }
                if vertex.hasCompleted { stoppedWith = vertex.error }
            }
        }
    }

    @Test func cancellingStopsTheSolve() async throws {
        guard let address = try BuildKitPatchTests.buildKit(#function),
              let live = try BuildKitPatchTests.liveImages(#function) else { return }
        let client = try BuildKitClient(address: try BuildKitAddress(parsing: address),
                                        scratch: try TestEnvironment.temporaryDirectory())
        defer { client.close() }
        let platform = Platform(os: "linux", architecture: "amd64")
        var llb = LLBDefinition()
        let image = try llb.image(live.image, platform: platform, name: "image")
        let name = "sleep \(UUID().uuidString)"  // a new vertex: never cached
        let slept = try llb.exec(args: ["/bin/sleep", "300"], env: ["COPA_TEST=\(name)"],
                                 mounts: [.init(dest: "/", kind: .layer(image, keep: true))],
                                 platform: platform, network: .none, name: name)[0]
        var request = Moby_Buildkit_V1_SolveRequest()
        request.ref = "copa-test-" + UUID().uuidString.lowercased()
        request.definition = try llb.definition(result: slept)

        let seen = Seen()
        let status = Task { try await client.status(ref: request.ref) { await seen.update($0, name: name) } }
        let solve = Task { try await client.solve(request) }
        for _ in 0..<600 where await !seen.started { try await Task.sleep(for: .milliseconds(100)) }
        #expect(await seen.started, "the sleep step started")
        try await Task.sleep(for: .seconds(1))
        let early = await seen.stoppedWith
        #expect(early == nil, "the step is still running when the job is cancelled, not ended by: \(early ?? "")")
        solve.cancel()
        let outcome = await solve.result
        #expect(throws: CancellationError.self) { try outcome.get() }
        // BuildKit reports the step as ended with an error once it stopped it.
        for _ in 0..<300 where await seen.stoppedWith == nil { try await Task.sleep(for: .milliseconds(100)) }
        status.cancel()
        let stopped = await seen.stoppedWith
        #expect(stopped?.isEmpty == false, "BuildKit stopped the step: \(stopped ?? "still running")")
    }
}

/// The capability check: BuildKit refuses a graph that declares a capability
/// it lacks before running anything, and the agent turns that into an error
/// that says what is needed and what to use instead.
@Suite struct BuildKitCapabilityTests {
    @Test func missingCapabilityIsAClearError() async throws {
        guard let address = try BuildKitPatchTests.buildKit(#function) else { return }
        let client = try BuildKitClient(address: try BuildKitAddress(parsing: address),
                                        scratch: try TestEnvironment.temporaryDirectory())
        defer { client.close() }
        // The real check passes on this BuildKit...
        try await BuildKitExecutor.checkCapabilities(client, version: "test")
        // ...and one more capability that no BuildKit has fails it.
        do {
            try await BuildKitExecutor.checkCapabilities(client, version: "test", also: ["copa.test.no-such-capability"])
            Issue.record("BuildKit accepted a capability it does not have")
        } catch let error as EngineError {
            #expect(error.code == .executor)
            #expect(error.message.contains("copa.test.no-such-capability"), "\(error.message)")
            #expect(error.message.contains("MergeOp and DiffOp") && error.message.contains("--executor native"), "\(error.message)")
        }
    }
}

/// `tcp://` BuildKit addresses, plaintext and TLS with client certificates,
/// against the test BuildKit served on TCP by scripts/lib/tcp-front.py (the
/// way a buildkitd with --tlscacert/--tlscert/--tlskey serves it).
@Suite(.serialized) struct BuildKitTCPTests {
    final class Front {
        let process = Process()
        let port = 30_000 + Int.random(in: 0..<20_000)

        init(engine: String, tls: [String] = []) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [TestEnvironment.repositoryRoot.appendingPathComponent("scripts/lib/tcp-front.py").path,
                                 "--listen", "\(port)", "--engine", engine] + tls
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            _ = output.fileHandleForReading.availableData  // "listening on ..."
        }

        deinit {
            // SIGKILL: the test runner may hand SIGTERM to children blocked.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    static func engineSocket(_ test: String) throws -> String? {
        guard let address = try BuildKitPatchTests.buildKit(test) else { return nil }
        guard case .docker(let socket) = try BuildKitAddress(parsing: address) else {
            throw TestSetupError(message: "COPA_TEST_BUILDKIT is not a docker:// address: \(address)")
        }
        return socket
    }

    /// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
    static func certificates() throws -> String {
        let directory = try TestEnvironment.temporaryDirectory()
        let script = """
            set -e
            cd "$1"
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=copa-test-ca -keyout ca.key -out ca.pem 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj /CN=copa-agent -keyout client.key -out client.csr 2>/dev/null
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem 2>/dev/null
            """
        try run("/bin/sh", ["-c", script, "sh", directory]).check()
        return directory
    }

    @Test func plaintextTCP() async throws {
        guard let engine = try Self.engineSocket(#function) else { return }
        let front = try Front(engine: engine)
        let client = try BuildKitClient(address: .tcp(host: "127.0.0.1", port: front.port), scratch: try TestEnvironment.temporaryDirectory())
        defer { client.close() }
        let workers = try await client.listWorkers()
        #expect(!workers.isEmpty && !workers[0].platforms.isEmpty)
    }

    @Test func mutualTLS() async throws {
        guard let engine = try Self.engineSocket(#function) else { return }
        let pki = try Self.certificates()
        let front = try Front(engine: engine, tls: ["--cert", pki + "/server.pem", "--key", pki + "/server.key",
                                                    "--client-ca", pki + "/ca.pem"])
        let address = BuildKitAddress.tcp(host: "127.0.0.1", port: front.port)
        let scratch = try TestEnvironment.temporaryDirectory()

        let client = try BuildKitClient(address: address, tls: BuildKitTLS(caCertificate: pki + "/ca.pem", certificate: pki + "/client.pem",
                                                                          key: pki + "/client.key"), scratch: scratch)
        defer { client.close() }
        let workers = try await client.listWorkers()
        #expect(!workers.isEmpty)
        // The whole executor connects the same way (capability check included).
        var configuration = BuildKitExecutor.Configuration(address: address)
        configuration.tls = BuildKitTLS(caCertificate: pki + "/ca.pem", certificate: pki + "/client.pem", key: pki + "/client.key")
        let executor = try await BuildKitExecutor.connect(configuration, workdir: scratch, logger: .init(label: "test"))
        #expect(executor.platforms.contains(Platform(os: "linux", architecture: "amd64")))
        executor.close()

        // Without a client certificate the server refuses the handshake...
        let anonymous = try BuildKitClient(address: address, tls: BuildKitTLS(caCertificate: pki + "/ca.pem"), scratch: scratch)
        defer { anonymous.close() }
        await #expect(throws: EngineError.self) { _ = try await anonymous.listWorkers() }
        // ...and without our CA the client refuses the server.
        let untrusting = try BuildKitClient(address: address, tls: BuildKitTLS(certificate: pki + "/client.pem", key: pki + "/client.key"),
                                            scratch: scratch)
        defer { untrusting.close() }
        await #expect(throws: EngineError.self) { _ = try await untrusting.listWorkers() }
        // A certificate without its key is an input error.
        #expect(throws: EngineError.self) {
            _ = try BuildKitClient(address: address, tls: BuildKitTLS(certificate: pki + "/client.pem"), scratch: scratch)
        }
    }
}

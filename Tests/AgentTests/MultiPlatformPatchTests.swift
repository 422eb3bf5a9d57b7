import Client
import Foundation
import Protocol
import Testing

/// `copa patch` of an image index (the fixture `multi`: linux/amd64,
/// linux/arm64/v8 and an attestation manifest), run as the real binary and
/// read back with skopeo, umoci and dpkg-query. Part of the serialized
/// EmbeddedPatchTests suite: these tests wait for processes on the shared
/// test thread pool, and two such waits at once starve the async tests.
extension EmbeddedPatchTests {
    struct MultiIndex {
        let raw: [String: Any]
        var manifests: [[String: Any]] { raw["manifests"] as? [[String: Any]] ?? [] }
        var annotations: [String: String] { raw["annotations"] as? [String: String] ?? [:] }

        func digest(architecture: String) -> String? {
            manifests.first { ($0["platform"] as? [String: Any])?["architecture"] as? String == architecture }?["digest"] as? String
        }
    }

    static func multiIndex(_ reference: String) throws -> MultiIndex {
        let result = try run("/usr/bin/skopeo", ["inspect", "--tls-verify=false", "--raw", reference]).check()
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return MultiIndex(raw: object ?? [:])
    }

    /// One platform of an index, copied out by skopeo and unpacked by umoci.
    static func unpackPlatform(_ reference: String, architecture: String) throws -> UnpackedImage {
        let layout = try TestEnvironment.temporaryDirectory() + "/layout"
        try run("/usr/bin/skopeo", ["--insecure-policy", "--override-arch", architecture, "copy", "--quiet",
                                    "--src-tls-verify=false", reference, "oci:\(layout):image"]).check()
        return try UnpackedImage.unpack(layout: layout, tag: "image")
    }

    func patchIndex(_ arguments: [String]) throws -> CommandResult {
        let workdir = try TestEnvironment.temporaryDirectory()
        return try run(TestEnvironment.binary("copa"), ["patch", "--workdir", workdir] + arguments)
    }

    /// Both platforms patched from Copa's report directory; the attestation
    /// entry and the index annotations kept; `sh.copa.patched` added.
    @Test func aReportDirectoryPatchesEveryPlatformOfALayoutIndex() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let reports = try TestEnvironment.fixtures + "/images/reports-multi"
        let result = try patchIndex(["-i", "oci:\(layout):multi", "-r", reports, "-t", "multi-patched"])
        try result.check()
        #expect(result.stdout.contains("patched: oci:\(layout):multi-patched"), "\(result.stdout)")

        let source = try Self.multiIndex("oci:\(layout):multi")
        let patched = try Self.multiIndex("oci:\(layout):multi-patched")
        #expect(patched.manifests.count == 3)
        #expect(patched.raw["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
        for architecture in ["amd64", "arm64"] {
            #expect(patched.digest(architecture: architecture) != nil)
            #expect(patched.digest(architecture: architecture) != source.digest(architecture: architecture), "\(architecture)")
        }
        // The attestation entry, byte for byte the same descriptor.
        let attestation = { (index: MultiIndex) in
            index.manifests.first { ($0["platform"] as? [String: Any])?["architecture"] as? String == "unknown" }
        }
        #expect(attestation(patched).map { NSDictionary(dictionary: $0) } == attestation(source).map { NSDictionary(dictionary: $0) })
        #expect(patched.annotations["org.opencontainers.image.source"] == "https://example.invalid/fixture/multi")
        #expect(patched.annotations["sh.copa.patched"] != nil)
        // The arm64 variant stays on its entry.
        let arm = patched.manifests.first { ($0["platform"] as? [String: Any])?["architecture"] as? String == "arm64" }
        #expect((arm?["platform"] as? [String: Any])?["variant"] as? String == "v8")

        let amd64 = try Self.unpackPlatform("oci:\(layout):multi-patched", architecture: "amd64")
        #expect(try amd64.installedVersions()["fx-multi"] == "1.0-2")
        #expect(amd64.contents("usr/lib/x86_64-linux-gnu/libfx.so.1")?.contains("1.0-2") == true)
        let arm64 = try Self.unpackPlatform("oci:\(layout):multi-patched", architecture: "arm64")
        let versions = try arm64.installedVersions()
        for (name, version) in EmbeddedPatchTests.expected {
            #expect(versions[name] == version, "arm64 \(name)")
        }
        #expect(arm64.contents("usr/lib/aarch64-linux-gnu/libfx.so.1")?.contains("1.0-2 arm64") == true)
        #expect(!arm64.exists("usr/lib/x86_64-linux-gnu/libfx.so.1"))
        // The source index is untouched.
        #expect(try skopeoDigest("oci:\(layout):multi") == skopeoDigest("oci:\(TestEnvironment.fixtures)/images/layout:multi"))
    }

    /// One report: only its platform is patched; the other keeps its digest.
    @Test func oneReportPatchesItsPlatformAndKeepsTheOther() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian-arm64.json"
        try patchIndex(["-i", "oci:\(layout):multi", "-r", report, "-t", "arm-only", "--platform-tags"]).check()
        let source = try Self.multiIndex("oci:\(layout):multi")
        let patched = try Self.multiIndex("oci:\(layout):arm-only")
        #expect(patched.manifests.count == 3)
        #expect(patched.digest(architecture: "amd64") == source.digest(architecture: "amd64"))
        #expect(patched.digest(architecture: "arm64") != source.digest(architecture: "arm64"))
        // --platform-tags: the patched platform under a tag of its own, as Copa writes it; the kept one gets none.
        #expect(try skopeoDigest("oci:\(layout):arm-only-arm64-v8") == patched.digest(architecture: "arm64"))
        #expect(try run("/usr/bin/skopeo", ["inspect", "oci:\(layout):arm-only-amd64"]).status != 0)
    }

    /// The same through the loopback registry: the index pushed under the
    /// target tag lists both patched platforms and the attestation.
    @Test func aRegistryIndexIsPatchedAndPushedAsAnIndex() throws {
        let registry = try TestEnvironment.registry
        let reports = try TestEnvironment.fixtures + "/images/reports-multi"
        let tag = "patched-\(UInt32.random(in: 0 ... .max))"
        try patchIndex(["-i", "\(registry)/fixture/multi:1.0", "-r", reports, "-t", tag]).check()
        let source = try Self.multiIndex("docker://\(registry)/fixture/multi:1.0")
        let patched = try Self.multiIndex("docker://\(registry)/fixture/multi:\(tag)")
        #expect(patched.manifests.count == 3)
        #expect(patched.digest(architecture: "arm64") != source.digest(architecture: "arm64"))
        #expect(patched.digest(architecture: "amd64") != source.digest(architecture: "amd64"))
        #expect(patched.annotations["sh.copa.patched"] != nil)
        let arm64 = try Self.unpackPlatform("docker://\(registry)/fixture/multi:\(tag)", architecture: "arm64")
        #expect(try arm64.installedVersions()["fx-multi"] == "1.0-2")
    }

    /// Bad requests are refused before any job runs, and nothing is tagged.
    @Test func aPlatformTheIndexLacksIsAClearErrorBeforeAnyWork() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let directory = try TestEnvironment.temporaryDirectory()
        let original = try String(contentsOfFile: TestEnvironment.fixtures + "/images/trivy-debian.json", encoding: .utf8)
        try original.replacingOccurrences(of: "\"architecture\":\"amd64\"", with: "\"architecture\":\"s390x\"")
            .replacingOccurrences(of: "\"architecture\": \"amd64\"", with: "\"architecture\": \"s390x\"")
            .write(toFile: directory + "/s390x.json", atomically: true, encoding: .utf8)
        let lacking = try patchIndex(["-i", "oci:\(layout):multi", "-r", directory + "/s390x.json", "-t", "never"])
        #expect(lacking.status == 3, "\(lacking.stderr)")
        #expect(lacking.stderr.contains("has no image for linux/s390x (it has: linux/amd64, linux/arm64/v8)"), "\(lacking.stderr)")
        #expect(!lacking.stderr.contains("[fetch-layers]"))

        let reports = try TestEnvironment.fixtures + "/images/reports-multi"
        let unreported = try patchIndex(["-i", "oci:\(layout):multi", "-r", reports, "--platform", "linux/amd64,linux/riscv64", "-t", "never"])
        #expect(unreported.status == 3)
        #expect(unreported.stderr.contains("--platform names linux/riscv64"), "\(unreported.stderr)")
        #expect(try run("/usr/bin/skopeo", ["inspect", "oci:\(layout):never"]).status != 0)
    }

    /// A client that skips `copa`'s own check (it asks an agent directly)
    /// meets the agent's: a single-platform image is patched only for its
    /// own platform, refused before any layer is read.
    @Test func theAgentRefusesASingleArchImageForAnotherPlatform() async throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let agent = try AgentProcess(["--listen", "tcp://127.0.0.1:0", "--policy", try TestEnvironment.layoutPolicy()])
        defer { agent.stop() }
        let session = try await AgentSession(endpoint: try await agent.endpoint())
        defer { Task { await session.close() } }
        _ = try await session.hello()
        var submit = Copa_Protocol_V1_Submit()
        submit.jobID = "arm-of-amd64"
        submit.image = "oci:\(layout):debian"
        submit.target = "oci:\(layout):arm"
        submit.platform.os = "linux"
        submit.platform.architecture = "arm64"
        submit.manifest.osFamily = "debian"
        var failure: Copa_Protocol_V1_Failure?
        for try await update in try await session.submit(submit) {
            if case .failure(let value) = update { failure = value }
        }
        #expect(failure?.code == .invalidInput)
        #expect(failure?.message.contains("single-platform image for linux/amd64, and the job is for linux/arm64") == true,
                "\(failure?.message ?? "no failure")")
        #expect(try run("/usr/bin/skopeo", ["inspect", "oci:\(layout):arm"]).status != 0)
    }

    /// On a terminal (`script` gives copa one), each platform has a live
    /// line redrawn in place and ending in its digest; without one, plain
    /// lines and no escape sequence.
    @Test func onATerminalEachJobHasALiveLine() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let reports = try TestEnvironment.fixtures + "/images/reports-multi"
        let directory = try TestEnvironment.temporaryDirectory()
        let command = [TestEnvironment.binary("copa"), "patch", "--workdir", directory + "/work",
                       "-i", "oci:\(layout):multi", "-r", reports, "-t", "live"].joined(separator: " ")
        try run("/usr/bin/script", ["-qfec", command, directory + "/typescript"], environment: ["TERM": "xterm"]).check()
        let screen = try String(contentsOfFile: directory + "/typescript", encoding: .utf8)
        #expect(screen.contains("\u{1B}[") && screen.contains("\u{1B}[J"), "redrawn in place: \(screen)")
        let patched = try Self.multiIndex("oci:\(layout):live")
        for architecture in ["amd64", "arm64"] {
            let digest = try #require(patched.digest(architecture: architecture))
            #expect(screen.contains("done \(digest)"), "\(architecture)'s line ends with its digest")
        }
        let plain = try patchIndex(["-i", "oci:\(layout):multi", "-r", reports, "-t", "plain"])
        try plain.check()
        #expect(!plain.stderr.contains("\u{1B}["), "\(plain.stderr)")
        #expect(plain.stderr.contains("[linux/arm64/v8] [apply] completed"), "\(plain.stderr)")
    }
}

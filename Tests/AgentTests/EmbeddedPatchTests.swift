import Foundation
import Testing

/// `copa patch` on the embedded default, run as the real binary over the
/// fixture images, checked with skopeo, umoci, dpkg and the file system.
@Suite(.serialized) struct EmbeddedPatchTests {
    static let expected = [
        "fx-drop": "1.0-2", "fx-conf": "1.0-2", "fx-dep": "2.0-1",
        "fx-newdep": "1.0-1", "fx-old": "2.0-1", "fx-multi": "1.0-2",
    ]

    func patch(_ arguments: [String], workdir: String) throws -> CommandResult {
        try run(TestEnvironment.binary("copa"), ["patch", "--workdir", workdir] + arguments)
    }

    @Test func patchesOCILayoutWithOnePatchLayer() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let workdir = try TestEnvironment.temporaryDirectory()
        let result = try patch(["-i", "oci:\(layout):debian", "-r", report, "-t", "debian-patched"], workdir: workdir)
        try result.check()
        #expect(result.stdout.contains("patched: oci:\(layout):debian-patched"))

        let before = try skopeoLayers("oci:\(layout):debian")
        let after = try skopeoLayers("oci:\(layout):debian-patched")
        #expect(after.count == before.count + 1)
        #expect(Array(after.prefix(before.count)) == before)

        let image = try UnpackedImage.unpack(layout: layout, tag: "debian-patched")
        let versions = try image.installedVersions()
        for (name, version) in Self.expected {
            #expect(versions[name] == version, "\(name)")
        }
        // fx-drop's new version no longer ships gone.txt: whited out.
        #expect(!image.exists("usr/share/fx-drop/gone.txt"))
        #expect(image.contents("usr/share/fx-drop/keep.txt")?.contains("1.0-2") == true)
        // The image changed fx.conf: kept, the new one beside it.
        let original = try UnpackedImage.unpack(layout: layout, tag: "debian")
        #expect(image.contents("etc/fx-conf/fx.conf") == original.contents("etc/fx-conf/fx.conf"))
        #expect(image.contents("etc/fx-conf/fx.conf.dpkg-dist")?.contains("1.0-2") == true)
        #expect(image.exists("usr/lib/x86_64-linux-gnu/libfx.so.1"))
        #expect(image.contents("var/lib/dpkg/info/fx-multi:amd64.list")?.contains("/usr/lib/x86_64-linux-gnu/libfx.so.1") == true)
        #expect(result.stderr.contains("postinst"))

        // dpkg's own check of every file against the md5sums we wrote; the
        // only difference allowed is the conffile the image itself changed.
        let verify = try run("/usr/bin/dpkg", ["--root=\(image.rootfs)", "--verify"])
        let problems = verify.stdout.split(separator: "\n").filter { !$0.hasSuffix("/etc/fx-conf/fx.conf") }
        #expect(problems.isEmpty, "dpkg --verify: \(verify.stdout)")
    }

    /// Copa's markers: `BaseImage` in the config (the first image's, kept
    /// on re-patch), `sh.copa.image.patched` and the created annotation on
    /// the manifest (the source's own annotations kept), and `created`
    /// never earlier than the source's or the last history entry's.
    @Test func thePatchedImageCarriesCopasMarkers() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let workdir = try TestEnvironment.temporaryDirectory()
        try patch(["-i", "oci:\(layout):debian", "-r", report, "-t", "marked"], workdir: workdir).check()
        let raw = { (reference: String, config: Bool) throws -> [String: Any] in
            let result = try run("/usr/bin/skopeo", ["inspect", config ? "--config" : "--raw", reference]).check()
            return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        }
        let manifest = try raw("oci:\(layout):marked", false)
        let annotations = manifest["annotations"] as? [String: String] ?? [:]
        let config = try raw("oci:\(layout):marked", true)
        let source = try raw("oci:\(layout):debian", true)
        let labels = (config["config"] as? [String: Any])?["Labels"] as? [String: String] ?? [:]
        #expect(labels["BaseImage"] == "oci:\(layout):debian", "\(labels)")
        let created = try #require(config["created"] as? String)
        #expect(annotations["sh.copa.image.patched"] == created)
        #expect(annotations["org.opencontainers.image.created"] == created)
        let sourceCreated = try #require(source["created"] as? String)
        let history = (config["history"] as? [[String: Any]] ?? []).compactMap { $0["created"] as? String }
        let date = { (text: String) in ISO8601DateFormatter().date(from: text) ?? .distantPast }
        #expect(date(created) >= date(sourceCreated))
        #expect(history.last == created)
        #expect(zip(history, history.dropFirst()).allSatisfy { date($0) <= date($1) }, "history runs forwards: \(history)")

        // Re-patched: the first image stays the base.
        try patch(["-i", "oci:\(layout):marked", "-r", report, "-t", "remarked"], workdir: workdir).check()
        let again = try raw("oci:\(layout):remarked", true)
        #expect(((again["config"] as? [String: Any])?["Labels"] as? [String: String])?["BaseImage"] == "oci:\(layout):debian")
        // Already fixed: said so, and the target is the source as it is.
        let fixed = try patch(["-i", "oci:\(layout):marked", "-r", report, "-t", "unchanged"], workdir: workdir)
        try fixed.check()
        #expect(fixed.stderr.contains("nothing to change"), "\(fixed.stderr)")
        #expect(try skopeoDigest("oci:\(layout):unchanged") == skopeoDigest("oci:\(layout):marked"))
    }

    @Test func sameInputsGiveTheSameDigestAndRepatchingReplacesTheLayer() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let workdir = try TestEnvironment.temporaryDirectory()
        try patch(["-i", "oci:\(layout):debian", "-r", report, "-t", "one"], workdir: workdir).check()
        try patch(["-i", "oci:\(layout):debian", "-r", report, "-t", "two"], workdir: workdir).check()
        #expect(try skopeoDigest("oci:\(layout):one") == skopeoDigest("oci:\(layout):two"))

        try patch(["-i", "oci:\(layout):one", "-r", report, "-t", "again"], workdir: workdir).check()
        let base = try skopeoLayers("oci:\(layout):debian")
        let again = try skopeoLayers("oci:\(layout):again")
        #expect(again.count == base.count + 1)
        let versions = try UnpackedImage.unpack(layout: layout, tag: "again").installedVersions()
        #expect(versions["fx-newdep"] == "1.0-1")
        #expect(versions["fx-drop"] == "1.0-2")
    }

    @Test func patchesRegistryImagesKeepingTheirMediaType() throws {
        let registry = try TestEnvironment.registry
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let workdir = try TestEnvironment.temporaryDirectory()
        for repository in ["fixture/debian", "fixture/debian-docker"] {
            let source = "docker://\(registry)/\(repository):1.0"
            let sourceDigest = try skopeoDigest(source)
            try patch(["-i", "\(registry)/\(repository):1.0", "-r", report], workdir: workdir).check()
            let target = "docker://\(registry)/\(repository):1.0-patched"
            #expect(try skopeoLayers(target).count == skopeoLayers(source).count + 1)
            #expect(try skopeoDigest(source) == sourceDigest, "the source tag must not move")
            let raw = try run("/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", target]).check().stdout
            let sourceRaw = try run("/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", source]).check().stdout
            let isDocker = sourceRaw.contains("application/vnd.docker.distribution.manifest.v2+json")
            #expect(raw.contains("application/vnd.docker.distribution.manifest.v2+json") == isDocker)
        }
    }

    @Test func patchesDistrolessStatusDirectory() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let fixtures = try TestEnvironment.fixtures
        let source = "deb [signed-by=\(fixtures)/repo/keyring.gpg] \(try TestEnvironment.repoURL) fixture main"
        let workdir = try TestEnvironment.temporaryDirectory()
        try patch(["-i", "oci:\(layout):distroless", "-r", fixtures + "/images/trivy-distroless.json",
                   "-t", "distroless-patched", "--apt-source", source], workdir: workdir).check()
        let image = try UnpackedImage.unpack(layout: layout, tag: "distroless-patched")
        image.expectPatchedFixtureDistroless()
    }

    @Test func badSignatureFailsAndWritesNothing() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let fixtures = try TestEnvironment.fixtures
        let workdir = try TestEnvironment.temporaryDirectory()
        for suite in ["tampered", "untrusted", "unsigned"] {
            let source = "deb [signed-by=\(fixtures)/repo/keyring.gpg] \(try TestEnvironment.repoURL) \(suite) main"
            let result = try patch(["-i", "oci:\(layout):debian", "-r", fixtures + "/images/trivy-debian.json",
                                    "-t", "bad-\(suite)", "--apt-source", source], workdir: workdir)
            #expect(result.status == 1, "\(suite): \(result.stderr)")
            #expect(result.stderr.contains("[verification]"), "\(suite): \(result.stderr)")
            #expect(try run("/usr/bin/skopeo", ["inspect", "oci:\(layout):bad-\(suite)"]).status != 0)
        }
    }

    /// A single-platform amd64 image asked for as arm64 is refused before
    /// any work (it used to be patched with arm64 packages), naming both.
    @Test func aSingleArchImageOfAnotherPlatformIsRefused() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let workdir = try TestEnvironment.temporaryDirectory()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let result = try patch(["-i", "oci:\(layout):debian", "-r", report, "--platform", "linux/arm64", "-t", "arm"], workdir: workdir)
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("single-platform image for linux/amd64, and the job is for linux/arm64"), "\(result.stderr)")
        #expect(try run("/usr/bin/skopeo", ["inspect", "oci:\(layout):arm"]).status != 0)
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: workdir + "/cache/blobs/sha256")) ?? []
        #expect(blobs.isEmpty, "no layer was fetched: \(blobs)")
    }

    @Test func clearErrorsForBadInput() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let workdir = try TestEnvironment.temporaryDirectory()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"

        let missing = try patch(["-i", "oci:\(layout):nope", "-r", report], workdir: workdir)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope"))

        let alpine = TestEnvironment.sharedTestData("copa/reports/trivy_valid.json")
        let unsupported = try patch(["-i", "oci:\(layout):debian", "-r", alpine], workdir: workdir)
        #expect(unsupported.status == 3)
        #expect(unsupported.stderr.contains("debian") && unsupported.stderr.contains("ubuntu"))

        let garbage = try TestEnvironment.temporaryDirectory() + "/garbage.json"
        try Data("{\"SchemaVersion\": 2, \"Results\": [{\"Class\": \"os-pkgs\", \"Vulnerabilities\": [{}]}]}".utf8)
            .write(to: URL(fileURLWithPath: garbage))
        let bad = try patch(["-i", "oci:\(layout):debian", "-r", garbage], workdir: workdir)
        #expect(bad.status == 3)
        #expect(bad.stderr.contains("garbage.json"))
    }

    @Test func ignoreErrorsPatchesWhatItCanAndReportsTheRest() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let workdir = try TestEnvironment.temporaryDirectory()
        let report = try TestEnvironment.temporaryDirectory() + "/unfixable.json"
        let manifest = """
            {"apiVersion": "v1alpha1",
             "metadata": {"os": {"type": "debian", "version": "12.5"}, "config": {"arch": "amd64"}},
             "updates": [
               {"name": "fx-conf", "installedVersion": "1.0-1", "fixedVersion": "1.0-2", "vulnerabilityID": "CVE-2099-2001"},
               {"name": "fx-drop", "installedVersion": "1.0-1", "fixedVersion": "9.9-1", "vulnerabilityID": "CVE-2099-2002"}
             ]}
            """
        try Data(manifest.utf8).write(to: URL(fileURLWithPath: report))

        let strict = try patch(["-i", "oci:\(layout):debian", "-r", report, "-t", "strict"], workdir: workdir)
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("fx-drop") && strict.stderr.contains("9.9-1"), "\(strict.stderr)")
        #expect(try run("/usr/bin/skopeo", ["inspect", "oci:\(layout):strict"]).status != 0)

        let lenient = try patch(["-i", "oci:\(layout):debian", "-r", report, "-t", "lenient", "--ignore-errors"], workdir: workdir)
        try lenient.check()
        let rows = lenient.stdout.split(separator: "\n")
        #expect(rows.contains { $0.hasPrefix("fx-drop") && $0.contains("ERROR") }, "\(lenient.stdout)")
        #expect(rows.contains { $0.hasPrefix("fx-conf") && $0.contains("updated") })
        let versions = try UnpackedImage.unpack(layout: layout, tag: "lenient").installedVersions()
        #expect(versions["fx-conf"] == "1.0-2")
        #expect(versions["fx-drop"] == "1.0-1")
    }

    @Test func packageWithAnEscapingTarEntryIsRefused() throws {
        let layout = try TestEnvironment.copyFixtureLayout()
        let fixtures = try TestEnvironment.fixtures
        let workdir = try TestEnvironment.temporaryDirectory()
        let report = try TestEnvironment.temporaryDirectory() + "/hostile.json"
        try Data("""
            {"apiVersion": "v1alpha1",
             "metadata": {"os": {"type": "debian", "version": "12.5"}, "config": {"arch": "amd64"}},
             "updates": [{"name": "fx-drop", "installedVersion": "1.0-1", "fixedVersion": "1.0-9", "vulnerabilityID": "CVE-2099-3001"}]}
            """.utf8).write(to: URL(fileURLWithPath: report))
        let source = "deb [signed-by=\(fixtures)/repo/keyring.gpg] \(try TestEnvironment.repoURL) hostile main"
        let result = try patch(["-i", "oci:\(layout):debian", "-r", report, "-t", "hostile", "--apt-source", source],
                               workdir: workdir)
        #expect(result.status == 1)
        #expect(result.stderr.contains("[archive]") && result.stderr.contains("escape.txt"), "\(result.stderr)")
        #expect(try run("/usr/bin/skopeo", ["inspect", "oci:\(layout):hostile"]).status != 0)
    }
}

import Foundation
import Testing

/// The live test: a real bookworm minbase image (mmdebstrap) patched against
/// the real Debian archive, with a Trivy-format report computed from
/// bookworm-security by scripts/live-report.py. A patched binary from the
/// result is run to show its new version.
@Suite struct LivePatchTests {
    @Test func patchesRealBookwormImageFromTheDebianArchive() throws {
        if ProcessInfo.processInfo.environment["COPA_TEST_SKIP_LIVE"] == "1" {
            print("LivePatchTests skipped: COPA_TEST_SKIP_LIVE=1")
            return
        }
        let live = try TestEnvironment.variable("COPA_TEST_LIVE_LAYOUT")
        let report = try TestEnvironment.variable("COPA_TEST_LIVE_REPORT")
        let layout = try TestEnvironment.temporaryDirectory() + "/layout"
        try run("/bin/cp", ["-a", live, layout]).check()
        let workdir = try TestEnvironment.temporaryDirectory()
        let result = try run(TestEnvironment.binary("copa"),
                             ["patch", "--workdir", workdir, "-i", "oci:\(layout):bookworm", "-r", report, "-t", "bookworm-patched"])
        try result.check()
        #expect(try skopeoLayers("oci:\(layout):bookworm-patched").count == skopeoLayers("oci:\(layout):bookworm").count + 1)

        let reportJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
        let results = reportJSON?["Results"] as? [[String: Any]] ?? []
        let vulnerabilities = results.flatMap { $0["Vulnerabilities"] as? [[String: Any]] ?? [] }
        #expect(!vulnerabilities.isEmpty, "the live report lists no updates")

        let image = try UnpackedImage.unpack(layout: layout, tag: "bookworm-patched")
        let versions = try image.installedVersions()
        for vulnerability in vulnerabilities {
            guard let name = vulnerability["PkgName"] as? String, let fixed = vulnerability["FixedVersion"] as? String,
                  let installed = versions[name] else {
                Issue.record("\(vulnerability) is not installed in the patched image")
                continue
            }
            let compare = try run("/usr/bin/dpkg", ["--compare-versions", installed, "ge", fixed])
            #expect(compare.status == 0, "\(name) is \(installed), fixed in \(fixed)")
        }
        // Whatever dpkg --verify finds in the patched image it must also find
        // in the original: the patch itself adds no mismatch.
        let original = try UnpackedImage.unpack(layout: layout, tag: "bookworm")
        let before = Set(try run("/usr/bin/dpkg", ["--root=\(original.rootfs)", "--verify"]).stdout.split(separator: "\n"))
        let after = try run("/usr/bin/dpkg", ["--root=\(image.rootfs)", "--verify"]).stdout.split(separator: "\n")
        #expect(after.filter { !before.contains($0) }.isEmpty, "dpkg --verify: \(after)")

        // The loader cache is the one the image's own ldconfig writes for
        // the patched tree (run in a copy of it), and no warning says it was not.
        let copy = try TestEnvironment.temporaryDirectory() + "/rootfs"
        try run("/bin/cp", ["-a", image.rootfs, copy]).check()
        try run("/usr/bin/unshare", ["--root=\(copy)", "/sbin/ldconfig"]).check()
        let cache = FileManager.default.contents(atPath: image.rootfs + "/etc/ld.so.cache")
        #expect(cache != nil && cache == FileManager.default.contents(atPath: copy + "/etc/ld.so.cache"),
                "/etc/ld.so.cache differs from the image's ldconfig run on the patched tree")
        let output = result.stdout + result.stderr
        #expect(!output.contains("ldconfig was not run") && !output.contains("ldconfig trigger was not"), "\(output.suffix(2000))")
        #expect(output.contains("ldconfig reproduced"), "\(output.suffix(2000))")

        // Run the patched openssl inside the patched root file system.
        if let opensslVersion = versions["openssl"] {
            let upstream = opensslVersion.split(separator: "-").first.map(String.init) ?? opensslVersion
            let output = try run("/usr/bin/unshare", ["--root=\(image.rootfs)", "/usr/bin/openssl", "version"]).check()
            #expect(output.stdout.contains(upstream), "openssl version: \(output.stdout), package \(opensslVersion)")
        }
    }

    /// A real two-platform index built from Debian's amd64 and arm64
    /// packages (the arm64 root installed by the host's dpkg, no emulation),
    /// patched per platform from Copa's report directory through the
    /// loopback registry: both platforms get their architecture's fixes.
    static let twoPlatformReports = (ProcessInfo.processInfo.environment["COPA_TEST_FIXTURES"] ?? "") + "/live/reports-multi"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: twoPlatformReports),
                   "scripts/live-image could not build the arm64 root here (see its log), so there is no two-platform live index"))
    func patchesARealTwoPlatformIndexFromTheDebianArchive() async throws {
        if ProcessInfo.processInfo.environment["COPA_TEST_SKIP_LIVE"] == "1" {
            print("LivePatchTests skipped: COPA_TEST_SKIP_LIVE=1")
            return
        }
        let image = try TestEnvironment.variable("COPA_TEST_LIVE_IMAGE")
        let reports = (try TestEnvironment.variable("COPA_TEST_LIVE_REPORT") as NSString).deletingLastPathComponent + "/reports-multi"
        let source = image.replacingOccurrences(of: ":bookworm", with: ":bookworm-multi")
        let target = "bookworm-multi-\(UInt32.random(in: 0 ... .max))"
        let workdir = try TestEnvironment.temporaryDirectory()
        try await runAsync(TestEnvironment.binary("copa"), ["patch", "--workdir", workdir, "-i", source, "-r", reports, "-t", target]).check()
        let patchedReference = source.replacingOccurrences(of: ":bookworm-multi", with: ":\(target)")
        let raw = try await runAsync("/usr/bin/skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(patchedReference)"]).check()
        let index = try JSONSerialization.jsonObject(with: Data(raw.stdout.utf8)) as? [String: Any]
        #expect((index?["manifests"] as? [Any])?.count == 2)
        #expect((index?["annotations"] as? [String: String])?["sh.copa.patched"] != nil)
        for (architecture, triplet) in [("amd64", "x86_64-linux-gnu"), ("arm64", "aarch64-linux-gnu")] {
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reports + "/\(architecture).json"))) as? [String: Any]
            let vulnerabilities = ((report?["Results"] as? [[String: Any]]) ?? []).flatMap { $0["Vulnerabilities"] as? [[String: Any]] ?? [] }
            #expect(!vulnerabilities.isEmpty, "\(architecture): the live report lists no updates")
            let layout = try TestEnvironment.temporaryDirectory() + "/layout"
            try await runAsync("/usr/bin/skopeo", ["--insecure-policy", "--override-arch", architecture, "copy", "--quiet",
                                                   "--src-tls-verify=false", "docker://\(patchedReference)", "oci:\(layout):image"]).check()
            let bundle = try TestEnvironment.temporaryDirectory() + "/bundle"
            try await runAsync("/usr/bin/umoci", ["unpack", "--image", "\(layout):image", bundle]).check()
            let unpacked = UnpackedImage(rootfs: bundle + "/rootfs")
            let versions = try unpacked.installedVersions()
            for vulnerability in vulnerabilities {
                guard let name = vulnerability["PkgName"] as? String, let fixed = vulnerability["FixedVersion"] as? String,
                      let installed = versions[name] else {
                    Issue.record("\(architecture): \(vulnerability["PkgName"] ?? "?") is not installed in the patched image")
                    continue
                }
                let compare = try await runAsync("/usr/bin/dpkg", ["--compare-versions", installed, "ge", fixed])
                #expect(compare.status == 0, "\(architecture): \(name) is \(installed), fixed in \(fixed)")
            }
            // The fixed libssl is this platform's build.
            #expect(unpacked.contents("var/lib/dpkg/info/libssl3:\(architecture).list")?.contains("/usr/lib/\(triplet)/libssl.so.3") == true,
                    "\(architecture)")
        }
    }
}

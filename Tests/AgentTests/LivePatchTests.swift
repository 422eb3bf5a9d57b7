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

        // Run the patched openssl inside the patched root file system.
        if let opensslVersion = versions["openssl"] {
            let upstream = opensslVersion.split(separator: "-").first.map(String.init) ?? opensslVersion
            let output = try run("/usr/bin/unshare", ["--root=\(image.rootfs)", "/usr/bin/openssl", "version"]).check()
            #expect(output.stdout.contains(upstream), "openssl version: \(output.stdout), package \(opensslVersion)")
        }
    }
}

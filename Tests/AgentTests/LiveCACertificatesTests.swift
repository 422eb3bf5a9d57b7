import Foundation
import Testing

/// The live image's ca-certificates security update, patched natively, against
/// the same update made by the image's own dpkg (postinst, debconf,
/// update-ca-certificates, openssl rehash) in a chroot of the original root:
/// /etc/ca-certificates.conf (and .dpkg-old), every entry of /etc/ssl/certs and
/// /usr/share/ca-certificates identical in type, mode, owner, link target and content.
@Suite struct LiveCACertificatesTests {
    static var runnable: Bool {
        getuid() == 0 && ProcessInfo.processInfo.environment["COPA_TEST_LIVE_LAYOUT"] != nil
            && ProcessInfo.processInfo.environment["COPA_TEST_SKIP_LIVE"] != "1"
    }

    @Test(.enabled(if: runnable, "needs the live image (COPA_TEST_LIVE_LAYOUT) and root for a chroot"))
    func nativeCAUpdateMatchesDpkgInTheImage() async throws {
        let live = try TestEnvironment.variable("COPA_TEST_LIVE_LAYOUT")
        let fullReport = try TestEnvironment.variable("COPA_TEST_LIVE_REPORT")
        var report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fullReport))) as? [String: Any] ?? [:]
        var results = report["Results"] as? [[String: Any]] ?? []
        let vulnerabilities = (results.first?["Vulnerabilities"] as? [[String: Any]] ?? []).filter { $0["PkgName"] as? String == "ca-certificates" }
        let fixed = try #require(vulnerabilities.first?["FixedVersion"] as? String, "the live report has no ca-certificates update")
        let installed = try #require(vulnerabilities.first?["InstalledVersion"] as? String)
        results[0]["Vulnerabilities"] = vulnerabilities
        report["Results"] = results
        let directory = try TestEnvironment.temporaryDirectory()
        try JSONSerialization.data(withJSONObject: report).write(to: URL(fileURLWithPath: directory + "/report.json"))

        let layout = directory + "/layout"
        try run("/bin/cp", ["-a", live, layout]).check()
        try await runAsync(TestEnvironment.binary("copa"), ["patch", "--workdir", directory + "/work", "-i", "oci:\(layout):bookworm",
                                                            "-r", directory + "/report.json", "-t", "ca-patched"]).check()
        let patchedImage = try UnpackedImage.unpack(layout: layout, tag: "ca-patched")
        let referenceImage = try UnpackedImage.unpack(layout: layout, tag: "bookworm")
        let (patched, reference) = (patchedImage.rootfs, referenceImage.rootfs)

        let mirror = ProcessInfo.processInfo.environment["COPA_LIVE_SECURITY_MIRROR"] ?? "http://deb.debian.org/debian-security"
        let deb = "\(mirror)/pool/updates/main/c/ca-certificates/ca-certificates_\(fixed)_all.deb"
        try await runAsync("/usr/bin/curl", ["-fsSL", "-o", reference + "/tmp/ca-certificates.deb", deb]).check()
        try FileManager.default.createDirectory(atPath: reference + "/dev", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: reference + "/proc", withIntermediateDirectories: true)
        let script = """
            mount --rbind /dev "$1/dev" && mount -t proc proc "$1/proc" &&
            chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C \
                dpkg -i /tmp/ca-certificates.deb
            """
        try await runAsync("/usr/bin/unshare", ["--mount", "--fork", "/bin/sh", "-c", script, "sh", reference]).check()
        try FileManager.default.removeItem(atPath: reference + "/tmp/ca-certificates.deb")

        var compared = 0
        for path in ["etc/ca-certificates.conf", "etc/ca-certificates.conf.dpkg-old"] {
            #expect(referenceImage.entry(path) == patchedImage.entry(path), "/\(path)")
            compared += 1
        }
        for directory in ["etc/ssl/certs", "usr/share/ca-certificates"] {
            let names = referenceImage.walk(directory)
            let ours = patchedImage.walk(directory)
            #expect(names == ours, "\(directory): only dpkg: \(names.subtracting(ours).sorted().prefix(10)); only ours: \(ours.subtracting(names).sorted().prefix(10))")
            for path in names.intersection(ours).sorted() {
                #expect(referenceImage.entry(path) == patchedImage.entry(path), "/\(path)")
                compared += 1
            }
        }
        let bundle = try String(contentsOfFile: patched + "/etc/ssl/certs/ca-certificates.crt", encoding: .utf8)
        let count = bundle.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1
        print("LiveCACertificatesTests: ca-certificates \(installed) → \(fixed): \(compared) entries identical to dpkg's; bundle holds \(count) certificates")
    }
}

import Foundation
import Testing

/// `copa manifest` prints the UpdateManifest the client would send, as Copa
/// v1alpha2 JSON that Copa's own parser shape accepts.
@Suite struct ManifestCommandTests {
    @Test func printsV1alpha2ForATrivyReport() throws {
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let result = try run(TestEnvironment.binary("copa"), ["manifest", "-r", report]).check()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["apiVersion"] as? String == "v1alpha2")
        let metadata = object["metadata"] as? [String: Any]
        let os = metadata?["os"] as? [String: Any]
        #expect(os?["type"] as? String == "debian")
        let updates = try #require(object["osupdates"] as? [[String: Any]] ?? object["osUpdates"] as? [[String: Any]])
        // v1alpha2 has one entry per vulnerability, so a package may repeat.
        var fixed: [String: String] = [:]
        for update in updates {
            guard let name = update["name"] as? String, let version = update["fixedVersion"] as? String else { continue }
            #expect(fixed[name] == nil || fixed[name] == version, "\(name) with two fixed versions")
            fixed[name] = version
        }
        #expect(fixed == ["fx-conf": "1.0-2", "fx-dep": "2.0-1", "fx-drop": "1.0-2", "fx-multi": "1.0-2"])
        #expect(result.stderr.contains("1 vulnerabilities without a fixed version skipped"))

        // What `copa manifest` prints is itself a report `copa` reads back.
        let file = try TestEnvironment.temporaryDirectory() + "/manifest.json"
        try Data(result.stdout.utf8).write(to: URL(fileURLWithPath: file))
        let again = try run(TestEnvironment.binary("copa"), ["manifest", "-r", file, "--scanner", "native"]).check()
        #expect(again.stdout == result.stdout)
    }

    @Test func rejectsAnUnsupportedReportNamingTheFile() throws {
        let invalid = TestEnvironment.sharedTestData("copa/reports/invalid.json")
        let result = try run(TestEnvironment.binary("copa"), ["manifest", "-r", invalid])
        #expect(result.status == 3)
        #expect(result.stderr.contains("invalid.json"))
    }
}

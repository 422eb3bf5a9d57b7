import Engine
import Foundation
import Testing
@testable import Client

/// Copa's UpdateManifest JSON: reading v1alpha1/v1alpha2 and writing v1alpha2.
@Suite struct NativeManifestTests {
    private func parse(_ json: String, source: String = "manifest.json") throws -> ParsedReport {
        try ReportFormat.parse(Data(json.utf8), source: source)
    }

    @Test func readsV1Alpha1() throws {
        let report = try parse(#"""
        {"apiVersion": "v1alpha1",
         "metadata": {"os": {"type": "debian", "version": "12"}, "config": {"arch": "arm64"}},
         "updates": [
           {"name": "libssl3", "installedVersion": "3.0.11-1~deb12u1", "fixedVersion": "3.0.11-1~deb12u2", "vulnerabilityID": "CVE-2023-5678"},
           {"name": "libssl3", "installedVersion": "3.0.11-1~deb12u1", "fixedVersion": "3.0.13-1~deb12u1", "vulnerabilityID": "CVE-2024-0727"},
           {"name": "bash", "installedVersion": "5.2.15-2+b2", "vulnerabilityID": "CVE-2022-3715"}
         ]}
        """#)
        #expect(report.manifest == UpdateManifest(
            os: .init(family: "debian", version: "12"), architecture: "arm64",
            updates: [update("libssl3", "3.0.11-1~deb12u1", "3.0.13-1~deb12u1", ["CVE-2023-5678", "CVE-2024-0727"])]))
        #expect(report.skipped == [SkippedVulnerability(package: "bash", installedVersion: "5.2.15-2+b2", vulnerabilityID: "CVE-2022-3715", reason: .noFixedVersion)])
        #expect(report.counts == ParsedReport.Counts(osFindings: 3, fixable: 2, skipped: 1))
    }

    @Test func readsV1Alpha2AndCountsLanguageUpdates() throws {
        let report = try parse(#"""
        {"apiVersion": "v1alpha2",
         "metadata": {"os": {"type": "alpine", "version": "3.19.1"}, "config": {"arch": "amd64", "variant": ""}},
         "osupdates": [{"name": "busybox", "installedVersion": "1.36.1-r15", "fixedVersion": "1.36.1-r16", "vulnerabilityID": "CVE-2023-42363", "type": "alpine", "class": "os-pkgs"}],
         "langupdates": [{"name": "requests", "installedVersion": "2.28.0", "fixedVersion": "2.31.0", "vulnerabilityID": "CVE-2023-32681", "type": "python-pkg", "class": "lang-pkgs"}, {"anything": true}]}
        """#)
        #expect(report.manifest.updates == [update("busybox", "1.36.1-r15", "1.36.1-r16", ["CVE-2023-42363"])])
        #expect(report.counts == ParsedReport.Counts(osFindings: 1, fixable: 1, libraryFindings: 2))
    }

    @Test func matchesMembersLikeCopasGoDecoder() throws {
        // encoding/json matches member names case-insensitively and reads
        // null lists as empty; a file Copa accepts must be accepted here.
        let report = try parse(#"""
        {"APIVersion": "v1alpha2", "Metadata": {"OS": {"Type": "ubuntu", "Version": "22.04"}},
         "osUpdates": [{"Name": "curl", "InstalledVersion": "7.81.0-1ubuntu1.14", "FixedVersion": "7.81.0-1ubuntu1.15", "VulnerabilityID": "CVE-2023-38545"}],
         "langupdates": null}
        """#)
        #expect(report.manifest == UpdateManifest(
            os: .init(family: "ubuntu", version: "22.04"), architecture: "",
            updates: [update("curl", "7.81.0-1ubuntu1.14", "7.81.0-1ubuntu1.15", ["CVE-2023-38545"])]))
        let empty = try parse(#"{"apiVersion": "v1alpha2", "osupdates": null, "langupdates": null}"#)
        #expect(empty.manifest.updates.isEmpty)
    }

    @Test func rejectsWhatWouldSilentlyPatchNothing() {
        expectInvalidInput("m.json: updates is missing, but osupdates is present, which belongs to apiVersion v1alpha2") {
            _ = try parse(#"{"apiVersion": "v1alpha1", "osupdates": [{"name": "a"}]}"#, source: "m.json")
        }
        expectInvalidInput("m.json: osupdates is missing, but updates is present, which belongs to apiVersion v1alpha1") {
            _ = try parse(#"{"apiVersion": "v1alpha2", "updates": []}"#, source: "m.json")
        }
        expectInvalidInput("m.json: apiVersion is 'v1beta1', which is not supported; expected v1alpha1 or v1alpha2") {
            _ = try parse(#"{"apiVersion": "v1beta1", "updates": []}"#, source: "m.json")
        }
        expectInvalidInput("m.json: apiVersion has the wrong type; expected a string") {
            _ = try parse(#"{"apiVersion": 1, "updates": []}"#, source: "m.json")
        }
        expectInvalidInput("m.json: osupdates[1].name is missing") {
            _ = try parse(#"{"apiVersion": "v1alpha2", "osupdates": [{"name": "a", "installedVersion": "1", "fixedVersion": "2"}, {"installedVersion": "1"}]}"#, source: "m.json")
        }
        expectInvalidInput("m.json: updates[0].installedVersion is empty") {
            _ = try parse(#"{"apiVersion": "v1alpha1", "updates": [{"name": "a", "installedVersion": ""}]}"#, source: "m.json")
        }
        expectInvalidInput("m.json: metadata.os.type has the wrong type; expected a string") {
            _ = try parse(#"{"apiVersion": "v1alpha1", "metadata": {"os": {"type": 7}}, "updates": []}"#, source: "m.json")
        }
    }

    /// Copa's frontend fixtures have no apiVersion, which Copa itself rejects
    /// ("unsupported apiVersion type"); with one added they read as v1alpha1.
    @Test func copaFrontendFixturesWithAnAPIVersion() throws {
        func withVersion(_ file: String) throws -> ParsedReport {
            var object = try #require(JSONSerialization.jsonObject(with: ReportTestData.load(file)) as? [String: Any])
            object["apiVersion"] = "v1alpha1"
            return try ReportFormat.parse(JSONSerialization.data(withJSONObject: object), source: file)
        }
        let simple = try withVersion("copa/reports/simple-report.json")
        #expect(simple.manifest == UpdateManifest(
            os: .init(family: "ubuntu", version: "20.04"), architecture: "amd64",
            updates: [update("curl", "7.68.0-1ubuntu2.18", "7.68.0-1ubuntu2.19", ["CVE-2023-28321"])]))
        let complex = try withVersion("copa/reports/complex-report.json")
        #expect(complex.manifest.updates == [
            update("curl", "7.68.0-1ubuntu2.18", "7.68.0-1ubuntu2.19", ["CVE-2023-28321"]),
            update("libssl1.1", "1.1.1f-1ubuntu2.17", "1.1.1f-1ubuntu2.18", ["CVE-2023-0464"]),
            update("nonexistent-package", "1.0.0", "1.0.1", ["CVE-2023-FAKE"]),
            update("openssl", "1.1.1f-1ubuntu2.17", "1.1.1f-1ubuntu2.18", ["CVE-2023-0464"]),
        ])
    }

    @Test func writesCopasV1Alpha2Schema() throws {
        let manifest = UpdateManifest(
            os: .init(family: "alpine", version: "3.14.0"), architecture: "amd64",
            updates: [update("apk-tools", "2.12.5-r1", "2.12.6-r0", ["CVE-2021-36159"])])
        let written = String(decoding: try NativeManifestEncoder().encode(manifest), as: UTF8.self)
        let expected = """
        {
          "apiVersion" : "v1alpha2",
          "langupdates" : [

          ],
          "metadata" : {
            "config" : {
              "arch" : "amd64"
            },
            "os" : {
              "type" : "alpine",
              "version" : "3.14.0"
            }
          },
          "osupdates" : [
            {
              "class" : "os-pkgs",
              "fixedVersion" : "2.12.6-r0",
              "installedVersion" : "2.12.5-r1",
              "name" : "apk-tools",
              "type" : "alpine",
              "vulnerabilityID" : "CVE-2021-36159"
            }
          ]
        }

        """
        #expect(written == expected)
    }

    @Test func outputIsDeterministicAndReadsBack() throws {
        let sorted = UpdateManifest(
            os: .init(family: "debian", version: "12"), architecture: "arm64",
            updates: [
                update("curl", "7.88.1-10", "7.88.1-10+deb12u5", ["CVE-2023-38545", "CVE-2023-38546"]),
                update("libc6", "2.36-9", "2.36-9+deb12u4", []),
                update("zlib1g", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+b1", ["CVE-2023-45853"]),
            ])
        var shuffled = sorted
        shuffled.updates = [sorted.updates[2], sorted.updates[0], sorted.updates[1]]
        shuffled.updates[1].vulnerabilityIDs = ["CVE-2023-38546", "CVE-2023-38545", "CVE-2023-38546"]
        let encoder = NativeManifestEncoder()
        let first = try encoder.encode(sorted)
        #expect(try encoder.encode(shuffled) == first)
        #expect(try encoder.encode(sorted) == first)
        let back = try NativeManifestParser().parse(first, source: "out.json")
        #expect(back.manifest == sorted)
        #expect(back.counts == ParsedReport.Counts(osFindings: 4, fixable: 4))
        // One entry per vulnerability, as Copa writes them.
        let object = try #require(JSONSerialization.jsonObject(with: first) as? [String: Any])
        let entries = try #require(object["osupdates"] as? [[String: Any]])
        #expect(entries.map { $0["vulnerabilityID"] as? String } == ["CVE-2023-38545", "CVE-2023-38546", "", "CVE-2023-45853"])
    }
}

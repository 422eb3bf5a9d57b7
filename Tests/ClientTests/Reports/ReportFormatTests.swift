import Engine
import Foundation
import Testing
@testable import Client

/// Every file of the shared test data, and inputs built to break the parsers.
@Suite struct ReportFormatTests {
    /// The fixtures that are reports the client reads; every other file in
    /// shared/testdata must be rejected with a message naming it.
    static let readable: Set<String> = [
        "copa/reports/pkg_types_test.json", "copa/reports/trivy_dotnet.json",
        "copa/reports/trivy_no_history.json", "copa/reports/trivy_node_valid.json",
        "copa/reports/trivy_python_venv.json", "copa/reports/trivy_valid.json",
        "trivy/alpine-39.json", "trivy/centos-7.json",
        "trivy/debian-buster-ignore-unfixed.json", "trivy/debian-buster.json",
    ]

    /// Specific reasons for some of the rejected files.
    static let rejections: [String: String] = [
        "copa/reports/invalid.json": "not valid JSON",
        "copa/plugin/invalid_report.json": "not valid JSON",
        "copa/pkgdb/empty.txt": "the file is empty",
        "copa/reports/simple-report.json": "apiVersion is missing",
        "copa/reports/complex-report.json": "apiVersion is missing",
        "copa/plugin/valid_report.json": "not a supported report format: found members Arch, OSType, OSVersion, Packages",
        "grype/grype-imgs-presenter.json": "not a supported report format: found members descriptor, distro, matches, source",
        "copa/bulk/config-test.yaml": "not valid JSON",
    ]

    @Test func everySharedFileParsesOrIsRejectedByName() throws {
        let files = try ReportTestData.allFiles()
        #expect(Self.readable.isSubset(of: Set(files)), "missing fixtures: \(Self.readable.subtracting(files))")
        #expect(Set(Self.rejections.keys).isSubset(of: Set(files)))
        for file in files {
            let data = try ReportTestData.load(file)
            if Self.readable.contains(file) {
                let report = try ReportFormat.parse(data, source: file)
                try checkInvariants(report, file: file)
            } else {
                let message = expectInvalidInput("\(file): ") { _ = try ReportFormat.parse(data, source: file) }
                if let expected = Self.rejections[file], let message {
                    #expect(message.contains(expected), "\(file): '\(message)' lacks '\(expected)'")
                }
            }
        }
    }

    /// What must hold for any parsed report, whichever fixture it came from.
    private func checkInvariants(_ report: ParsedReport, file: String) throws {
        let updates = report.manifest.updates
        #expect(updates.map(\.name) == updates.map(\.name).sorted(), "\(file): updates not sorted")
        #expect(Set(updates.map(\.name)).count == updates.count, "\(file): a package has two updates")
        let ordering = VersionScheme(osFamily: report.manifest.os.family).ordering
        for update in updates {
            #expect(update.vulnerabilityIDs == Array(Set(update.vulnerabilityIDs)).sorted(), "\(file): \(update.name) IDs")
            #expect(try isNewer(update.fixedVersion, than: update.installedVersion, ordering), "\(file): \(update.name)")
        }
        #expect(report.counts.skipped == report.skipped.count)
        #expect(report.counts.fixable + report.counts.skipped == report.counts.osFindings)
        #expect(report.counts.fixable >= updates.count)
        // The v1alpha2 output reads back to the same manifest.
        let written = try NativeManifestEncoder().encode(report.manifest)
        #expect(try ReportFormat.detect(written, source: "out.json") == .native)
        #expect(try ReportFormat.parse(written, source: "out.json").manifest == report.manifest, "\(file): round trip")
    }

    private func isNewer<Ordering: VersionOrdering>(_ fixed: String, than installed: String, _ ordering: Ordering) throws -> Bool {
        try ordering.version(fixed) > ordering.version(installed)
    }

    @Test func missingSharedTestDataIsNamed() {
        #expect(throws: ReportTestData.Missing.self) {
            try ReportTestData.directory(filePath: "/nonexistent-checkout/repo/Tests/ClientTests/Reports/X.swift")
        }
        #expect(ReportTestData.Missing(start: "/r/T.swift").description.contains("<repository>/../shared/testdata"))
    }

    @Test func detectionAndScannerChoice() throws {
        #expect(try ReportFormat.detect(ReportTestData.load("trivy/centos-7.json"), source: "a") == .trivy)
        #expect(try ReportFormat.detect(Data(#"{"apiVersion":"v1alpha1","updates":[]}"#.utf8), source: "a") == .native)
        #expect(try ReportFormat.detect(Data(#"{"Results":[]}"#.utf8), source: "a") == .trivy)
        #expect(try ReportFormat(scanner: "trivy") == .trivy)
        #expect(try ReportFormat(scanner: "native") == .native)
        expectInvalidInput("unknown scanner 'grype'", "trivy, native") { _ = try ReportFormat(scanner: "grype") }
        // A chosen format is used as is: a Copa manifest is no Trivy report.
        let manifest = Data(#"{"apiVersion":"v1alpha2","osupdates":[]}"#.utf8)
        expectInvalidInput("m.json: SchemaVersion is missing") { _ = try ReportFormat.parse(manifest, source: "m.json", as: .trivy) }
    }

    @Test func emptyAndNonJSONInputs() {
        expectInvalidInput("r.json: the file is empty") { _ = try ReportFormat.parse(Data(), source: "r.json") }
        expectInvalidInput("r.json: the file is empty") { _ = try TrivyReportParser().parse(Data(), source: "r.json") }
        expectInvalidInput("r.json: not valid JSON") { _ = try ReportFormat.parse(Data([0xFF, 0xFE, 0x00]), source: "r.json") }
        expectInvalidInput("r.json: the top level is not a JSON object") { _ = try ReportFormat.parse(Data("[1, 2]".utf8), source: "r.json") }
        expectInvalidInput("r.json: the top level is not a JSON object") { _ = try ReportFormat.parse(Data("42".utf8), source: "r.json") }
        expectInvalidInput("r.json: not a supported report format: found an empty object") { _ = try ReportFormat.parse(Data("{}".utf8), source: "r.json") }
        let deep = Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
        expectInvalidInput("r.json: not valid JSON") { _ = try ReportFormat.parse(deep, source: "r.json") }
    }

    @Test func everyTruncationOfAReportIsRejected() throws {
        let data = try ReportTestData.load("copa/reports/trivy_node_valid.json")
        let closing = try #require(data.lastIndex(of: UInt8(ascii: "}")))
        // Every prefix that stops before the final brace is incomplete JSON.
        for length in 0...(closing - data.startIndex) {
            let prefix = data.prefix(length)
            expectInvalidInput("cut.json: ") { _ = try ReportFormat.parse(prefix, source: "cut.json") }
        }
        let truncated = data.prefix(data.count / 2)
        expectInvalidInput("cut.json: not valid JSON (") { _ = try ReportFormat.parse(truncated, source: "cut.json") }
    }

    @Test func wrongTypesAndMissingFieldsNameTheField() throws {
        func trivy(_ json: String) throws -> ParsedReport {
            try ReportFormat.parse(Data(json.utf8), source: "trivy.json")
        }
        let os = #""Metadata": {"OS": {"Family": "debian", "Name": "10"}}"#
        let good = #"{"PkgName": "a", "InstalledVersion": "1-1", "FixedVersion": "1-2", "VulnerabilityID": "CVE-1"}"#
        let noName = #"{"InstalledVersion": "1-1", "FixedVersion": "1-2", "VulnerabilityID": "CVE-1"}"#
        expectInvalidInput("trivy.json: Results[2].Vulnerabilities[0].PkgName is missing") {
            _ = try trivy(#"{"SchemaVersion": 2, \#(os), "Results": [{"Class": "os-pkgs", "Vulnerabilities": [\#(good)]}, {"Class": "lang-pkgs"}, {"Class": "os-pkgs", "Vulnerabilities": [\#(noName)]}]}"#)
        }
        expectInvalidInput("trivy.json: Results[0].Vulnerabilities[1].PkgName has the wrong type; expected a string") {
            _ = try trivy(#"{"SchemaVersion": 2, "Results": [{"Class": "os-pkgs", "Vulnerabilities": [\#(good), {"PkgName": 42}]}]}"#)
        }
        expectInvalidInput("trivy.json: Results[0].Vulnerabilities[0].VulnerabilityID is empty") {
            _ = try trivy(#"{"SchemaVersion": 2, "Results": [{"Class": "os-pkgs", "Vulnerabilities": [{"PkgName": "a", "InstalledVersion": "1", "VulnerabilityID": ""}]}]}"#)
        }
        expectInvalidInput("trivy.json: SchemaVersion is 1, which is not supported") {
            _ = try trivy(#"{"SchemaVersion": 1, "Results": [{"Target": "x", "Vulnerabilities": []}]}"#)
        }
        expectInvalidInput("trivy.json: SchemaVersion has the wrong type; expected a number") { _ = try trivy(#"{"SchemaVersion": "2"}"#) }
        expectInvalidInput("trivy.json: Results has the wrong type; expected an array") { _ = try trivy(#"{"SchemaVersion": 2, "Results": {}}"#) }
        expectInvalidInput("trivy.json: Results[0].Class is missing") { _ = try trivy(#"{"SchemaVersion": 2, "Results": [{"Vulnerabilities": []}]}"#) }
        expectInvalidInput("trivy.json: Results[0].Vulnerabilities has the wrong type; expected an array") {
            _ = try trivy(#"{"SchemaVersion": 2, "Results": [{"Class": "os-pkgs", "Vulnerabilities": "none"}]}"#)
        }
        expectInvalidInput("trivy.json: Metadata.OS.Family is missing") { _ = try trivy(#"{"SchemaVersion": 2, "Metadata": {"OS": {"Family": null, "Name": "1"}}}"#) }
        expectInvalidInput("trivy.json: Metadata.ImageConfig.architecture has the wrong type; expected a string") {
            _ = try trivy(#"{"SchemaVersion": 2, "Metadata": {"ImageConfig": {"architecture": ["amd64"]}}}"#)
        }
        // Absent or null optional parts are fine: no Results, null OS, null lists.
        let bare = try trivy(#"{"SchemaVersion": 2, "Metadata": {"OS": null}, "Results": [{"Class": "os-pkgs", "Vulnerabilities": null}]}"#)
        #expect(bare.manifest == UpdateManifest(os: .init(family: "", version: ""), architecture: "", updates: []))
    }

    @Test func largeReportsParse() throws {
        // 20 000 findings over 500 packages, plus 50 000 library findings of any shape.
        var findings: [TrivyJSON.Finding] = []
        for index in 0..<20_000 {
            let package = index % 500
            findings.append(("pkg\(package)", "1.0-1", "1.0-\(2 + index / 500)", "CVE-\(index)"))
        }
        let library: [String: Any] = ["Class": "lang-pkgs", "Vulnerabilities": Array(repeating: [String: Any](), count: 50_000)]
        let data = try TrivyJSON.report(family: "debian", findings: findings, extraResults: [library])
        let report = try TrivyJSON.parse(data)
        #expect(report.manifest.updates.count == 500)
        #expect(report.counts == ParsedReport.Counts(osFindings: 20_000, fixable: 20_000, libraryFindings: 50_000))
        let first = try #require(report.manifest.updates.first { $0.name == "pkg0" })
        #expect(first.fixedVersion == "1.0-41")
        #expect(first.vulnerabilityIDs.count == 40)
    }
}

import Engine
import Foundation
import Testing
@testable import Client

/// The Trivy fixtures, with what Copa's own tests expect of them (see
/// shared/testdata/README.md) and what the reports themselves list.
@Suite struct TrivyFixtureTests {
    @Test func alpineReportFromCopaTests() throws {
        let report = try ReportTestData.parse("copa/reports/trivy_valid.json")
        #expect(report.manifest.os == UpdateManifest.OS(family: "alpine", version: "3.14.0"))
        #expect(report.manifest.architecture == "amd64")
        #expect(report.manifest.updates == [update("apk-tools", "2.12.5-r1", "2.12.6-r0", ["CVE-2021-36159"])])
        #expect(report.skipped.isEmpty)
        #expect(report.counts == ParsedReport.Counts(osFindings: 1, fixable: 1))
    }

    @Test func nodeReportKeepsOnlyTheOSUpdate() throws {
        let report = try ReportTestData.parse("copa/reports/trivy_node_valid.json")
        #expect(report.manifest.os == UpdateManifest.OS(family: "alpine", version: "3.16.0"))
        #expect(report.manifest.updates == [update("protobuf-c", "1.3.3-r1", "1.3.3-r2", ["CVE-2022-3509"])])
        #expect(report.counts.libraryFindings == 2)
    }

    @Test func reportWithoutOSMetadataStillYieldsItsUpdate() throws {
        let report = try ReportTestData.parse("copa/reports/trivy_no_history.json")
        #expect(report.manifest.os == UpdateManifest.OS(family: "", version: ""))
        #expect(report.manifest.architecture == "amd64")
        #expect(report.manifest.updates == [update("libssl3", "3.3.2-r4", "3.3.2-r5", ["CVE-2024-1234"])])
    }

    @Test func libraryResultsAreCountedNotPatched() throws {
        let mixed = try ReportTestData.parse("copa/reports/pkg_types_test.json")
        #expect(mixed.manifest.os == UpdateManifest.OS(family: "ubuntu", version: "20.04"))
        #expect(mixed.manifest.updates == [update("libc6", "2.31-0ubuntu9.12", "2.31-0ubuntu9.13", ["CVE-2023-1234"])])
        #expect(mixed.counts == ParsedReport.Counts(osFindings: 1, fixable: 1, libraryFindings: 1))

        let dotnet = try ReportTestData.parse("copa/reports/trivy_dotnet.json")
        #expect(dotnet.manifest.updates.isEmpty)
        #expect(dotnet.counts == ParsedReport.Counts(libraryFindings: 6))

        let python = try ReportTestData.parse("copa/reports/trivy_python_venv.json")
        #expect(python.manifest.os == UpdateManifest.OS(family: "debian", version: "12.5"))
        #expect(python.manifest.updates.isEmpty)
        #expect(python.counts == ParsedReport.Counts(libraryFindings: 3))
    }

    @Test func alpine39CollapsesTwoFixesToTheHigherOne() throws {
        let report = try ReportTestData.parse("trivy/alpine-39.json")
        #expect(report.manifest.os == UpdateManifest.OS(family: "alpine", version: "3.9.4"))
        // CVE-2019-1549 is fixed in 1.1.1d-r0, CVE-2019-1551 in 1.1.1d-r2.
        #expect(report.manifest.updates == [
            update("libcrypto1.1", "1.1.1b-r1", "1.1.1d-r2", ["CVE-2019-1549", "CVE-2019-1551"]),
            update("libssl1.1", "1.1.1b-r1", "1.1.1d-r2", ["CVE-2019-1549", "CVE-2019-1551"]),
            update("musl", "1.1.20-r4", "1.1.20-r5", ["CVE-2019-14697"]),
            update("musl-utils", "1.1.20-r4", "1.1.20-r5", ["CVE-2019-14697"]),
        ])
        #expect(report.counts == ParsedReport.Counts(osFindings: 6, fixable: 6))
    }

    @Test func centos7UsesRpmVersionsWithEpochs() throws {
        let report = try ReportTestData.parse("trivy/centos-7.json")
        #expect(report.manifest.os == UpdateManifest.OS(family: "centos", version: "7.6.1810"))
        #expect(report.manifest.updates == [
            update("openssl-libs", "1:1.0.2k-16.el7", "1:1.0.2k-19.el7", ["CVE-2018-0734", "CVE-2019-1559"]),
        ])
        #expect(report.skipped == [
            SkippedVulnerability(package: "bash", installedVersion: "4.2.46-31.el7", vulnerabilityID: "CVE-2019-18276", reason: .noFixedVersion),
        ])
        #expect(report.counts == ParsedReport.Counts(osFindings: 3, fixable: 2, skipped: 1))
    }

    @Test func debianBusterSkipsTheUnfixedBashVulnerability() throws {
        let report = try ReportTestData.parse("trivy/debian-buster.json")
        let libidn = update("libidn2-0", "2.0.5-1", "2.0.5-1+deb10u1", ["CVE-2019-18224"])
        #expect(report.manifest.os == UpdateManifest.OS(family: "debian", version: "10.1"))
        #expect(report.manifest.updates == [libidn])
        #expect(report.skipped == [
            SkippedVulnerability(package: "bash", installedVersion: "5.0-4", vulnerabilityID: "CVE-2019-18276", reason: .noFixedVersion),
        ])
        #expect(report.counts == ParsedReport.Counts(osFindings: 2, fixable: 1, skipped: 1))

        let unfixedIgnored = try ReportTestData.parse("trivy/debian-buster-ignore-unfixed.json")
        #expect(unfixedIgnored.manifest.updates == [libidn])
        #expect(unfixedIgnored.skipped.isEmpty)
    }
}

/// Collapsing several findings of a package into one update.
@Suite struct CollapsingTests {
    @Test func debianTakesTheHighestFixByDpkgOrderAndMergesIDs() throws {
        let data = try TrivyJSON.report(family: "debian", findings: [
            ("openssl", "1.1-1", "1.9-1", "CVE-3"),
            ("openssl", "1.1-1", "1.10-1", "CVE-1"),   // string order would pick 1.9-1
            ("openssl", "1.1-1", "1.2-1", "CVE-2"),
            ("openssl", "1.1-1", "1.10-1", "CVE-1"),   // duplicate finding
            ("curl", "7.0-1", "7.0-1+deb10u1", "CVE-9"),
            ("zlib", "1:1.2-1", "1:1.2-1+b1", "CVE-5"),
            ("tar", "1.30-1", "1.30~rc1-1", "CVE-6"),  // ~ sorts before: not newer
        ])
        let report = try TrivyJSON.parse(data)
        #expect(report.manifest.updates == [
            update("curl", "7.0-1", "7.0-1+deb10u1", ["CVE-9"]),
            update("openssl", "1.1-1", "1.10-1", ["CVE-1", "CVE-2", "CVE-3"]),
            update("zlib", "1:1.2-1", "1:1.2-1+b1", ["CVE-5"]),
        ])
        #expect(report.skipped == [
            SkippedVulnerability(package: "tar", installedVersion: "1.30-1", vulnerabilityID: "CVE-6", reason: .noNewerFixedVersion),
        ])
        #expect(report.counts == ParsedReport.Counts(osFindings: 7, fixable: 6, skipped: 1))
    }

    @Test func alpineOrdersRevisionsAndPreReleases() throws {
        let data = try TrivyJSON.report(family: "alpine", findings: [
            ("busybox", "1.36.0-r1", "1.36.0-r9", "CVE-A"),
            ("busybox", "1.36.0-r1", "1.36.0-r10", "CVE-B"),
            ("busybox", "1.36.0-r1", "1.36.1_rc1-r0", "CVE-C"),
        ])
        let report = try TrivyJSON.parse(data)
        // 1.36.1_rc1 is a pre-release of 1.36.1 but still after 1.36.0-r10.
        #expect(report.manifest.updates == [update("busybox", "1.36.0-r1", "1.36.1_rc1-r0", ["CVE-A", "CVE-B", "CVE-C"])])
    }

    @Test func commaSeparatedFixesPickTheLowestNewerOne() throws {
        let data = try TrivyJSON.report(family: "ubuntu", findings: [
            ("dotnet-runtime", "8.0.22-1", "8.0.25-1, 9.0.14-1, 10.0.4-1", "CVE-1"),
            ("libfoo", "1.5-1", "1.0-1, 2.0-1", "CVE-2"),
            ("libbar", "3.0-1", "1.0-1, 2.0-1", "CVE-3"),
            ("libbaz", "3.0-1", " , ", "CVE-4"),
        ])
        let report = try TrivyJSON.parse(data)
        #expect(report.manifest.updates == [
            update("dotnet-runtime", "8.0.22-1", "8.0.25-1", ["CVE-1"]),
            update("libfoo", "1.5-1", "2.0-1", ["CVE-2"]),
        ])
        #expect(report.skipped == [
            SkippedVulnerability(package: "libbar", installedVersion: "3.0-1", vulnerabilityID: "CVE-3", reason: .noNewerFixedVersion),
            SkippedVulnerability(package: "libbaz", installedVersion: "3.0-1", vulnerabilityID: "CVE-4", reason: .noFixedVersion),
        ])
    }

    @Test func missingOrEmptyFixedVersionsAreSkippedAndSorted() throws {
        let data = try TrivyJSON.report(family: "debian", findings: [
            ("zsh", "5.7-1", nil, "CVE-2"),
            ("bash", "5.0-4", "", "CVE-9"),
            ("bash", "5.0-4", nil, "CVE-1"),
            ("bash", "5.0-4", "5.0-4+deb10u1", "CVE-5"),
        ])
        let report = try TrivyJSON.parse(data)
        #expect(report.manifest.updates == [update("bash", "5.0-4", "5.0-4+deb10u1", ["CVE-5"])])
        #expect(report.skipped.map { "\($0.package) \($0.vulnerabilityID) \($0.reason.rawValue)" } == [
            "bash CVE-1 no fixed version", "bash CVE-9 no fixed version", "zsh CVE-2 no fixed version",
        ])
        #expect(report.counts == ParsedReport.Counts(osFindings: 4, fixable: 1, skipped: 3))
    }

    @Test func unknownFamilyFallsBackToNaturalOrdering() throws {
        let data = try TrivyJSON.report(family: "someos", findings: [
            ("pkg", "1.2", "1.9", "CVE-1"),
            ("pkg", "1.2", "1.10", "CVE-2"),
        ])
        #expect(try TrivyJSON.parse(data).manifest.updates == [update("pkg", "1.2", "1.10", ["CVE-1", "CVE-2"])])
    }

    @Test func twoInstalledVersionsOfOnePackageAreRejected() throws {
        let data = try TrivyJSON.report(family: "debian", findings: [
            ("libc6", "2.28-10", "2.28-10+deb10u1", "CVE-1"),
            ("libc6", "2.28-9", "2.28-10+deb10u1", "CVE-2"),
        ])
        expectInvalidInput(
            "trivy.json: Results[0].Vulnerabilities[1].InstalledVersion is '2.28-9'",
            "Results[0].Vulnerabilities[0].InstalledVersion is '2.28-10'", "libc6"
        ) { _ = try TrivyJSON.parse(data) }
    }

    @Test func invalidVersionsNameTheFieldAndTheRule() throws {
        let badFix = try TrivyJSON.report(family: "debian", findings: [
            ("curl", "7.64.0-4", "7.64.0-4+deb10u2", "CVE-1"),
            ("curl", "7.64.0-4", "not a version", "CVE-2"),
        ])
        expectInvalidInput("trivy.json: Results[0].Vulnerabilities[1].FixedVersion of package curl", "not a valid Debian version") {
            _ = try TrivyJSON.parse(badFix)
        }
        let badInstalled = try TrivyJSON.report(family: "alpine", findings: [("musl", "1.2.3-x", "1.2.4-r0", "CVE-1")])
        expectInvalidInput("Results[0].Vulnerabilities[0].InstalledVersion of package musl", "not a valid apk version") {
            _ = try TrivyJSON.parse(badInstalled)
        }
    }

    @Test func otherResultClassesAreCounted() throws {
        let data = try TrivyJSON.report(family: "debian", findings: [], extraResults: [
            ["Target": "custom", "Class": "custom", "Vulnerabilities": [["anything": 1], 2]],
            ["Target": "Dockerfile", "Class": "config", "Misconfigurations": [["ID": "DS001"]]],
        ])
        let report = try TrivyJSON.parse(data)
        #expect(report.manifest.updates.isEmpty)
        #expect(report.counts == ParsedReport.Counts(otherFindings: 2))
    }
}

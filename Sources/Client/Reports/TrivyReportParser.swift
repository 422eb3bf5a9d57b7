import CopaCore
import Foundation

/// Reads Trivy JSON reports (SchemaVersion 2): the OS packages of `os-pkgs`
/// results become the manifest; language-package results are counted and
/// left out, as the agent patches OS packages only.
public struct TrivyReportParser: ReportParser {
    public init() {}

    public func parse(_ data: Data, source: String) throws -> ParsedReport {
        let report = try ReportDecoding.decode(TrivyReport.self, from: data, source: source)
        var counts = ParsedReport.Counts()
        var findings: [ReportedVulnerability] = []
        var resultFamily = ""
        for (resultIndex, result) in report.results.enumerated() {
            switch result.resultClass {
            case TrivyReport.Result.osPackagesClass:
                counts.osFindings += result.findingCount
                if resultFamily.isEmpty { resultFamily = result.type }
                for (index, vulnerability) in result.vulnerabilities.enumerated() {
                    findings.append(ReportedVulnerability(
                        package: vulnerability.pkgName,
                        installedVersion: vulnerability.installedVersion,
                        fixedVersion: vulnerability.fixedVersion,
                        vulnerabilityID: vulnerability.vulnerabilityID,
                        path: "Results[\(resultIndex)].Vulnerabilities[\(index)]"))
                }
            case TrivyReport.Result.languagePackagesClass:
                counts.libraryFindings += result.findingCount
            default:
                counts.otherFindings += result.findingCount
            }
        }
        // Without Metadata.OS (Trivy could not read the image history), the
        // OS result's Type still names the family, which picks the ordering;
        // the manifest keeps the OS empty rather than guess a release.
        let family = report.os?.family ?? resultFamily
        let collapser = UpdateCollapser(source: source, fields: .trivy)
        let outcome = try collapser.collapse(findings, ordering: VersionScheme(osFamily: family).ordering)
        counts.fixable = outcome.fixable
        counts.skipped = outcome.skipped.count
        let manifest = UpdateManifest(
            os: UpdateManifest.OS(family: report.os?.family.lowercased() ?? "", version: report.os?.name ?? ""),
            architecture: report.architecture,
            updates: outcome.updates)
        return ParsedReport(manifest: manifest, skipped: outcome.skipped, counts: counts)
    }
}

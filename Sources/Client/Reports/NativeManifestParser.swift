import CopaCore
import Foundation

/// Reads Copa's UpdateManifest JSON, apiVersion v1alpha1 or v1alpha2 (see
/// `NativeManifest`). Entries of one package collapse into one update as
/// Trivy findings do; `langupdates` are counted and left out.
public struct NativeManifestParser: ReportParser {
    public init() {}

    public func parse(_ data: Data, source: String) throws -> ParsedReport {
        let document = try ReportDecoding.decode(NativeManifest.Document.self, from: data, source: source)
        let findings = document.updates.enumerated().map { index, package in
            ReportedVulnerability(
                package: package.name,
                installedVersion: package.installedVersion,
                fixedVersion: package.fixedVersion,
                vulnerabilityID: package.vulnerabilityID,
                path: "\(document.updatesMember)[\(index)]")
        }
        let collapser = UpdateCollapser(source: source, fields: .native)
        let outcome = try collapser.collapse(findings, ordering: VersionScheme(osFamily: document.osType).ordering)
        let counts = ParsedReport.Counts(
            osFindings: findings.count,
            fixable: outcome.fixable,
            skipped: outcome.skipped.count,
            libraryFindings: document.languageUpdateCount)
        let manifest = UpdateManifest(
            os: UpdateManifest.OS(family: document.osType.lowercased(), version: document.osVersion),
            architecture: document.architecture,
            updates: outcome.updates)
        return ParsedReport(manifest: manifest, skipped: outcome.skipped, counts: counts)
    }
}

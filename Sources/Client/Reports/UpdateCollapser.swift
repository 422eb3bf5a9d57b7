import CopaCore
import Foundation

/// One OS-package finding as a report lists it: one vulnerability of one
/// installed package, before findings are collapsed into updates.
struct ReportedVulnerability: Sendable {
    var package: String
    var installedVersion: String
    /// Empty when no fix is known; may hold several versions separated by commas.
    var fixedVersion: String
    /// Empty when the report gives none (Copa manifests allow that).
    var vulnerabilityID: String
    /// Where the entry is, for messages: `Results[0].Vulnerabilities[3]`.
    var path: String
}

/// The member names of a format, so version errors name the field to fix.
struct ReportFieldNames: Sendable {
    var installedVersion: String
    var fixedVersion: String

    static let trivy = ReportFieldNames(installedVersion: "InstalledVersion", fixedVersion: "FixedVersion")
    static let native = ReportFieldNames(installedVersion: "installedVersion", fixedVersion: "fixedVersion")
}

/// Collapses findings into one update per package: the highest fixed version
/// any of its vulnerabilities needs (by the distribution's ordering) and the
/// merged vulnerability IDs. Shared by every report format.
struct UpdateCollapser: Sendable {
    var source: String
    var fields: ReportFieldNames

    struct Outcome {
        var updates: [UpdateManifest.Update]
        var skipped: [SkippedVulnerability]
        var fixable: Int
    }

    private struct Group<Version> {
        var installedVersion: String
        var installedPath: String
        var fixedVersion: String
        var fixed: Version
        var vulnerabilityIDs: Set<String>
    }

    func collapse<Ordering: VersionOrdering>(_ findings: [ReportedVulnerability], ordering: Ordering) throws -> Outcome {
        var groups: [String: Group<Ordering.Version>] = [:]
        var skipped: [SkippedVulnerability] = []
        var fixable = 0
        for finding in findings {
            let choice = try fixedVersion(for: finding, ordering: ordering)
            guard case .fixed(let text, let version) = choice else {
                if case .skipped(let reason) = choice {
                    skipped.append(SkippedVulnerability(
                        package: finding.package, installedVersion: finding.installedVersion,
                        vulnerabilityID: finding.vulnerabilityID, reason: reason))
                }
                continue
            }
            fixable += 1
            let installedPath = "\(finding.path).\(fields.installedVersion)"
            guard var group = groups[finding.package] else {
                groups[finding.package] = Group(
                    installedVersion: finding.installedVersion, installedPath: installedPath,
                    fixedVersion: text, fixed: version,
                    vulnerabilityIDs: finding.vulnerabilityID.isEmpty ? [] : [finding.vulnerabilityID])
                continue
            }
            guard group.installedVersion == finding.installedVersion else {
                throw EngineError(.invalidInput, "\(source): \(installedPath) is '\(finding.installedVersion)' but \(group.installedPath) is '\(group.installedVersion)' for the same package \(finding.package); a report must give one installed version per package")
            }
            if version > group.fixed {
                group.fixedVersion = text
                group.fixed = version
            }
            if !finding.vulnerabilityID.isEmpty { group.vulnerabilityIDs.insert(finding.vulnerabilityID) }
            groups[finding.package] = group
        }
        let updates = groups
            .map { name, group in
                UpdateManifest.Update(
                    name: name, installedVersion: group.installedVersion,
                    fixedVersion: group.fixedVersion, vulnerabilityIDs: group.vulnerabilityIDs.sorted())
            }
            .sorted { $0.name < $1.name }
        skipped.sort { ($0.package, $0.vulnerabilityID, $0.reason.rawValue) < ($1.package, $1.vulnerabilityID, $1.reason.rawValue) }
        return Outcome(updates: updates, skipped: skipped, fixable: fixable)
    }

    private enum Choice<Version> {
        case fixed(String, Version)
        case skipped(SkippedVulnerability.Reason)
    }

    /// The version one finding asks for. Trivy may list several fixed versions
    /// ("8.0.25, 9.0.14"), one per release line; the lowest one above the
    /// installed version is the fix on the installed line and the smallest
    /// change. (Copa passes an OS package's FixedVersion through unsplit; it
    /// splits only for language packages, keeping versions above the
    /// installed one.)
    private func fixedVersion<Ordering: VersionOrdering>(
        for finding: ReportedVulnerability, ordering: Ordering
    ) throws -> Choice<Ordering.Version> {
        let candidates = finding.fixedVersion
            .split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard !candidates.isEmpty else { return .skipped(.noFixedVersion) }
        let installed = try parse(finding.installedVersion, field: fields.installedVersion, of: finding, ordering: ordering)
        var best: (text: String, version: Ordering.Version)?
        for candidate in candidates {
            let version = try parse(candidate, field: fields.fixedVersion, of: finding, ordering: ordering)
            guard version > installed else { continue }
            if let current = best, current.version <= version { continue }
            best = (candidate, version)
        }
        guard let best else { return .skipped(.noNewerFixedVersion) }
        return .fixed(best.text, best.version)
    }

    private func parse<Ordering: VersionOrdering>(
        _ text: String, field: String, of finding: ReportedVulnerability, ordering: Ordering
    ) throws -> Ordering.Version {
        do {
            return try ordering.version(text)
        } catch {
            throw EngineError(.invalidInput, "\(source): \(finding.path).\(field) of package \(finding.package) cannot be used: \(error)")
        }
    }
}


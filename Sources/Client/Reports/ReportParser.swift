import CopaCore
import Foundation

/// Turns one scanner-report format into the engine's `UpdateManifest`.
/// A new scanner format is a new conformance in its own file, chosen by
/// `ReportFormat`; nothing else branches on the format.
public protocol ReportParser: Sendable {
    /// Parses a whole report. `source` names the report (usually the file
    /// name the user gave) and starts every error message, so a user can see
    /// which file and which field to fix. Throws `EngineError.invalidInput`.
    func parse(_ data: Data, source: String) throws -> ParsedReport
}

/// What a report asks the client to patch, and what it had to leave out.
public struct ParsedReport: Sendable, Hashable {
    /// One update per OS package, each with the highest fixed version its
    /// vulnerabilities need.
    public var manifest: UpdateManifest
    /// OS-package vulnerabilities that no update fixes, sorted by package,
    /// then vulnerability ID.
    public var skipped: [SkippedVulnerability]
    public var counts: Counts

    public init(manifest: UpdateManifest, skipped: [SkippedVulnerability], counts: Counts) {
        self.manifest = manifest
        self.skipped = skipped
        self.counts = counts
    }

    /// Tallies of the report's findings. A finding is one (package,
    /// vulnerability) entry as the report lists it.
    public struct Counts: Sendable, Hashable {
        /// OS-package findings in the report.
        public var osFindings: Int
        /// OS-package findings with a usable fixed version; they collapse into
        /// `manifest.updates` (several findings per update).
        public var fixable: Int
        /// OS-package findings left out; equals `skipped.count`.
        public var skipped: Int
        /// Language-package findings (Trivy `lang-pkgs`, Copa `langupdates`),
        /// which an OS manifest does not patch.
        public var libraryFindings: Int
        /// Findings in results of any other class (Trivy `custom`, ...).
        public var otherFindings: Int

        public init(osFindings: Int = 0, fixable: Int = 0, skipped: Int = 0, libraryFindings: Int = 0, otherFindings: Int = 0) {
            self.osFindings = osFindings
            self.fixable = fixable
            self.skipped = skipped
            self.libraryFindings = libraryFindings
            self.otherFindings = otherFindings
        }
    }
}

/// An OS-package vulnerability the manifest does not fix, and why.
public struct SkippedVulnerability: Sendable, Hashable {
    public enum Reason: String, Sendable, Hashable {
        /// The scanner knows no fixed version (Trivy status `affected`,
        /// `will_not_fix`, ...).
        case noFixedVersion = "no fixed version"
        /// Every fixed version the report names is at or below the installed
        /// one, so there is nothing newer to install.
        case noNewerFixedVersion = "no fixed version newer than the installed one"
    }

    public var package: String
    public var installedVersion: String
    public var vulnerabilityID: String
    public var reason: Reason

    public init(package: String, installedVersion: String, vulnerabilityID: String, reason: Reason) {
        self.package = package
        self.installedVersion = installedVersion
        self.vulnerabilityID = vulnerabilityID
        self.reason = reason
    }
}

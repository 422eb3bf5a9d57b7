import CopaCore
import Foundation

/// The report formats the client reads; each has one `ReportParser`.
public enum ReportFormat: String, Sendable, CaseIterable {
    /// Trivy JSON, SchemaVersion 2 (`trivy image --format json`).
    case trivy
    /// Copa's UpdateManifest JSON, apiVersion v1alpha1 or v1alpha2.
    case native

    /// The format named by `--scanner`.
    public init(scanner: String) throws {
        guard let format = ReportFormat(rawValue: scanner) else {
            let names = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw EngineError(.invalidInput, "unknown scanner '\(scanner)'; use one of: \(names)")
        }
        self = format
    }

    public var parser: any ReportParser {
        switch self {
        case .trivy: TrivyReportParser()
        case .native: NativeManifestParser()
        }
    }

    /// Parses `data` as `format`, or as the format `detect` finds.
    public static func parse(_ data: Data, source: String, as format: ReportFormat? = nil) throws -> ParsedReport {
        let chosen = try format ?? detect(data, source: source)
        return try chosen.parser.parse(data, source: source)
    }

    /// Tells the formats apart by their top-level members: Trivy reports have
    /// `SchemaVersion`, Copa manifests `apiVersion`. A file with the other
    /// members of a format but not its version member is detected as that
    /// format, so its parser can say which member is missing.
    public static func detect(_ data: Data, source: String) throws -> ReportFormat {
        let members = try ReportDecoding.decode(TopLevelMembers.self, from: data, source: source).names
        let folded = Set(members.map { $0.lowercased() })
        if folded.contains("schemaversion") { return .trivy }
        if folded.contains("apiversion") { return .native }
        if folded.contains("results") || folded.contains("artifactname") { return .trivy }
        if folded.contains("metadata"), !folded.isDisjoint(with: ["updates", "osupdates"]) { return .native }
        let found = members.isEmpty ? "an empty object" : "members " + Self.list(members.sorted())
        throw EngineError(.invalidInput, "\(source): not a supported report format: found \(found); expected a Trivy JSON report (SchemaVersion 2, from trivy image --format json) or a Copa UpdateManifest (apiVersion v1alpha1 or v1alpha2)")
    }

    private static func list(_ names: [String]) -> String {
        let shown = names.prefix(8).joined(separator: ", ")
        return names.count > 8 ? "\(shown), ... (\(names.count) in all)" : shown
    }

    /// The member names of the top-level object, values unread.
    private struct TopLevelMembers: Decodable {
        var names: [String]

        init(from decoder: any Decoder) throws {
            guard let container = try? decoder.container(keyedBy: AnyCodingKey.self) else {
                throw ReportFieldError([], "is not a JSON object; a report is an object with SchemaVersion (Trivy) or apiVersion (Copa)")
            }
            names = container.allKeys.map(\.stringValue)
        }
    }
}

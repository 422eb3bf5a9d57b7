import CopaCore
import Foundation
import Protocol

/// A report and the platform it is for.
struct PlatformReport: Sendable {
    let path: String
    let parsed: ParsedReport

    /// The platform the report's metadata names (architecture only: reports
    /// carry no variant, and the index's default variant is implied).
    var platform: Platform? {
        let architecture = parsed.manifest.architecture
        return architecture.isEmpty ? nil : Platform(os: "linux", architecture: architecture)
    }
}

/// Which reports `-r` names: one file, or Copa's report directory (one
/// report per platform, every `*.json` file in it).
enum ReportSet {
    static func load(_ path: String, scanner: ReportFormat?) throws -> (reports: [PlatformReport], isDirectory: Bool) {
        var directory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &directory) else {
            throw EngineError(.invalidInput, "cannot read the report \(path): no such file or directory")
        }
        guard directory.boolValue else {
            return ([PlatformReport(path: path, parsed: try ReportLoader.load(path: path, scanner: scanner))], false)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
        guard !names.isEmpty else {
            throw EngineError(.invalidInput, "the report directory \(path) holds no .json reports")
        }
        var reports: [PlatformReport] = []
        for name in names {
            let file = path + "/" + name
            let report = PlatformReport(path: file, parsed: try ReportLoader.load(path: file, scanner: scanner))
            guard let platform = report.platform else {
                throw EngineError(.invalidInput, "the report \(file) names no architecture: in a report directory each report must say which platform it is for")
            }
            if let other = reports.first(where: { $0.platform.map(platform.matches) == true }) {
                throw EngineError(.invalidInput, "the reports \(other.path) and \(file) are both for \(platform): keep one per platform")
            }
            reports.append(report)
        }
        return (reports, true)
    }
}

/// The jobs a multi-platform image needs: one per platform with a report
/// (and named by `--platform`, when given), each for one entry of the index.
struct PlatformPlan {
    struct Job {
        let platform: Platform
        let entry: Copa_Protocol_V1_Descriptor
        let report: PlatformReport
    }

    /// OCI and Docker image manifests (not indexes, not artifacts).
    static let imageManifestTypes: Set<String> = [
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
    ]

    let jobs: [Job]
    /// Entries kept as they are (other platforms, attestations).
    let kept: [Copa_Protocol_V1_IndexEntry]

    /// - Parameters:
    ///   - requested: `--platform` values; empty = every platform with a report.
    init(image: String, info: Copa_Protocol_V1_ImageInfo, reports: [PlatformReport], isDirectory: Bool,
         requested: [Platform]) throws {
        let patchable = info.entries.filter {
            !$0.attestation && !$0.platform.architecture.isEmpty && Self.imageManifestTypes.contains($0.descriptor.mediaType)
        }
        let listed = patchable.map { Platform(wire: $0.platform).description }
        let listing = listed.isEmpty ? "none" : listed.joined(separator: ", ")
        var chosen: [(Platform, PlatformReport)] = []
        if isDirectory {
            for report in reports {
                guard let platform = report.platform else { continue }
                if requested.isEmpty || requested.contains(where: { $0.matches(platform) || platform.matches($0) }) {
                    chosen.append((requested.first { $0.matches(platform) || platform.matches($0) } ?? platform, report))
                }
            }
            for platform in requested where !chosen.contains(where: { $0.0.matches(platform) || platform.matches($0.0) }) {
                throw EngineError(.invalidInput,
                    "--platform names \(platform), and \(reports.first.map { ($0.path as NSString).deletingLastPathComponent } ?? "the report directory") has no report for it (patching every outdated package without a report is not supported)")
            }
        } else if let report = reports.first {
            if let platform = report.platform {
                for wanted in requested where !(wanted.matches(platform) || platform.matches(wanted)) {
                    throw EngineError(.invalidInput,
                        "--platform names \(wanted), and the report \(report.path) is for \(platform): give -r DIR with a report per platform")
                }
                chosen = [(requested.first ?? platform, report)]
            } else {
                guard requested.count == 1, let only = requested.first else {
                    throw EngineError(.invalidInput,
                        "the report \(report.path) names no architecture and \(image) lists \(listing): give --platform with exactly one of them")
                }
                chosen = [(only, report)]
            }
        }
        var jobs: [Job] = []
        for (platform, report) in chosen {
            guard let entry = patchable.first(where: { platform.matches(Platform(wire: $0.platform)) }) else {
                throw EngineError(.invalidInput,
                    "\(image) has no image for \(platform) (it has: \(listing)); the report \(report.path) cannot be applied")
            }
            jobs.append(Job(platform: Platform(wire: entry.platform), entry: entry.descriptor,
                            report: report))
        }
        guard !jobs.isEmpty else {
            throw EngineError(.invalidInput, "no report applies to any platform of \(image) (it has: \(listing))")
        }
        self.jobs = jobs
        let patched = Set(jobs.map(\.entry.digest))
        kept = info.entries.filter { !patched.contains($0.descriptor.digest) }
    }
}

extension ReportSet {
    /// Copa's report directory for `--config`: every `*.json` report in it,
    /// grouped by the image it is for (Trivy's `ArtifactName`, normalised),
    /// one per platform of that image.
    static func loadByArtifact(_ path: String, scanner: ReportFormat?) throws -> [String: [PlatformReport]] {
        var directory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &directory), directory.boolValue else {
            throw EngineError(.invalidInput, "--config needs -r DIR, a directory of reports matched to the images by ArtifactName (patching without a report is not supported)")
        }
        var byArtifact: [String: [PlatformReport]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: path).filter({ $0.hasSuffix(".json") && !$0.hasPrefix(".") }).sorted() {
            let file = path + "/" + name
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            guard let artifact = object?.first(where: { $0.key.lowercased() == "artifactname" })?.value as? String, !artifact.isEmpty else {
                throw EngineError(.invalidInput, "the report \(file) has no ArtifactName: with --config each report must name the image it is for")
            }
            let report = PlatformReport(path: file, parsed: try ReportFormat.parse(data, source: file, as: scanner))
            let key = normalizedArtifact(artifact)
            if let platform = report.platform, let other = byArtifact[key]?.first(where: { $0.platform.map(platform.matches) == true }) {
                throw EngineError(.invalidInput, "the reports \(other.path) and \(file) are both for \(artifact) on \(platform): keep one per platform")
            }
            byArtifact[key, default: []].append(report)
        }
        return byArtifact
    }

    /// The same image named two ways (`nginx:1` and `docker.io/library/nginx:1`) gives one key.
    static func normalizedArtifact(_ name: String) -> String {
        (try? ImageReference(parsing: name))?.description ?? name
    }
}

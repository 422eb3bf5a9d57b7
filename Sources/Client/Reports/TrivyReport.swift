import Foundation

/// Trivy's JSON report, SchemaVersion 2, reduced to what the client reads.
/// Schema: aquasecurity/trivy pkg/types/report.go (`Report`, `Metadata`,
/// `Result`) and pkg/types/vulnerability.go (`DetectedVulnerability`).
/// Members are matched like Go's encoding/json (exact, else case-insensitive),
/// which is how Copa reads the same file.
struct TrivyReport: Decodable {
    static let supportedSchemaVersion = 2

    /// `Metadata.OS`; absent when Trivy did not detect the OS.
    var os: OS?
    /// `Metadata.ImageConfig.architecture`; empty when absent.
    var architecture: String
    var results: [Result]

    struct OS {
        var family: String
        var name: String
    }

    init(from decoder: any Decoder) throws {
        let root = try decoder.container(keyedBy: AnyCodingKey.self)
        // The version decides how to read the rest, so it is checked first.
        guard let version = try root.decodeIfPresent(Int.self, matching: "SchemaVersion") else {
            throw ReportFieldError([AnyCodingKey("SchemaVersion")], "is missing; expected \(Self.supportedSchemaVersion) (a Trivy JSON report)")
        }
        guard version == Self.supportedSchemaVersion else {
            throw ReportFieldError([AnyCodingKey("SchemaVersion")], "is \(version), which is not supported; only SchemaVersion \(Self.supportedSchemaVersion) reports can be read (write the report with a current Trivy: trivy image --format json)")
        }
        var os: OS?
        var architecture = ""
        if let metadataKey = root.key(matching: "Metadata"), try !root.decodeNil(forKey: metadataKey) {
            let metadata = try root.nestedContainer(keyedBy: AnyCodingKey.self, forKey: metadataKey)
            os = try Self.decodeOS(in: metadata)
            if let configKey = metadata.key(matching: "ImageConfig"), try !metadata.decodeNil(forKey: configKey) {
                let config = try metadata.nestedContainer(keyedBy: AnyCodingKey.self, forKey: configKey)
                architecture = try config.decodeIfPresent(String.self, matching: "architecture") ?? ""
            }
        }
        self.os = os
        self.architecture = architecture
        // Trivy omits Results for an image without findings.
        self.results = try root.decodeIfPresent([Result].self, matching: "Results") ?? []
    }

    private static func decodeOS(in metadata: KeyedDecodingContainer<AnyCodingKey>) throws -> OS? {
        guard let key = metadata.key(matching: "OS"), try !metadata.decodeNil(forKey: key) else { return nil }
        let container = try metadata.nestedContainer(keyedBy: AnyCodingKey.self, forKey: key)
        return OS(
            family: try container.decodeNonEmptyString(matching: "Family"),
            name: try container.decodeNonEmptyString(matching: "Name")
        )
    }

    /// One scan target: the OS packages, a lock file, a binary, ...
    struct Result: Decodable {
        /// Trivy's result class; `os-pkgs` holds the OS packages.
        static let osPackagesClass = "os-pkgs"
        static let languagePackagesClass = "lang-pkgs"

        var resultClass: String
        /// For OS results, the OS family ("alpine"); used when `Metadata.OS` is absent.
        var type: String
        /// Decoded only for `os-pkgs`; other classes are only counted, so a
        /// library finding the client does not use cannot reject the report.
        var vulnerabilities: [Vulnerability]
        var findingCount: Int

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyCodingKey.self)
            resultClass = try container.decodeNonEmptyString(matching: "Class")
            type = try container.decodeIfPresent(String.self, matching: "Type") ?? ""
            vulnerabilities = []
            findingCount = 0
            guard let key = container.key(matching: "Vulnerabilities"), try !container.decodeNil(forKey: key) else { return }
            if resultClass == Self.osPackagesClass {
                vulnerabilities = try container.decode([Vulnerability].self, forKey: key)
                findingCount = vulnerabilities.count
            } else {
                var list = try container.nestedUnkeyedContainer(forKey: key)
                while !list.isAtEnd {
                    _ = try list.decode(Skipped.self)
                    findingCount += 1
                }
            }
        }
    }

    /// `DetectedVulnerability`: one vulnerability of one installed package.
    struct Vulnerability: Decodable {
        var pkgName: String
        var installedVersion: String
        /// Empty or absent when no fix is known; may list several versions
        /// separated by commas ("1.2.3, 1.3.0").
        var fixedVersion: String
        var vulnerabilityID: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyCodingKey.self)
            pkgName = try container.decodeNonEmptyString(matching: "PkgName")
            installedVersion = try container.decodeNonEmptyString(matching: "InstalledVersion")
            fixedVersion = try container.decodeIfPresent(String.self, matching: "FixedVersion") ?? ""
            vulnerabilityID = try container.decodeNonEmptyString(matching: "VulnerabilityID")
        }
    }

    /// Any JSON value, read and dropped.
    private struct Skipped: Decodable {
        init(from decoder: any Decoder) throws {}
    }
}

import Foundation

/// Copa's own UpdateManifest JSON, the "native" scanner format
/// (`copa patch --scanner native`). Schemas: project-copacetic/copacetic
/// pkg/types/v1alpha1/types.go and pkg/types/v1alpha2/types.go. Both carry
/// one entry per (package, vulnerability), like a scanner report.
enum NativeManifest {
    enum APIVersion: String, CaseIterable {
        /// Updates in `updates`.
        case v1alpha1
        /// OS updates in `osupdates`, language updates in `langupdates`.
        case v1alpha2

        var updatesMember: String {
            switch self {
            case .v1alpha1: "updates"
            case .v1alpha2: "osupdates"
            }
        }
    }

    /// The read side of both versions. Members are matched like Go's
    /// encoding/json (exact, else case-insensitive) and, as there, an absent
    /// or null string or list reads as empty, so every file Copa accepts is
    /// accepted here.
    struct Document: Decodable {
        var apiVersion: APIVersion
        var osType: String
        var osVersion: String
        var architecture: String
        /// The member the OS updates were read from, as spelled in the file.
        var updatesMember: String
        var updates: [Package]
        var languageUpdateCount: Int

        init(from decoder: any Decoder) throws {
            let root = try decoder.container(keyedBy: AnyCodingKey.self)
            let version = try Self.decodeAPIVersion(root)
            apiVersion = version
            (osType, osVersion, architecture) = try Self.decodeMetadata(root)
            let expected = version.updatesMember
            guard let key = root.key(matching: expected) else {
                // An update list under the other version's member would read
                // as "nothing to patch"; say so instead.
                if let other = APIVersion.allCases.first(where: { $0 != version && root.key(matching: $0.updatesMember) != nil }) {
                    throw ReportFieldError([AnyCodingKey(expected)], "is missing, but \(other.updatesMember) is present, which belongs to apiVersion \(other.rawValue); fix apiVersion or rename the member")
                }
                updatesMember = expected
                updates = []
                languageUpdateCount = try Self.countLanguageUpdates(root, version: version)
                return
            }
            updatesMember = key.stringValue
            updates = try root.decodeIfPresent([Package].self, forKey: key) ?? []
            languageUpdateCount = try Self.countLanguageUpdates(root, version: version)
        }

        private static func decodeAPIVersion(_ root: KeyedDecodingContainer<AnyCodingKey>) throws -> APIVersion {
            let supported = APIVersion.allCases.map(\.rawValue).joined(separator: " or ")
            guard let text = try root.decodeIfPresent(String.self, matching: "apiVersion") else {
                throw ReportFieldError([AnyCodingKey("apiVersion")], "is missing; a Copa UpdateManifest needs apiVersion \(supported)")
            }
            guard let version = APIVersion(rawValue: text) else {
                throw ReportFieldError([AnyCodingKey("apiVersion")], "is '\(text)', which is not supported; expected \(supported)")
            }
            return version
        }

        private static func decodeMetadata(_ root: KeyedDecodingContainer<AnyCodingKey>) throws -> (String, String, String) {
            guard let key = root.key(matching: "metadata"), try !root.decodeNil(forKey: key) else { return ("", "", "") }
            let metadata = try root.nestedContainer(keyedBy: AnyCodingKey.self, forKey: key)
            var type = "", version = "", arch = ""
            if let osKey = metadata.key(matching: "os"), try !metadata.decodeNil(forKey: osKey) {
                let os = try metadata.nestedContainer(keyedBy: AnyCodingKey.self, forKey: osKey)
                type = try os.decodeIfPresent(String.self, matching: "type") ?? ""
                version = try os.decodeIfPresent(String.self, matching: "version") ?? ""
            }
            if let configKey = metadata.key(matching: "config"), try !metadata.decodeNil(forKey: configKey) {
                let config = try metadata.nestedContainer(keyedBy: AnyCodingKey.self, forKey: configKey)
                arch = try config.decodeIfPresent(String.self, matching: "arch") ?? ""
            }
            return (type, version, arch)
        }

        /// Language updates are not patched by the agent; they are counted
        /// without being read, so their content cannot reject the manifest.
        private static func countLanguageUpdates(_ root: KeyedDecodingContainer<AnyCodingKey>, version: APIVersion) throws -> Int {
            guard version == .v1alpha2, let key = root.key(matching: "langupdates"), try !root.decodeNil(forKey: key) else { return 0 }
            var list = try root.nestedUnkeyedContainer(forKey: key)
            var count = 0
            while !list.isAtEnd {
                _ = try list.decode(Ignored.self)
                count += 1
            }
            return count
        }
    }

    /// `UpdatePackage` of either version (v1alpha2's `type` and `class` are not needed).
    struct Package: Decodable {
        var name: String
        var installedVersion: String
        var fixedVersion: String
        var vulnerabilityID: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyCodingKey.self)
            name = try container.decodeNonEmptyString(matching: "name")
            installedVersion = try container.decodeNonEmptyString(matching: "installedVersion")
            fixedVersion = try container.decodeIfPresent(String.self, matching: "fixedVersion") ?? ""
            vulnerabilityID = try container.decodeIfPresent(String.self, matching: "vulnerabilityID") ?? ""
        }
    }

    private struct Ignored: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    /// The write side: v1alpha2 exactly as Copa's Go types serialize it
    /// (member names from the json tags; `variant` is omitempty and unknown here).
    struct V1Alpha2: Encodable {
        var apiVersion = APIVersion.v1alpha2.rawValue
        var metadata: Metadata
        var osupdates: [UpdatePackage]
        var langupdates: [UpdatePackage] = []

        struct Metadata: Encodable {
            var os: OS
            var config: Config
        }

        struct OS: Encodable {
            var type: String
            var version: String
        }

        struct Config: Encodable {
            var arch: String
        }

        struct UpdatePackage: Encodable {
            var name: String
            var installedVersion: String
            var fixedVersion: String
            var vulnerabilityID: String
            var type: String
            var `class`: String
        }
    }
}

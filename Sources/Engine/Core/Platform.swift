#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An image platform, as in an image index entry (image-spec image-index.md
/// "platform") and an image configuration's `os`/`architecture`/`variant`.
/// Architecture names are GOARCH values (`amd64`, `arm64`), as the spec requires.
public struct Platform: Sendable, Hashable, Codable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?
    /// `os.version` (image-index.md): used by Windows images; kept so entries round-trip.
    public var osVersion: String?
    /// `os.features` (image-index.md).
    public var osFeatures: [String]?

    public init(os: String, architecture: String, variant: String? = nil,
                osVersion: String? = nil, osFeatures: [String]? = nil) {
        self.os = os
        self.architecture = Self.normalizedArchitecture(architecture)
        self.variant = variant
        self.osVersion = osVersion
        self.osFeatures = osFeatures
    }

    /// Parses `os/architecture[/variant]`, e.g. `linux/arm64/v8`.
    public init(parsing string: String) throws {
        let parts = string.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && !$0.contains(" ") }) else {
            throw EngineError(.invalidInput, "'\(string)' is not a platform: write os/architecture[/variant], e.g. linux/arm64")
        }
        self.init(os: parts[0].lowercased(), architecture: parts[1].lowercased(),
                  variant: parts.count == 3 ? parts[2].lowercased() : nil)
    }

    /// The platform of the machine the engine runs on, from `uname`.
    public static var host: Platform {
        var info = utsname()
        guard uname(&info) == 0 else { return Platform(os: "linux", architecture: "amd64") }
        let machine = withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch machine {
        case "armv7l": return Platform(os: "linux", architecture: "arm", variant: "v7")
        case "armv6l": return Platform(os: "linux", architecture: "arm", variant: "v6")
        default: return Platform(os: "linux", architecture: machine)
        }
    }

    /// Whether an image for `candidate` runs where `self` is wanted. A missing
    /// variant on either side matches the architecture's default (arm64 → v8).
    public func matches(_ candidate: Platform) -> Bool {
        guard os == candidate.os, architecture == candidate.architecture else { return false }
        guard let wanted = variant ?? Self.defaultVariant(architecture) else { return true }
        return (candidate.variant ?? Self.defaultVariant(architecture)).map { $0 == wanted } ?? true
    }

    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }

    enum CodingKeys: String, CodingKey {
        case os, architecture, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    /// uname and other tools say x86_64/aarch64; the spec uses GOARCH names.
    static func normalizedArchitecture(_ name: String) -> String {
        switch name {
        case "x86_64", "x86-64": return "amd64"
        case "aarch64": return "arm64"
        case "i386", "i686": return "386"
        default: return name
        }
    }

    private static func defaultVariant(_ architecture: String) -> String? {
        architecture == "arm64" ? "v8" : nil
    }
}

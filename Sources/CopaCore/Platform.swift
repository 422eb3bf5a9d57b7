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

    /// Whether an image for `candidate` runs where `self` is wanted: the one
    /// platform comparison of the engine, the agent and both executors. OS
    /// and architecture must be equal; variants are compared after the OCI
    /// normalisation (image-index.md "variant"; containerd's): `arm64` is
    /// `arm64/v8` (and `8` is `v8`), `arm/7` is `arm/v7`, `amd64/v1` is
    /// `amd64`. A wanted platform without a variant, on an architecture with
    /// no default one, takes any variant.
    public func matches(_ candidate: Platform) -> Bool {
        guard os.lowercased() == candidate.os.lowercased(), architecture == candidate.architecture else { return false }
        let wanted = Self.normalizedVariant(variant, of: architecture)
        guard let wanted else { return variant == nil || Self.normalizedVariant(candidate.variant, of: architecture) == nil }
        return Self.normalizedVariant(candidate.variant, of: architecture) == wanted
    }

    /// The variant as OCI platforms are normalised: the architecture's
    /// default when none is given, `v` added to a bare number, `amd64/v1` none.
    static func normalizedVariant(_ variant: String?, of architecture: String) -> String? {
        var value = variant?.lowercased()
        if let text = value, let first = text.first, first.isNumber { value = "v" + text }
        switch architecture {
        case "arm64": return value ?? "v8"
        case "amd64": return value == "v1" ? nil : value
        default: return value
        }
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
}

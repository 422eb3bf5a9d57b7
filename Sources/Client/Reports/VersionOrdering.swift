import CopaCore

/// How one distribution orders package versions. Collapsing several
/// vulnerabilities of a package into one update needs the highest fixed
/// version by the distribution's own rules ("1.1.1d-r2" > "1.1.1d-r0" for apk,
/// "2.0.5-1+deb10u1" > "2.0.5-1" for dpkg); plain string order gets these wrong.
public protocol VersionOrdering: Sendable {
    associatedtype Version: Comparable
    /// Parses `text`. Throws `EngineError.invalidInput` saying why it is not
    /// a version in this scheme.
    func version(_ text: String) throws -> Version
}

/// The version schemes the client orders, chosen by OS family.
public enum VersionScheme: String, Sendable, CaseIterable {
    /// dpkg ordering (Debian Policy 5.6.12), via the engine's `DebianVersion`.
    case dpkg
    /// apk-tools ordering (Alpine, Wolfi, Chainguard).
    case apk
    /// rpm's `rpmvercmp` over epoch, version and release.
    case rpm
    /// Fallback for families without a known scheme: digit runs compare as
    /// numbers, everything else byte by byte. It does not know pre-release
    /// markers (it puts "1.0rc1" after "1.0").
    case natural

    /// The scheme of an OS family as Trivy and Copa name it ("debian",
    /// "alpine", "redhat", ...); `natural` for unknown or empty families.
    public init(osFamily: String) {
        let family = osFamily.lowercased()
        if Self.dpkgFamilies.contains(family) {
            self = .dpkg
        } else if Self.apkFamilies.contains(family) {
            self = .apk
        } else if Self.rpmFamilies.contains(family) {
            self = .rpm
        } else {
            self = .natural
        }
    }

    public var ordering: any VersionOrdering {
        switch self {
        case .dpkg: DpkgVersionOrdering()
        case .apk: ApkVersionOrdering()
        case .rpm: RpmVersionOrdering()
        case .natural: NaturalVersionOrdering()
        }
    }

    private static let dpkgFamilies: Set<String> = ["debian", "ubuntu"]
    private static let apkFamilies: Set<String> = ["alpine", "wolfi", "chainguard"]
    /// Trivy's family names (pkg/fanal/types) plus the common aliases.
    private static let rpmFamilies: Set<String> = [
        "redhat", "rhel", "centos", "rocky", "alma", "almalinux", "oracle", "amazon", "fedora",
        "cbl-mariner", "azurelinux", "photon", "opensuse", "opensuse.leap", "opensuse-leap",
        "opensuse.tumbleweed", "opensuse-tumbleweed", "sles", "slem",
    ]
}

/// dpkg ordering through the engine's `DebianVersion`, so the client and the
/// agent agree on which version is newer.
public struct DpkgVersionOrdering: VersionOrdering {
    public init() {}

    public func version(_ text: String) throws -> DebianVersion {
        try DebianVersion(text)
    }
}

/// ASCII character classes of version strings (the C locale's, which the
/// package tools use).
enum VersionCharacter {
    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }
    /// Printable ASCII other than space: what a version string may contain.
    static func isVisible(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }
}

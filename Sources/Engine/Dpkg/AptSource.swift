/// One binary package repository apt is configured with: a URI and a suite
/// with its components (sources.list(5)). A deb822 stanza with several URIs
/// and suites becomes one `AptSource` per pair; `deb-src` entries are not
/// represented, since the engine installs binaries only.
public struct AptSource: Sendable, Hashable {
    /// The `Signed-By` option: keyring files or fingerprints, or an armored
    /// public key embedded in a deb822 stanza.
    public enum SignedBy: Sendable, Hashable {
        /// Absolute keyring paths and/or key fingerprints, as listed.
        case keys([String])
        /// An ASCII-armored key block (decode with `ArmoredKey.dearmor`).
        case armoredKey(String)
    }

    /// The repository URI without a trailing slash, e.g. `http://deb.debian.org/debian`.
    public let uri: String
    /// The suite or codename (`bookworm`), or for a flat repository a path
    /// ending in `/` (`./`, `stable/`).
    public let suite: String
    /// Components (`main`, `contrib`); empty for a flat repository.
    public let components: [String]
    /// Architectures the source is restricted to; empty means apt's defaults.
    public let architectures: [String]
    public let signedBy: SignedBy?
    /// `Trusted`/`trusted=`: nil when not set.
    public let trusted: Bool?
    /// Every other option, by its one-line name (`lang`, `by-hash`, `check-valid-until`...).
    public let options: [String: String]

    public init(
        uri: String, suite: String, components: [String], architectures: [String] = [],
        signedBy: SignedBy? = nil, trusted: Bool? = nil, options: [String: String] = [:]
    ) throws {
        guard uri.contains("://") || uri.hasPrefix("file:") || uri.hasPrefix("cdrom:") else {
            throw EngineError(.invalidInput, "'\(uri)' is not a repository URI (sources.list(5) expects e.g. http://deb.debian.org/debian)")
        }
        guard !suite.isEmpty else {
            throw EngineError(.invalidInput, "the source \(uri) has no suite (sources.list(5))")
        }
        if suite.hasSuffix("/"), !components.isEmpty {
            throw EngineError(.invalidInput, "the source \(uri) names the exact path '\(suite)', which allows no components (sources.list(5))")
        }
        if !suite.hasSuffix("/"), components.isEmpty {
            throw EngineError(.invalidInput, "the source \(uri) \(suite) lists no components (sources.list(5))")
        }
        self.uri = uri.hasSuffix("/") ? String(uri.dropLast()) : uri
        self.suite = suite
        self.components = components
        self.architectures = architectures
        self.signedBy = signedBy
        self.trusted = trusted
        self.options = options
    }

    /// A flat repository (`deb uri path/`) keeps its index files directly under the path.
    public var isFlat: Bool { suite.hasSuffix("/") }

    /// The directory holding `InRelease`, `Release` and the indexes:
    /// `uri/dists/suite` (or `uri/path` for a flat repository).
    public var distributionURI: String {
        let path = isFlat ? String(suite.dropLast()) : "dists/\(suite)"
        return path == "." ? uri : "\(uri)/\(path)"
    }

    /// The path of a binary index below `distributionURI`, as named in the
    /// Release file: `main/binary-amd64/Packages` (`Packages` when flat).
    public func packagesIndexPath(component: String, architecture: String) -> String {
        isFlat ? "Packages" : "\(component)/binary-\(architecture)/Packages"
    }

    /// The name apt gives the downloaded copy of `path` (below
    /// `distributionURI`) in /var/lib/apt/lists: apt's `URItoFileName`, which
    /// drops the scheme and credentials, %-escapes a few characters and turns
    /// `/` into `_`.
    public func listsFileName(for path: String) -> String {
        var rest = Substring("\(distributionURI)/\(path)")
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let slash = rest.firstIndex(of: "/"), let at = rest[..<slash].lastIndex(of: "@") {
            rest = rest[rest.index(after: at)...]
        }
        let special = Set("\\|{}[]<>\"^~_=!@#$%^&*".utf8)
        var out = ""
        for byte in rest.utf8 {
            if special.contains(byte) || byte <= 0x20 || byte >= 0x7F {
                out += "%" + String(byte, radix: 16).leftPadded(to: 2)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out.replacingSlashes()
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }

    fileprivate func replacingSlashes() -> String {
        String(map { $0 == "/" ? "_" : $0 })
    }
}

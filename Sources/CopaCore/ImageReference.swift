/// Where an image lives: a repository in a registry, or an OCI image layout on disk.
///
/// Parses the docker reference grammar (distribution/reference):
/// `[host[:port]/]path[:tag][@digest]`, with Docker Hub normalization
/// (`debian` → `docker.io/library/debian:latest`), an optional `docker://`
/// prefix, and the OCI layout form `oci:PATH[:TAG]` as skopeo writes it.
public enum ImageReference: Sendable, Hashable, CustomStringConvertible {
    case registry(RegistryReference)
    /// An OCI image layout directory; `tag` is the `org.opencontainers.image.ref.name`
    /// annotation to look up, nil for a layout holding one image.
    case layout(path: String, tag: String?)

    public init(parsing string: String) throws {
        if string.hasPrefix("oci:") {
            // containers/image splits the layout form at the first colon, so a
            // path with a colon cannot be named this way; we do the same.
            let rest = string.dropFirst(4)
            let path: Substring
            var tag: String?
            if let colon = rest.firstIndex(of: ":") {
                path = rest[..<colon]
                let name = String(rest[rest.index(after: colon)...])
                if !name.isEmpty { tag = try RegistryReference.validatedTag(name) }
            } else {
                path = rest
            }
            guard !path.isEmpty else {
                throw EngineError(.invalidInput, "'\(string)' names no directory: write oci:PATH[:TAG]")
            }
            self = .layout(path: String(path), tag: tag)
            return
        }
        var text = Substring(string)
        if text.hasPrefix("docker://") { text = text.dropFirst("docker://".count) }
        self = .registry(try RegistryReference(parsing: String(text)))
    }

    /// The same image location under another tag (for a registry, the digest is dropped).
    public func withTag(_ tag: String) throws -> ImageReference {
        switch self {
        case .registry(let reference):
            return .registry(try reference.withTag(tag))
        case .layout(let path, _):
            return .layout(path: path, tag: try RegistryReference.validatedTag(tag))
        }
    }

    public var description: String {
        switch self {
        case .registry(let reference): return reference.description
        case .layout(let path, let tag): return tag.map { "oci:\(path):\($0)" } ?? "oci:\(path)"
        }
    }
}

/// A repository in a registry, with a tag, a digest or both.
public struct RegistryReference: Sendable, Hashable, CustomStringConvertible {
    /// `host[:port]` as written, with Docker Hub's aliases folded to `docker.io`.
    public let registry: String
    /// Repository path, e.g. `library/debian`.
    public let repository: String
    /// The tag; `latest` when the reference named neither tag nor digest.
    public let tag: String?
    public let digest: Digest?

    public static let dockerHub = "docker.io"

    public init(registry: String, repository: String, tag: String?, digest: Digest?) throws {
        try Self.validateHost(registry)
        for component in repository.split(separator: "/", omittingEmptySubsequences: false) {
            try Self.validateComponent(component, in: repository)
        }
        guard repository.utf8.count < 256 else {
            throw EngineError(.invalidInput, "repository name '\(repository)' is 256 characters or longer")
        }
        self.registry = registry
        self.repository = repository
        self.tag = try tag.map(Self.validatedTag)
        self.digest = digest
    }

    public init(parsing string: String) throws {
        var name = Substring(string)
        var digest: Digest?
        if let at = name.firstIndex(of: "@") {
            digest = try Digest(String(name[name.index(after: at)...]))
            name = name[..<at]
        }
        var tag: String?
        let lastSlash = name.lastIndex(of: "/") ?? name.startIndex
        if let colon = name[lastSlash...].lastIndex(of: ":") {
            tag = String(name[name.index(after: colon)...])
            name = name[..<colon]
        }
        var host = Self.dockerHub
        var path = name
        if let slash = name.firstIndex(of: "/") {
            let first = name[..<slash]
            // distribution/reference: the first component is a host when it has a
            // dot or a port, is "localhost", or has upper-case letters.
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                host = String(first)
                path = name[name.index(after: slash)...]
            }
        }
        if host == "index.docker.io" || host == "registry-1.docker.io" { host = Self.dockerHub }
        var repository = String(path)
        if host == Self.dockerHub && !repository.contains("/") { repository = "library/" + repository }
        if tag == nil && digest == nil { tag = "latest" }
        guard !path.isEmpty else {
            throw EngineError(.invalidInput, "'\(string)' names no repository: write [host[:port]/]name[:tag][@digest]")
        }
        try self.init(registry: host, repository: repository, tag: tag, digest: digest)
    }

    public func withTag(_ tag: String) throws -> RegistryReference {
        try RegistryReference(registry: registry, repository: repository, tag: tag, digest: nil)
    }

    public func withDigest(_ digest: Digest) -> RegistryReference {
        RegistryReference(unchecked: registry, repository, tag, digest)
    }

    /// What goes in `/v2/<name>/manifests/<reference>`: the digest when there is one.
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    private init(unchecked registry: String, _ repository: String, _ tag: String?, _ digest: Digest?) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }
}

extension RegistryReference {
    /// Tag grammar (distribution/reference): `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    public static func validatedTag(_ tag: String) throws -> String {
        let bytes = Array(tag.utf8)
        let isWord: (UInt8) -> Bool = { isAlphanumeric($0) || $0 == UInt8(ascii: "_") }
        guard let first = bytes.first, isWord(first), bytes.count <= 128,
              bytes.allSatisfy({ isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else {
            throw EngineError(.invalidInput,
                "'\(tag)' is not a valid tag: use up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'")
        }
        return tag
    }

    /// Path component grammar: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
    static func validateComponent(_ component: Substring, in repository: String) throws {
        let bytes = Array(component.utf8)
        let isLowerAlnum: (UInt8) -> Bool = { (48...57).contains($0) || (97...122).contains($0) }
        var valid = !bytes.isEmpty && isLowerAlnum(bytes[0]) && isLowerAlnum(bytes[bytes.count - 1])
        var separator: [UInt8] = []
        for byte in bytes where valid {
            if isLowerAlnum(byte) {
                let dashes = !separator.isEmpty && separator.allSatisfy { $0 == UInt8(ascii: "-") }
                valid = separator.isEmpty || dashes || [[46], [95], [95, 95]].contains(separator)
                separator = []
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") {
                separator.append(byte)
            } else {
                valid = false
            }
        }
        guard valid else {
            throw EngineError(.invalidInput,
                "repository '\(repository)' is not valid: each part must be lowercase letters and digits, separated by '.', '_', '__' or '-'")
        }
    }

    /// `host[:port]`, where host is DNS labels or a bracketed IPv6 address.
    static func validateHost(_ registry: String) throws {
        var host = Substring(registry)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw badHost(registry) }
            let rest = host[host.index(after: close)...]
            if rest.hasPrefix(":") { port = rest.dropFirst() } else if !rest.isEmpty { throw badHost(registry) }
            host = host[host.index(after: host.startIndex)..<close]
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { throw badHost(registry) }
        } else {
            if let colon = host.firstIndex(of: ":") {
                port = host[host.index(after: colon)...]
                host = host[..<colon]
            }
            for label in host.split(separator: ".", omittingEmptySubsequences: false) {
                let bytes = Array(label.utf8)
                let okChars = bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
                guard let first = bytes.first, let last = bytes.last, okChars,
                      isAlphanumeric(first), isAlphanumeric(last) else { throw badHost(registry) }
            }
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw badHost(registry) }
        }
    }

    private static func badHost(_ registry: String) -> EngineError {
        EngineError(.invalidInput, "'\(registry)' is not a valid registry host: write host, host:port or [ipv6]:port")
    }
}

private func isAlphanumeric(_ byte: UInt8) -> Bool {
    (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
}

extension ImageReference {
    /// The tag the reference names, if any.
    public var tagName: String? {
        switch self {
        case .registry(let reference): reference.tag
        case .layout(_, let tag): tag
        }
    }
}

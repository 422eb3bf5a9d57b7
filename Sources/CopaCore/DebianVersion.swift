/// A Debian package version, `[epoch:]upstream_version[-debian_revision]`
/// (Debian Policy 5.6.12). Parsing follows dpkg's `parseversion()`; ordering
/// and equality follow `dpkg --compare-versions` (see
/// `DebianVersion+Comparison.swift`), so `1.0`, `0:1.0` and `1.0-0` are equal
/// even though their `description`s differ.
public struct DebianVersion: Sendable {
    /// The epoch; 0 when the string has none.
    public let epoch: Int
    /// The upstream version: starts with a digit, may contain `.+~-:`
    /// (`-` only when there is a revision, `:` only when there is an epoch).
    public let upstream: String
    /// The Debian revision after the last `-`; empty when there is none.
    public let revision: String
    /// The text as given, without surrounding whitespace.
    public let text: String

    /// dpkg stores the epoch in an `int` and rejects anything larger.
    static let maximumEpoch = Int(Int32.max)

    /// Parses and validates `string`. Throws `EngineError.invalidInput` naming
    /// the rule the string breaks.
    public init(_ string: String) throws {
        let trimmed = string.trimmingDpkgSpace()
        guard !trimmed.isEmpty else {
            throw Self.invalid(string, "it is empty")
        }
        guard !trimmed.utf8.contains(where: { $0.isDpkgSpace }) else {
            throw Self.invalid(string, "it contains embedded whitespace")
        }
        // Policy 5.6.12: the epoch ends at the first colon, the revision
        // starts after the last hyphen; dpkg splits the same way.
        var rest = Substring(trimmed)
        var epoch = 0
        if let colon = rest.utf8.firstIndex(of: UInt8(ascii: ":")) {
            epoch = try Self.parseEpoch(rest[..<colon], in: string)
            rest = rest[rest.index(after: colon)...]
        }
        var revision: Substring = ""
        if let hyphen = rest.utf8.lastIndex(of: UInt8(ascii: "-")) {
            revision = rest[rest.index(after: hyphen)...]
            rest = rest[..<hyphen]
            guard !revision.isEmpty else {
                throw Self.invalid(string, "the Debian revision after the last '-' is empty")
            }
        }
        try Self.validateUpstream(rest, in: string)
        try Self.validateRevision(revision, in: string)
        self.epoch = epoch
        self.upstream = String(rest)
        self.revision = String(revision)
        self.text = trimmed
    }

    /// Builds a version from its parts, validating each as `init(_:)` would.
    public init(epoch: Int = 0, upstream: String, revision: String = "") throws {
        var text = epoch == 0 ? "" : "\(epoch):"
        text += upstream
        if !revision.isEmpty { text += "-\(revision)" }
        try self.init(text)
        guard self.epoch == epoch, self.upstream == upstream, self.revision == revision else {
            throw Self.invalid(text, "the parts do not form an unambiguous version")
        }
    }

    private static func parseEpoch(_ digits: Substring, in string: String) throws -> Int {
        guard !digits.isEmpty else {
            throw invalid(string, "the epoch before ':' is empty")
        }
        guard digits.utf8.allSatisfy({ $0.isDpkgDigit }) else {
            throw invalid(string, "the epoch '\(digits)' is not a non-negative number")
        }
        let significant = digits.drop(while: { $0 == "0" })
        guard significant.count <= 10, let value = Int(significant.isEmpty ? "0" : significant),
              value <= maximumEpoch
        else {
            throw invalid(string, "the epoch '\(digits)' is larger than \(maximumEpoch)")
        }
        return value
    }

    private static func validateUpstream(_ upstream: Substring, in string: String) throws {
        guard let first = upstream.utf8.first else {
            throw invalid(string, "the upstream version is empty")
        }
        guard first.isDpkgDigit else {
            throw invalid(string, "the upstream version must start with a digit")
        }
        // Hyphens and colons can only be here when a revision or an epoch was
        // split off, which is exactly when policy allows them.
        if !upstream.utf8.allSatisfy({ $0.isUpstreamCharacter }),
           let bad = upstream.unicodeScalars.first(where: { !$0.isASCII || !UInt8($0.value).isUpstreamCharacter }) {
            throw invalid(string, "the upstream version contains the character '\(bad)'; allowed are A-Z a-z 0-9 . + - ~ :")
        }
    }

    private static func validateRevision(_ revision: Substring, in string: String) throws {
        if !revision.utf8.allSatisfy({ $0.isRevisionCharacter }),
           let bad = revision.unicodeScalars.first(where: { !$0.isASCII || !UInt8($0.value).isRevisionCharacter }) {
            throw invalid(string, "the Debian revision contains the character '\(bad)'; allowed are A-Z a-z 0-9 . + ~")
        }
    }

    private static func invalid(_ string: String, _ reason: String) -> EngineError {
        EngineError(.invalidInput, "'\(string)' is not a valid Debian version: \(reason) (Debian Policy 5.6.12)")
    }
}

/// The throwing `init(_:)` stands in for `LosslessStringConvertible` (whose
/// failable `init?(_:)` could not say why a version is invalid);
/// `description` returns the text as given.
extension DebianVersion: CustomStringConvertible {
    public var description: String { text }
}

extension UInt8 {
    public var isDpkgDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }

    public var isDpkgLetter: Bool {
        (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "z"))
            || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z"))
    }

    /// C `isspace` in the C locale, which is what dpkg uses.
    public var isDpkgSpace: Bool { self == 0x20 || (self >= 0x09 && self <= 0x0D) }

    /// Policy 5.6.12: alphanumerics and `. + - ~ :` (the last two only where
    /// an epoch or revision was split off, which the split guarantees).
    fileprivate var isUpstreamCharacter: Bool {
        isDpkgDigit || isDpkgLetter || self == UInt8(ascii: ".") || self == UInt8(ascii: "+")
            || self == UInt8(ascii: "-") || self == UInt8(ascii: "~") || self == UInt8(ascii: ":")
    }

    /// Policy 5.6.12: alphanumerics and `. + ~`.
    fileprivate var isRevisionCharacter: Bool {
        isDpkgDigit || isDpkgLetter || self == UInt8(ascii: ".") || self == UInt8(ascii: "+") || self == UInt8(ascii: "~")
    }
}

extension String {
    /// Drops leading and trailing C-locale whitespace, as dpkg does before parsing.
    public func trimmingDpkgSpace() -> String {
        if let first = utf8.first, let last = utf8.last, !first.isDpkgSpace, !last.isDpkgSpace { return self }
        let bytes = Array(utf8)
        guard let start = bytes.firstIndex(where: { !$0.isDpkgSpace }),
              let end = bytes.lastIndex(where: { !$0.isDpkgSpace })
        else { return "" }
        return String(decoding: bytes[start...end], as: UTF8.self)
    }
}

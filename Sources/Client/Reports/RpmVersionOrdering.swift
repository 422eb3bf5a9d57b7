import CopaCore

/// rpm version ordering: epoch first, then version and release each with
/// `rpmvercmp` (rpm lib/rpmvercmp.c), which compares alternating digit and
/// letter segments and gives `~` (sorts before anything) and `^` (sorts after
/// the bare version, before anything longer) their special meaning.
public struct RpmVersionOrdering: VersionOrdering {
    public init() {}

    public func version(_ text: String) throws -> RpmVersion {
        try RpmVersion(text)
    }
}

/// A validated `[epoch:]version[-release]`.
public struct RpmVersion: Sendable, Comparable, CustomStringConvertible {
    public let epoch: Int
    public let version: String
    /// Empty when the text has none; an empty release sorts before any other,
    /// as in the rpm ordering Trivy uses (knqyf263/go-rpm-version).
    public let release: String
    public let description: String

    /// The epoch is stored as a 32-bit number by rpm.
    static let maximumEpoch = Int(Int32.max)

    public init(_ text: String) throws {
        guard !text.isEmpty else { throw Self.invalid(text, "it is empty") }
        guard text.utf8.allSatisfy(VersionCharacter.isVisible) else {
            throw Self.invalid(text, "it contains whitespace, control or non-ASCII characters")
        }
        // rpm's parseEVR: an epoch is the leading digits before ':'; the
        // release starts after the last '-'.
        var rest = Substring(text)
        var epoch = 0
        if let colon = rest.firstIndex(of: ":") {
            let digits = rest[..<colon]
            guard !digits.isEmpty, digits.count <= 10, digits.utf8.allSatisfy(VersionCharacter.isDigit),
                  let value = Int(digits), value <= Self.maximumEpoch
            else {
                throw Self.invalid(text, "the epoch before ':' must be a number up to \(Self.maximumEpoch)")
            }
            epoch = value
            rest = rest[rest.index(after: colon)...]
        }
        var release: Substring = ""
        if let hyphen = rest.lastIndex(of: "-") {
            release = rest[rest.index(after: hyphen)...]
            rest = rest[..<hyphen]
            guard !release.isEmpty else { throw Self.invalid(text, "the release after the last '-' is empty") }
        }
        guard !rest.isEmpty else { throw Self.invalid(text, "the version is empty") }
        guard !rest.contains(":") else { throw Self.invalid(text, "the version contains ':'") }
        self.epoch = epoch
        self.version = String(rest)
        self.release = String(release)
        self.description = text
    }

    public static func < (lhs: RpmVersion, rhs: RpmVersion) -> Bool {
        order(lhs, rhs) < 0
    }

    public static func == (lhs: RpmVersion, rhs: RpmVersion) -> Bool {
        order(lhs, rhs) == 0
    }

    private static func order(_ lhs: RpmVersion, _ rhs: RpmVersion) -> Int {
        if lhs.epoch != rhs.epoch { return lhs.epoch < rhs.epoch ? -1 : 1 }
        let byVersion = rpmvercmp(Array(lhs.version.utf8), Array(rhs.version.utf8))
        if byVersion != 0 { return byVersion }
        return rpmvercmp(Array(lhs.release.utf8), Array(rhs.release.utf8))
    }

    private static func invalid(_ text: String, _ reason: String) -> EngineError {
        EngineError(.invalidInput, "'\(text)' is not a valid rpm version: \(reason)")
    }
}

/// rpm lib/rpmvercmp.c `rpmvercmp`, over bytes.
func rpmvercmp(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a == b { return 0 }
    var i = 0, j = 0
    func isSeparator(_ byte: UInt8) -> Bool {
        !VersionCharacter.isLetter(byte) && !VersionCharacter.isDigit(byte)
            && byte != UInt8(ascii: "~") && byte != UInt8(ascii: "^")
    }
    let tilde = UInt8(ascii: "~"), caret = UInt8(ascii: "^")
    while i < a.count || j < b.count {
        while i < a.count, isSeparator(a[i]) { i += 1 }
        while j < b.count, isSeparator(b[j]) { j += 1 }
        let x = i < a.count ? a[i] : nil, y = j < b.count ? b[j] : nil
        // '~' sorts before everything, even the end of the string.
        if x == tilde || y == tilde {
            if x != tilde { return 1 }
            if y != tilde { return -1 }
            i += 1; j += 1
            continue
        }
        // '^' sorts after the end of the string but before anything else.
        if x == caret || y == caret {
            if x == nil { return -1 }
            if y == nil { return 1 }
            if x != caret { return 1 }
            if y != caret { return -1 }
            i += 1; j += 1
            continue
        }
        guard let first = x, y != nil else { break }
        let numeric = VersionCharacter.isDigit(first)
        func inSegment(_ byte: UInt8) -> Bool {
            numeric ? VersionCharacter.isDigit(byte) : VersionCharacter.isLetter(byte)
        }
        let startA = i, startB = j
        while i < a.count, inSegment(a[i]) { i += 1 }
        while j < b.count, inSegment(b[j]) { j += 1 }
        // Segments of different types: a number is newer than letters.
        if startB == j { return numeric ? 1 : -1 }
        var segmentA = a[startA..<i], segmentB = b[startB..<j]
        if numeric {
            segmentA = segmentA.drop { $0 == UInt8(ascii: "0") }
            segmentB = segmentB.drop { $0 == UInt8(ascii: "0") }
            if segmentA.count != segmentB.count { return segmentA.count > segmentB.count ? 1 : -1 }
        }
        if segmentA.lexicographicallyPrecedes(segmentB) { return -1 }
        if segmentB.lexicographicallyPrecedes(segmentA) { return 1 }
    }
    if i >= a.count && j >= b.count { return 0 }
    return i >= a.count ? -1 : 1
}

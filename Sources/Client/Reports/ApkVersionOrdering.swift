import Engine

/// apk-tools version ordering (Alpine). Versions look like
/// `number{.number}[letter]{_suffix[number]}[-rN]`; suffixes `alpha`, `beta`,
/// `pre`, `rc` sort before the bare version and `cvs`, `svn`, `git`, `hg`, `p`
/// after it. The token rules follow apk-tools src/version.c, which is what
/// Trivy's Alpine advisories are matched with.
public struct ApkVersionOrdering: VersionOrdering {
    public init() {}

    public func version(_ text: String) throws -> ApkVersion {
        try ApkVersion(text)
    }
}

/// A validated apk version.
public struct ApkVersion: Sendable, Comparable, CustomStringConvertible {
    public let description: String
    private let bytes: [UInt8]

    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else {
            throw EngineError(.invalidInput, "'' is not a valid apk version: it is empty")
        }
        var cursor = ApkTokenCursor(bytes)
        var kind = ApkTokenKind.digit
        while kind != .end && kind != .invalid {
            kind = cursor.next(after: kind).kind
        }
        guard kind == .end else {
            throw EngineError(.invalidInput, "'\(text)' is not a valid apk version: expected number{.number}[letter]{_suffix[number]}[-rN] (apk-tools version format)")
        }
        self.description = text
        self.bytes = bytes
    }

    public static func < (lhs: ApkVersion, rhs: ApkVersion) -> Bool {
        compare(lhs.bytes, rhs.bytes) < 0
    }

    public static func == (lhs: ApkVersion, rhs: ApkVersion) -> Bool {
        compare(lhs.bytes, rhs.bytes) == 0
    }

    /// apk_version_compare: walk both token streams while kinds and values
    /// agree; the first differing value decides, else the token kinds do.
    private static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var left = ApkTokenCursor(a), right = ApkTokenCursor(b)
        var leftKind = ApkTokenKind.digit, rightKind = ApkTokenKind.digit
        var leftValue = 0, rightValue = 0
        while leftKind == rightKind, leftKind != .end, leftKind != .invalid, leftValue == rightValue {
            (leftValue, leftKind) = left.next(after: leftKind)
            (rightValue, rightKind) = right.next(after: rightKind)
        }
        if leftValue != rightValue { return leftValue < rightValue ? -1 : 1 }
        if leftKind == rightKind { return 0 }
        // Equal so far and one goes on: the longer one is newer unless what
        // follows is a pre-release suffix ("1.0_rc1" < "1.0").
        if leftKind == .suffix, left.next(after: leftKind).value < 0 { return -1 }
        if rightKind == .suffix, right.next(after: rightKind).value < 0 { return 1 }
        if leftKind.rawValue > rightKind.rawValue { return -1 }
        if leftKind.rawValue < rightKind.rawValue { return 1 }
        return 0
    }
}

/// Token kinds of apk-tools' version grammar; the raw order matters (a later
/// kind may only follow an earlier one in the allowed transitions).
enum ApkTokenKind: Int {
    case invalid = -1, digitOrZero, digit, letter, suffix, suffixNumber, revision, end
}

/// Reads an apk version token by token (apk-tools `get_token`/`next_token`).
struct ApkTokenCursor {
    private let bytes: [UInt8]
    private var index = 0
    /// Longest digit run read as a number; longer runs make the version invalid
    /// instead of overflowing.
    private static let maximumDigits = 18
    private static let preSuffixes = ["alpha", "beta", "pre", "rc"].map { Array($0.utf8) }
    private static let postSuffixes = ["cvs", "svn", "git", "hg", "p"].map { Array($0.utf8) }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Reads the token of `kind` at the cursor; returns its value and the kind
    /// of the token after it.
    mutating func next(after kind: ApkTokenKind) -> (value: Int, kind: ApkTokenKind) {
        guard index < bytes.count else { return (0, .end) }
        var value = 0
        var forced: ApkTokenKind?
        switch kind {
        case .digitOrZero where bytes[index] == UInt8(ascii: "0"):
            // A component with leading zeros ("1.02") sorts by how many zeros
            // it has, then by the rest as a separate number.
            while index < bytes.count, bytes[index] == UInt8(ascii: "0") {
                value -= 1
                index += 1
            }
            forced = .digit
        case .digitOrZero, .digit, .suffixNumber, .revision:
            guard let number = readNumber() else { return (-1, .invalid) }
            value = number
        case .letter:
            value = Int(bytes[index])
            index += 1
        case .suffix:
            guard let suffix = readSuffix() else { return (-1, .invalid) }
            value = suffix
        case .invalid, .end:
            return (-1, .invalid)
        }
        if index >= bytes.count { return (value, .end) }
        if let forced { return (value, forced) }
        return (value, nextKind(after: kind))
    }

    private mutating func readNumber() -> Int? {
        var value = 0, digits = 0
        while index < bytes.count, VersionCharacter.isDigit(bytes[index]) {
            digits += 1
            guard digits <= Self.maximumDigits else { return nil }
            value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        return value
    }

    /// Pre-release suffixes are negative, post-release ones zero or positive.
    private mutating func readSuffix() -> Int? {
        let rest = bytes[index...]
        if let at = Self.preSuffixes.firstIndex(where: { rest.starts(with: $0) }) {
            index += Self.preSuffixes[at].count
            return at - Self.preSuffixes.count
        }
        if let at = Self.postSuffixes.firstIndex(where: { rest.starts(with: $0) }) {
            index += Self.postSuffixes[at].count
            return at
        }
        return nil
    }

    private mutating func nextKind(after kind: ApkTokenKind) -> ApkTokenKind {
        let byte = bytes[index]
        var next = ApkTokenKind.invalid
        if (kind == .digit || kind == .digitOrZero) && VersionCharacter.isLower(byte) {
            next = .letter
        } else if kind == .letter && VersionCharacter.isDigit(byte) {
            next = .digit
        } else if kind == .suffix && VersionCharacter.isDigit(byte) {
            next = .suffixNumber
        } else {
            switch byte {
            case UInt8(ascii: "."): next = .digitOrZero
            case UInt8(ascii: "_"): next = .suffix
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "r"):
                next = .revision
                index += 1
            default: next = .invalid
            }
            index += 1
        }
        let allowedBackStep = (next == .digitOrZero && kind == .digit)
            || (next == .suffix && kind == .suffixNumber)
            || (next == .digit && kind == .letter)
        if next.rawValue < kind.rawValue && !allowedBackStep { return .invalid }
        return next
    }
}

/// ASCII character classes of version strings (the C locale's, as the
/// package tools use).
enum VersionCharacter {
    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    static func isLower(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
    static func isLetter(_ byte: UInt8) -> Bool { isLower(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) }
    /// Printable ASCII other than space: what a version string may contain.
    static func isVisible(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }
}

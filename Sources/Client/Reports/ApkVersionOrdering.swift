import CopaCore

/// apk-tools version ordering (Alpine, Wolfi). A version is
/// `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-rN}`; the suffixes
/// `alpha`, `beta`, `pre`, `rc` sort before the bare version and `cvs`, `svn`,
/// `git`, `hg`, `p` after it. Tokens and their comparison follow apk-tools
/// src/version.c (the tokenizer with `TOKEN_COMMIT_HASH`, apk-tools 2.12+).
public struct ApkVersionOrdering: VersionOrdering {
    public init() {}

    public func version(_ text: String) throws -> ApkVersion {
        try ApkVersion(text)
    }
}

/// A validated apk version, kept as its token sequence.
public struct ApkVersion: Sendable, Comparable, CustomStringConvertible {
    public let description: String
    private let tokens: [ApkVersionToken]

    public init(_ text: String) throws {
        description = text
        tokens = try ApkVersionToken.tokenize(Array(text.utf8), text: text)
    }

    public static func < (lhs: ApkVersion, rhs: ApkVersion) -> Bool {
        compare(lhs.tokens, rhs.tokens) < 0
    }

    public static func == (lhs: ApkVersion, rhs: ApkVersion) -> Bool {
        compare(lhs.tokens, rhs.tokens) == 0
    }

    /// apk_version_compare: tokens are compared pairwise while their kinds
    /// agree; then the kinds decide.
    private static func compare(_ a: [ApkVersionToken], _ b: [ApkVersionToken]) -> Int {
        var index = 0
        while index < a.count, index < b.count, a[index].kind == b[index].kind {
            let order = a[index].compare(to: b[index])
            if order != 0 { return order }
            index += 1
        }
        let left = index < a.count ? a[index] : nil, right = index < b.count ? b[index] : nil
        let leftKind = left?.kind ?? .end, rightKind = right?.kind ?? .end
        if leftKind == rightKind { return 0 }
        // Equal so far and one goes on: it is newer, unless what follows is
        // a pre-release suffix ("1.0_rc1" < "1.0").
        if let left, left.isPreRelease { return -1 }
        if let right, right.isPreRelease { return 1 }
        return leftKind > rightKind ? -1 : 1
    }
}

/// One token of an apk version.
struct ApkVersionToken: Sendable {
    /// In the order apk-tools requires them to appear.
    enum Kind: Int, Comparable, Sendable {
        case initialDigit, digit, letter, suffix, suffixNumber, commitHash, revision, end

        static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Suffix names by rank; `none` is the pivot between pre- and post-release.
    static let suffixes = ["alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"].map { Array($0.utf8) }
    static let noSuffixRank = 4
    /// apk reads numbers into 64 bits; longer digit runs are refused here
    /// rather than wrapped.
    static let maximumDigits = 19

    var kind: Kind
    var text: ArraySlice<UInt8>
    var number: UInt64 = 0
    var suffixRank = 0

    var isPreRelease: Bool { kind == .suffix && suffixRank < Self.noSuffixRank }

    func compare(to other: ApkVersionToken) -> Int {
        switch kind {
        case .digit where text.first == UInt8(ascii: "0") || other.text.first == UInt8(ascii: "0"),
             .commitHash, .end:
            // A component with a leading zero compares as text (Gentoo rule).
            if text.lexicographicallyPrecedes(other.text) { return -1 }
            return other.text.lexicographicallyPrecedes(text) ? 1 : 0
        case .initialDigit, .digit, .suffixNumber, .revision:
            return number == other.number ? 0 : (number < other.number ? -1 : 1)
        case .letter:
            return text == other.text ? 0 : (text.lexicographicallyPrecedes(other.text) ? -1 : 1)
        case .suffix:
            return suffixRank == other.suffixRank ? 0 : (suffixRank < other.suffixRank ? -1 : 1)
        }
    }

    static func tokenize(_ bytes: [UInt8], text: String) throws -> [ApkVersionToken] {
        var index = 0
        func fail(_ reason: String) -> EngineError {
            EngineError(.invalidInput, "'\(text)' is not a valid apk version: \(reason); expected digit{.digit}...{letter}{_suffix{number}}...{~hash}{-rN}")
        }
        guard let first = digits(bytes, &index) else { throw fail("it must start with a number") }
        var tokens = [ApkVersionToken(kind: .initialDigit, text: first.text, number: first.value)]
        var previous = Kind.initialDigit
        while index < bytes.count {
            let byte = bytes[index]
            let position = "'\(UnicodeScalar(byte))' at position \(index + 1)"
            var token: ApkVersionToken
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z") where previous <= .digit:
                token = ApkVersionToken(kind: .letter, text: bytes[index...index])
                index += 1
            case UInt8(ascii: "."), UInt8(ascii: "0")...UInt8(ascii: "9"):
                if byte == UInt8(ascii: ".") {
                    guard previous <= .digit else { throw fail("unexpected \(position)") }
                    index += 1
                }
                let kind: Kind
                switch previous {
                case .initialDigit, .digit: kind = .digit
                case .suffix: kind = .suffixNumber
                default: throw fail("unexpected \(position)")
                }
                guard let number = digits(bytes, &index) else { throw fail("a number must follow \(position)") }
                token = ApkVersionToken(kind: kind, text: number.text, number: number.value)
            case UInt8(ascii: "_") where previous <= .suffixNumber:
                index += 1
                let name = run(bytes, &index) { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
                guard !name.isEmpty, let rank = suffixes.firstIndex(where: { $0[...] == name }) else {
                    throw fail("unknown suffix '_\(String(decoding: name, as: UTF8.self))' (known: _alpha _beta _pre _rc _cvs _svn _git _hg _p)")
                }
                token = ApkVersionToken(kind: .suffix, text: name, suffixRank: rank)
            case UInt8(ascii: "~") where previous < .commitHash:
                index += 1
                let hash = run(bytes, &index) { VersionCharacter.isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) }
                guard !hash.isEmpty else { throw fail("a hexadecimal commit hash must follow '~'") }
                token = ApkVersionToken(kind: .commitHash, text: hash)
            case UInt8(ascii: "-") where previous < .revision:
                guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "r") else { throw fail("'-' must start a revision '-rN'") }
                index += 2
                guard let number = digits(bytes, &index) else { throw fail("the revision '-r' needs a number") }
                token = ApkVersionToken(kind: .revision, text: number.text, number: number.value)
            default:
                throw fail("unexpected \(position)")
            }
            previous = token.kind
            tokens.append(token)
        }
        return tokens
    }

    /// Reads a run of digits; nil when there is none or it is too long.
    private static func digits(_ bytes: [UInt8], _ index: inout Int) -> (text: ArraySlice<UInt8>, value: UInt64)? {
        let text = run(bytes, &index, VersionCharacter.isDigit)
        guard !text.isEmpty, text.count <= maximumDigits else { return nil }
        let value = text.reduce(UInt64(0)) { $0 * 10 + UInt64($1 - UInt8(ascii: "0")) }
        return (text, value)
    }

    private static func run(_ bytes: [UInt8], _ index: inout Int, _ accepts: (UInt8) -> Bool) -> ArraySlice<UInt8> {
        let start = index
        while index < bytes.count, accepts(bytes[index]) { index += 1 }
        return bytes[start..<index]
    }
}

import CopaCore

/// The fallback ordering for OS families without a known scheme: rpm's
/// `rpmvercmp` over the whole string, a generic segment comparison. Runs of
/// digits compare as numbers ("1.10" > "1.9"), runs of letters as text, a
/// number is newer than letters at the same place, punctuation only
/// separates, and a version that goes on past a common prefix is newer
/// ("1.0.1" > "1.0"), except after `~`, which sorts first ("1.0~rc1" < "1.0").
/// It knows no distribution's own rules, so it is used only when the family
/// gives nothing better.
public struct NaturalVersionOrdering: VersionOrdering {
    public init() {}

    public func version(_ text: String) throws -> NaturalVersion {
        try NaturalVersion(text)
    }
}

public struct NaturalVersion: Sendable, Comparable, CustomStringConvertible {
    public let description: String
    private let bytes: [UInt8]

    public init(_ text: String) throws {
        guard !text.isEmpty else {
            throw EngineError(.invalidInput, "'' is not a valid version: it is empty")
        }
        guard text.utf8.allSatisfy(VersionCharacter.isVisible) else {
            throw EngineError(.invalidInput, "'\(text)' is not a valid version: it contains whitespace, control or non-ASCII characters")
        }
        description = text
        bytes = Array(text.utf8)
    }

    public static func < (lhs: NaturalVersion, rhs: NaturalVersion) -> Bool {
        rpmvercmp(lhs.bytes, rhs.bytes) < 0
    }

    public static func == (lhs: NaturalVersion, rhs: NaturalVersion) -> Bool {
        rpmvercmp(lhs.bytes, rhs.bytes) == 0
    }
}

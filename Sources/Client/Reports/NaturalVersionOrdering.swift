import Engine

/// The fallback ordering for OS families without a known scheme. Runs of
/// digits compare as numbers ("1.10" > "1.9"), other runs byte by byte, and
/// a version that continues past a common prefix is newer ("1.0.1" > "1.0").
/// It knows no distribution's pre-release rules, so it is only used when the
/// family gives nothing better.
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
        compare(lhs.bytes, rhs.bytes) < 0
    }

    public static func == (lhs: NaturalVersion, rhs: NaturalVersion) -> Bool {
        compare(lhs.bytes, rhs.bytes) == 0
    }

    private static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var i = 0, j = 0
        while i < a.count && j < b.count {
            let numericA = VersionCharacter.isDigit(a[i]), numericB = VersionCharacter.isDigit(b[j])
            // A number is newer than text at the same place ("1.0.1" > "1.0.a").
            if numericA != numericB { return numericA ? 1 : -1 }
            let startA = i, startB = j
            while i < a.count, VersionCharacter.isDigit(a[i]) == numericA { i += 1 }
            while j < b.count, VersionCharacter.isDigit(b[j]) == numericB { j += 1 }
            var runA = a[startA..<i], runB = b[startB..<j]
            if numericA {
                runA = runA.drop { $0 == UInt8(ascii: "0") }
                runB = runB.drop { $0 == UInt8(ascii: "0") }
                if runA.count != runB.count { return runA.count < runB.count ? -1 : 1 }
            }
            if runA.lexicographicallyPrecedes(runB) { return -1 }
            if runB.lexicographicallyPrecedes(runA) { return 1 }
        }
        if i < a.count { return 1 }
        if j < b.count { return -1 }
        return 0
    }
}

/// A scanner for relationship fields (Debian Policy 7.1), following the
/// grammar of dpkg's `f_dependency`: groups separated by `,`, alternatives by
/// `|`, whitespace (including folded line breaks) allowed between tokens.
struct RelationshipParser {
    private let bytes: [UInt8]
    private let field: String
    private let kind: RelationshipKind
    private var index = 0

    private init(_ value: String, kind: RelationshipKind) {
        self.bytes = Array(value.utf8)
        self.field = value
        self.kind = kind
    }

    static func parseField(_ value: String, kind: RelationshipKind) throws -> [RelationshipGroup] {
        var parser = RelationshipParser(value, kind: kind)
        return try parser.parseGroups()
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let byte = current, byte.isDpkgSpace { index += 1 }
    }

    private mutating func parseGroups() throws -> [RelationshipGroup] {
        var groups: [RelationshipGroup] = []
        skipSpace()
        while current != nil {
            var alternatives = [try parseRelationship()]
            while current == UInt8(ascii: "|") {
                guard kind.allowsAlternatives else {
                    throw failure("alternatives ('|') are not allowed in \(kind.fieldName) (Debian Policy 7.1)")
                }
                index += 1
                skipSpace()
                alternatives.append(try parseRelationship())
            }
            groups.append(RelationshipGroup(alternatives))
            guard let byte = current else { break }
            guard byte == UInt8(ascii: ",") else {
                throw failure("unexpected '\(Character(Unicode.Scalar(byte)))' after '\(alternatives.last?.name ?? "")'")
            }
            index += 1
            skipSpace()
        }
        return groups
    }

    private mutating func parseRelationship() throws -> Relationship {
        let name = try parseWord(what: "package name", stoppingAt: ":(,|[<")
        try Self.validatePackageName(name, failure: failure)
        var qualifier: String?
        if current == UInt8(ascii: ":") {
            index += 1
            qualifier = try parseWord(what: "architecture qualifier", stoppingAt: "(,|[<")
        }
        skipSpace()
        var version: Relationship.VersionConstraint?
        if current == UInt8(ascii: "(") {
            version = try parseVersionConstraint()
        }
        var architectures: [Relationship.Term] = []
        if current == UInt8(ascii: "[") {
            architectures = try parseTerms(closing: "]", what: "architecture restriction")
            if Set(architectures.map(\.negated)).count > 1 {
                throw failure("the architecture restriction of '\(name)' mixes negated and plain architectures (Debian Policy 7.1)")
            }
        }
        var profiles: [[Relationship.Term]] = []
        while current == UInt8(ascii: "<") {
            profiles.append(try parseTerms(closing: ">", what: "build profile list"))
        }
        return Relationship(
            name: name, architectureQualifier: qualifier, version: version,
            architectures: architectures, profiles: profiles)
    }

    /// Reads up to whitespace or one of `stops`; the word must not be empty.
    private mutating func parseWord(what: String, stoppingAt stops: String) throws -> String {
        let stopBytes = Array(stops.utf8)
        let start = index
        while let byte = current, !byte.isDpkgSpace, !stopBytes.contains(byte) { index += 1 }
        guard index > start else {
            throw failure("a \(what) is missing at byte \(start + 1)")
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func parseVersionConstraint() throws -> Relationship.VersionConstraint {
        index += 1
        skipSpace()
        let relation = try parseRelation()
        skipSpace()
        let text = try parseWord(what: "version", stoppingAt: ")")
        skipSpace()
        guard current == UInt8(ascii: ")") else {
            throw failure("the version constraint '\(text)' is not closed with ')'")
        }
        index += 1
        skipSpace()
        if kind == .provides, relation != .equal {
            throw failure("Provides allows only '=' versions (Debian Policy 7.5)")
        }
        return Relationship.VersionConstraint(relation, try DebianVersion(text))
    }

    private mutating func parseRelation() throws -> Relationship.Relation {
        let first = current
        index += 1
        let second = current
        switch (first, second) {
        case (UInt8(ascii: "<"), UInt8(ascii: "<")): index += 1; return .earlier
        case (UInt8(ascii: "<"), UInt8(ascii: "=")): index += 1; return .earlierOrEqual
        case (UInt8(ascii: ">"), UInt8(ascii: ">")): index += 1; return .later
        case (UInt8(ascii: ">"), UInt8(ascii: "=")): index += 1; return .laterOrEqual
        // Policy 7.1: the obsolete single '<' and '>' mean '<=' and '>='.
        case (UInt8(ascii: "<"), _): return .earlierOrEqual
        case (UInt8(ascii: ">"), _): return .laterOrEqual
        case (UInt8(ascii: "="), _): return .equal
        default:
            index -= 1
            throw failure("a version relation (<<, <=, =, >=, >>) is missing after '('")
        }
    }

    /// Reads `[a !b]` or `<a !b>` after the opening bracket.
    private mutating func parseTerms(closing: Character, what: String) throws -> [Relationship.Term] {
        index += 1
        var terms: [Relationship.Term] = []
        let close = UInt8(ascii: closing.unicodeScalars.first ?? " ")
        while true {
            skipSpace()
            guard let byte = current else {
                throw failure("the \(what) is not closed with '\(closing)'")
            }
            if byte == close { break }
            let negated = byte == UInt8(ascii: "!")
            if negated { index += 1 }
            let word = try parseWord(what: "name in the \(what)", stoppingAt: String(closing))
            terms.append(Relationship.Term(word, negated: negated))
        }
        index += 1
        skipSpace()
        guard !terms.isEmpty else { throw failure("the \(what) is empty") }
        return terms
    }

    /// Policy 5.6.1: at least two characters, alphanumerics and `+ - .`,
    /// starting with an alphanumeric. Upper case is tolerated as dpkg does.
    static func validatePackageName(_ name: String, failure: (String) -> EngineError) throws {
        let utf8 = Array(name.utf8)
        guard let first = utf8.first, first.isDpkgDigit || first.isDpkgLetter,
              utf8.allSatisfy({ $0.isDpkgDigit || $0.isDpkgLetter || "+-.".utf8.contains($0) })
        else {
            throw failure("'\(name)' is not a valid package name (Debian Policy 5.6.1)")
        }
    }

    private func failure(_ reason: String) -> EngineError {
        EngineError(.invalidInput, "cannot parse \(kind.fieldName) '\(field)': \(reason)")
    }
}

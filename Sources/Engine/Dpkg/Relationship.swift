/// The relationship fields of binary packages (Debian Policy 7.2, 7.3, 7.4,
/// 7.5, 7.6). The kind decides how a field is read: only the dependency kinds
/// allow `|` alternatives (Policy 7.1), `Provides` allows only `=` (Policy
/// 7.5), and an unqualified name in Breaks/Conflicts/Replaces applies to every
/// architecture (dpkg's `f_dependency` gives it an implicit `:any`).
public enum RelationshipKind: String, Sendable, Hashable, CaseIterable {
    case depends = "Depends"
    case preDepends = "Pre-Depends"
    case recommends = "Recommends"
    case suggests = "Suggests"
    case enhances = "Enhances"
    case breaks = "Breaks"
    case conflicts = "Conflicts"
    case replaces = "Replaces"
    case provides = "Provides"

    /// The control field that holds relationships of this kind.
    public var fieldName: String { rawValue }

    var allowsAlternatives: Bool {
        switch self {
        case .depends, .preDepends, .recommends, .suggests, .enhances: return true
        case .breaks, .conflicts, .replaces, .provides: return false
        }
    }

    /// Breaks/Conflicts/Replaces on an unqualified name hit packages of any architecture.
    var unqualifiedMeansAnyArchitecture: Bool {
        self == .breaks || self == .conflicts || self == .replaces
    }
}

/// One alternative of a relationship (Debian Policy 7.1):
/// `name[:archqual] [(op version)] [[arch list]] [<profiles>...]`.
public struct Relationship: Sendable, Hashable, CustomStringConvertible {
    /// A version relation (Policy 7.1). The obsolete `<` and `>` are read as
    /// `<=` and `>=`, as dpkg reads them.
    public enum Relation: String, Sendable, Hashable, CaseIterable {
        case earlier = "<<"
        case earlierOrEqual = "<="
        case equal = "="
        case laterOrEqual = ">="
        case later = ">>"

        /// Whether `candidate` stands in this relation to `bound`.
        public func holds(_ candidate: DebianVersion, _ bound: DebianVersion) -> Bool {
            let order = DebianVersion.compare(candidate, bound)
            switch self {
            case .earlier: return order < 0
            case .earlierOrEqual: return order <= 0
            case .equal: return order == 0
            case .laterOrEqual: return order >= 0
            case .later: return order > 0
            }
        }
    }

    public struct VersionConstraint: Sendable, Hashable, CustomStringConvertible {
        public let relation: Relation
        public let version: DebianVersion

        public init(_ relation: Relation, _ version: DebianVersion) {
            self.relation = relation
            self.version = version
        }

        public func isSatisfied(by candidate: DebianVersion) -> Bool {
            relation.holds(candidate, version)
        }

        public var description: String { "(\(relation.rawValue) \(version))" }
    }

    /// One negatable word of an architecture restriction or build-profile list.
    public struct Term: Sendable, Hashable, CustomStringConvertible {
        public let negated: Bool
        public let name: String

        public init(_ name: String, negated: Bool = false) {
            self.name = name
            self.negated = negated
        }

        public var description: String { negated ? "!\(name)" : name }
    }

    public let name: String
    /// `any`, `native` or an architecture name after the `:`; nil when unqualified.
    public let architectureQualifier: String?
    public let version: VersionConstraint?
    /// The `[...]` restriction (Policy 7.1, source packages); empty when absent.
    public let architectures: [Term]
    /// The `<...>` build-profile formula: the relationship applies when any
    /// one list holds entirely. Empty when absent.
    public let profiles: [[Term]]

    public init(
        name: String, architectureQualifier: String? = nil, version: VersionConstraint? = nil,
        architectures: [Term] = [], profiles: [[Term]] = []
    ) {
        self.name = name
        self.architectureQualifier = architectureQualifier
        self.version = version
        self.architectures = architectures
        self.profiles = profiles
    }

    public var description: String {
        var text = name
        if let architectureQualifier { text += ":\(architectureQualifier)" }
        if let version { text += " \(version)" }
        if !architectures.isEmpty { text += " [\(architectures.map(\.description).joined(separator: " "))]" }
        for list in profiles { text += " <\(list.map(\.description).joined(separator: " "))>" }
        return text
    }
}

/// Alternatives separated by `|`: satisfied when any one is.
public struct RelationshipGroup: Sendable, Hashable, CustomStringConvertible {
    public let alternatives: [Relationship]

    public init(_ alternatives: [Relationship]) {
        self.alternatives = alternatives
    }

    public var description: String { alternatives.map(\.description).joined(separator: " | ") }
}

/// A parsed relationship field: comma-separated groups, all of which must hold.
public struct RelationshipField: Sendable, Hashable, CustomStringConvertible {
    public let kind: RelationshipKind
    public let groups: [RelationshipGroup]

    public init(_ kind: RelationshipKind, groups: [RelationshipGroup]) {
        self.kind = kind
        self.groups = groups
    }

    /// Parses `value` as a field of `kind`; an empty value has no groups.
    public init(_ kind: RelationshipKind, parsing value: String) throws {
        self.kind = kind
        self.groups = try RelationshipParser.parseField(value, kind: kind)
    }

    /// Parses the field of `kind` in `paragraph`; no groups when it is absent.
    public init(_ kind: RelationshipKind, in paragraph: ControlParagraph) throws {
        try self.init(kind, parsing: paragraph[kind.fieldName] ?? "")
    }

    public var description: String { groups.map(\.description).joined(separator: ", ") }
}

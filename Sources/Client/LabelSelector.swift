import Foundation
import Protocol

/// A Kubernetes label selector (equality- and set-based requirements,
/// comma-separated, all of which must hold): `region=eu-west`,
/// `pool!=canary`, `region in (eu-west,eu-north)`, `tier notin (dev)`,
/// `gpu` (the label exists), `!gpu` (it does not). `=` and `==` are the same.
struct LabelSelector: Sendable, CustomStringConvertible {
    enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, [String])
        case notIn(String, [String])
        case exists(String)
        case doesNotExist(String)

        func holds(_ labels: [String: String]) -> Bool {
            switch self {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .isIn(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }
    }

    let requirements: [Requirement]
    let description: String

    struct SyntaxError: Error, CustomStringConvertible {
        let description: String
    }

    init(parsing text: String) throws {
        description = text
        var requirements: [Requirement] = []
        for part in try Self.split(text) {
            requirements.append(try Self.requirement(part, in: text))
        }
        self.requirements = requirements
    }

    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.holds(labels) }
    }

    /// Splits at commas outside parentheses.
    private static func split(_ text: String) throws -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(":
                depth += 1
                guard depth == 1 else { throw SyntaxError(description: "'\(text)': nested parentheses") }
                current.append(character)
            case ")":
                depth -= 1
                guard depth == 0 else { throw SyntaxError(description: "'\(text)': a ')' without its '('") }
                current.append(character)
            case "," where depth == 0:
                parts.append(current)
                current = ""
            default:
                current.append(character)
            }
        }
        guard depth == 0 else { throw SyntaxError(description: "'\(text)': a '(' is not closed") }
        parts.append(current)
        let trimmed = parts.map { $0.trimmingCharacters(in: .whitespaces) }
        if trimmed.count == 1, trimmed[0].isEmpty { return [] }
        guard !trimmed.contains(where: \.isEmpty) else {
            throw SyntaxError(description: "'\(text)': an empty requirement (two commas, or one at an end)")
        }
        return trimmed
    }

    private static func requirement(_ part: String, in text: String) throws -> Requirement {
        let fail = { (why: String) in
            SyntaxError(description: "'\(part)' in the selector '\(text)' \(why); write key=value, key!=value, key in (a,b), key notin (a,b), key or !key")
        }
        if part.hasPrefix("!") {
            let key = String(part.dropFirst()).trimmingCharacters(in: .whitespaces)
            guard Self.isKey(key) else { throw fail("is not a label key") }
            return .doesNotExist(key)
        }
        for (operator_, make) in [("!=", Requirement.notEquals), ("==", Requirement.equals), ("=", Requirement.equals)] {
            guard let range = part.range(of: operator_) else { continue }
            let key = part[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
            let value = part[range.upperBound...].trimmingCharacters(in: .whitespaces)
            guard Self.isKey(key) else { throw fail("has no valid label key") }
            guard Self.isValue(value) else { throw fail("has an invalid label value") }
            return make(key, value)
        }
        let words = part.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true).map(String.init)
        if words.count == 1 {
            guard Self.isKey(words[0]) else { throw fail("is not a label key") }
            return .exists(words[0])
        }
        guard words.count == 3, words[1] == "in" || words[1] == "notin", Self.isKey(words[0]) else {
            throw fail("is not a requirement")
        }
        let list = words[2].trimmingCharacters(in: .whitespaces)
        guard list.hasPrefix("("), list.hasSuffix(")") else { throw fail("needs its values in parentheses") }
        let values = list.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !values.isEmpty, values.allSatisfy({ !$0.isEmpty && Self.isValue($0) }) else {
            throw fail("has an empty or invalid value in its list")
        }
        return words[1] == "in" ? .isIn(words[0], values) : .notIn(words[0], values)
    }

    static func isKey(_ key: String) -> Bool { LabelSyntax.isKey(key) }
    static func isValue(_ value: String) -> Bool { LabelSyntax.isValue(value) }
}

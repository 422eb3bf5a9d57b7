import CopaCore
import Foundation

/// Shared JSON plumbing of the report parsers: decoding with errors that name
/// the file and the field (`trivy.json: Results[2].Vulnerabilities[0].PkgName
/// is missing`), and the key matching Copa's Go decoder uses.
enum ReportDecoding {
    /// Decodes `T` from `data`; every failure becomes an `EngineError` whose
    /// message starts with `source` and names the offending field.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, source: String) throws -> T {
        guard !data.isEmpty else {
            throw EngineError(.invalidInput, "\(source): the file is empty; expected a JSON scanner report")
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as EngineError {
            throw error
        } catch let error as ReportFieldError {
            throw EngineError(.invalidInput, "\(source): \(error.path) \(error.problem)")
        } catch let error as DecodingError {
            throw EngineError(.invalidInput, "\(source): \(describe(error, data: data))")
        }
    }

    /// Renders a coding path the way a user reads JSON: `Results[2].PkgName`.
    static func render(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "the top level" : text
    }

    private static func describe(_ error: DecodingError, data: Data) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\(render(context.codingPath + [key])) is missing"
        case .valueNotFound(let type, let context):
            return "\(render(context.codingPath)) is null; expected \(jsonKind(type))"
        case .typeMismatch(let type, let context):
            return "\(render(context.codingPath)) has the wrong type; expected \(jsonKind(type))"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "not valid JSON (\(syntaxDetail(data) ?? context.debugDescription))"
        case .dataCorrupted(let context):
            return "\(render(context.codingPath)) is invalid: \(context.debugDescription)"
        @unknown default:
            return "cannot be read: \(error)"
        }
    }

    private static func jsonKind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is Substring.Type: return "a string"
        case is Int.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is [Any].Type: return "an array"
        default: return "an object"
        }
    }

    /// JSONDecoder on Linux drops the parser's explanation; JSONSerialization
    /// keeps it ("Unexpected end of file", "around character 57"). Only run on
    /// the failure path.
    private static func syntaxDetail(_ data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            return (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        }
    }
}

/// A problem at one place in a report, found while decoding. Thrown from
/// `init(from:)` and turned into an `EngineError` by `ReportDecoding.decode`.
struct ReportFieldError: Error {
    /// Rendered path, e.g. `Results[0].Vulnerabilities[3].PkgName`.
    let path: String
    /// What is wrong, completing the sentence "<path> ...", e.g. "is empty".
    let problem: String

    init(_ path: [any CodingKey], _ problem: String) {
        self.path = ReportDecoding.render(path)
        self.problem = problem
    }
}

/// A coding key for any JSON member name, for containers whose keys are
/// matched by hand.
struct AnyCodingKey: CodingKey, Hashable {
    let stringValue: String
    let intValue: Int?

    init(_ string: String) {
        stringValue = string
        intValue = nil
    }

    init?(stringValue: String) { self.init(stringValue) }

    init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension KeyedDecodingContainer where Key == AnyCodingKey {
    /// The key for `name` as Go's encoding/json finds it, which is how Copa
    /// reads its manifests: an exact match first, else a case-insensitive one.
    /// Files Copa accepts are therefore accepted here too.
    func key(matching name: String) -> AnyCodingKey? {
        let keys = allKeys
        if let exact = keys.first(where: { $0.stringValue == name }) { return exact }
        let folded = name.lowercased()
        return keys
            .filter { $0.stringValue.lowercased() == folded }
            .min { $0.stringValue < $1.stringValue }
    }

    /// Decodes the member `name` (matched as `key(matching:)` does); nil when
    /// it is absent or null.
    func decodeIfPresent<T: Decodable>(_ type: T.Type, matching name: String) throws -> T? {
        guard let key = key(matching: name) else { return nil }
        return try decodeIfPresent(type, forKey: key)
    }

    /// Decodes the member `name`, which must be a non-empty string.
    func decodeNonEmptyString(matching name: String) throws -> String {
        guard let value = try decodeIfPresent(String.self, matching: name) else {
            throw ReportFieldError(codingPath + [AnyCodingKey(name)], "is missing")
        }
        guard !value.isEmpty else {
            throw ReportFieldError(codingPath + [AnyCodingKey(name)], "is empty")
        }
        return value
    }
}

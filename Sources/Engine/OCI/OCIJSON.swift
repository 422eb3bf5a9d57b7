import Foundation

/// JSON coding for spec types. Output is deterministic — sorted keys, `/` not
/// escaped, no trailing newline — so the same value always has the same digest
/// (image-spec considerations.md "Canonicalization").
enum OCIJSON {
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.invalidInput, "the \(what) is not valid JSON of its spec type: \(Self.explain(error))")
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw EngineError(.internal, "could not encode \(T.self) as JSON", underlying: error)
        }
    }

    /// A short, readable account of a DecodingError (the default dump is long).
    private static func explain(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "top level" : keys.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing '\(key.stringValue)' at \(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(context.debugDescription) at \(path(context))"
        @unknown default: return "\(error)"
        }
    }
}

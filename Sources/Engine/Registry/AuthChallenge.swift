/// A `WWW-Authenticate` challenge (RFC 7235 §4.1), as registries send on 401:
/// `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`
/// (Docker registry token authentication) or `Basic realm="..."`.
public struct AuthChallenge: Sendable, Hashable {
    /// Lower-cased scheme: "bearer" or "basic".
    public let scheme: String
    /// Parameters with lower-cased names.
    public let parameters: [String: String]

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    /// The scopes asked for; the header joins several with spaces.
    public var scopes: [String] { parameters["scope"].map { $0.split(separator: " ").map(String.init) } ?? [] }

    /// Parses the first challenge in a header value.
    public init(parsing header: String) throws {
        var rest = Substring(header).drop { $0 == " " }
        let scheme = rest.prefix { $0 != " " && $0 != "," }
        guard !scheme.isEmpty else {
            throw EngineError(.registry, "the registry sent an empty WWW-Authenticate challenge")
        }
        rest = rest.dropFirst(scheme.count)
        self.scheme = scheme.lowercased()
        self.parameters = try Self.parseParameters(rest)
    }

    /// `name=value` pairs separated by commas; values are tokens or quoted
    /// strings with backslash escapes (RFC 7230 §3.2.6), which may hold commas.
    private static func parseParameters(_ text: Substring) throws -> [String: String] {
        var parameters: [String: String] = [:]
        var characters = Array(text)
        characters.reverse()
        func skip(_ set: Set<Character>) { while let last = characters.last, set.contains(last) { characters.removeLast() } }
        while true {
            skip([" ", ","])
            guard !characters.isEmpty else { return parameters }
            var name = ""
            while let last = characters.last, last != "=" && last != " " && last != "," { name.append(characters.removeLast()) }
            skip([" "])
            guard characters.last == "=" else {
                throw EngineError(.registry, "the registry's WWW-Authenticate challenge is malformed near '\(name)'")
            }
            characters.removeLast()
            skip([" "])
            var value = ""
            if characters.last == "\"" {
                characters.removeLast()
                var closed = false
                while let character = characters.popLast() {
                    if character == "\\" { if let escaped = characters.popLast() { value.append(escaped) }; continue }
                    if character == "\"" { closed = true; break }
                    value.append(character)
                }
                guard closed else { throw EngineError(.registry, "the registry's WWW-Authenticate challenge has an unterminated quote") }
            } else {
                while let last = characters.last, last != "," && last != " " { value.append(characters.removeLast()) }
            }
            parameters[name.lowercased()] = value
        }
    }
}

/// `/etc/os-release` (or `/usr/lib/os-release`), os-release(5): newline-separated
/// `KEY=value` assignments in a shell-compatible subset, with `#` comments.
public struct OSRelease: Sendable, Hashable {
    /// Every assignment, unquoted.
    public let fields: [String: String]

    /// Parses `text`. Values may be unquoted, in double quotes (where `\`
    /// escapes `$ " \ `` and a newline, as in the shell) or in single quotes.
    /// Throws `EngineError.invalidInput` naming the line for a line that is
    /// not an assignment or a quote that is not closed.
    public init(parsing text: String) throws {
        var fields: [String: String] = [:]
        for (offset, rawLine) in text.textLines.enumerated() {
            let line = rawLine.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "="), !line[..<equals].isEmpty,
                  line[..<equals].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            else {
                throw EngineError(.invalidInput, "os-release line \(offset + 1) is not a KEY=value assignment (os-release(5))")
            }
            do {
                fields[String(line[..<equals])] = try Self.unquote(line[line.index(after: equals)...])
            } catch let error as EngineError {
                throw EngineError(.invalidInput, "os-release line \(offset + 1): \(error.message)")
            }
        }
        self.fields = fields
    }

    /// `ID`; "linux" when absent, as os-release(5) specifies.
    public var id: String { fields["ID"] ?? "linux" }
    public var versionID: String? { fields["VERSION_ID"] }
    public var versionCodename: String? { fields["VERSION_CODENAME"] }
    /// `ID_LIKE`, split on spaces ("ubuntu debian" for Mint).
    public var idLike: [String] { (fields["ID_LIKE"] ?? "").split(separator: " ").map(String.init) }
    /// `PRETTY_NAME`; "Linux" when absent (os-release(5)).
    public var prettyName: String { fields["PRETTY_NAME"] ?? "Linux" }
    public var name: String? { fields["NAME"] }

    /// Whether this is `family` or derives from it (`ID` or `ID_LIKE`).
    public func isLike(_ family: String) -> Bool {
        id == family || idLike.contains(family)
    }

    /// Undoes shell quoting of one value (concatenated quoted and unquoted parts).
    static func unquote(_ value: Substring) throws -> String {
        var result = ""
        var iterator = value.makeIterator()
        while let character = iterator.next() {
            switch character {
            case "\"":
                var closed = false
                while let inner = iterator.next() {
                    if inner == "\"" { closed = true; break }
                    if inner == "\\", let escaped = iterator.next() {
                        if !"$\"\\`\n".contains(escaped) { result.append("\\") }
                        result.append(escaped)
                    } else {
                        result.append(inner)
                    }
                }
                guard closed else { throw EngineError(.invalidInput, "a double quote is not closed") }
            case "'":
                var closed = false
                while let inner = iterator.next() {
                    if inner == "'" { closed = true; break }
                    result.append(inner)
                }
                guard closed else { throw EngineError(.invalidInput, "a single quote is not closed") }
            case "\\":
                if let escaped = iterator.next() { result.append(escaped) }
            case " ", "\t":
                // An unquoted blank ends the word; only a trailing comment may follow.
                let rest = String(iterator).drop(while: { $0 == " " || $0 == "\t" })
                guard rest.isEmpty || rest.hasPrefix("#") else {
                    throw EngineError(.invalidInput, "an unquoted value contains a space; quote it")
                }
                return result
            default:
                result.append(character)
            }
        }
        return result
    }
}

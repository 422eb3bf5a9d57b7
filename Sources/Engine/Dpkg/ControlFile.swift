/// Reading and writing files of control paragraphs (deb822, Debian Policy 5.1).
public enum ControlFile {
    /// Which lines besides fields a file may hold.
    public enum Syntax: Sendable {
        /// dpkg's status file, `Packages`, `Release`: fields and separators only.
        case strict
        /// deb822 `.sources` files (sources.list(5)) and `debian/control`
        /// (Policy 5.1): lines starting with `#` are comments and are skipped.
        case allowingComments
    }

    /// Splits `text` into paragraphs. Throws `EngineError.invalidInput` naming
    /// the line for a carriage return (CRLF files), a line that is neither a
    /// field, a continuation nor a separator, a bad field name, or a field that
    /// appears twice in a paragraph.
    public static func parse(_ text: String, syntax: Syntax = .strict) throws -> [ControlParagraph] {
        var parser = ControlFileParser(text: text, syntax: syntax)
        return try parser.parse()
    }

    /// The paragraphs as dpkg writes its status file: each paragraph followed
    /// by one empty line.
    public static func serialize(_ paragraphs: [ControlParagraph]) -> String {
        var out = ""
        for paragraph in paragraphs {
            out += paragraph.serialized
            out += "\n"
        }
        return out
    }
}

extension StringProtocol {
    /// The lines of a text file. `"\r\n"` is a single `Character`, so it is
    /// named as a separator too; line-oriented formats accept both endings.
    var textLines: [SubSequence] {
        split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }
}

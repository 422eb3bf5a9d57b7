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

/// Line-by-line state machine over the UTF-8 view (splitting on `Character`
/// would merge `\r\n` into one grapheme and hide it).
struct ControlFileParser {
    let text: String
    let syntax: ControlFile.Syntax
    private var paragraphs: [ControlParagraph] = []
    private var fields: [ControlField] = []
    private var names = Set<String>()
    private var paragraphStart: String.Index?
    private var paragraphEnd: String.Index?
    private var lineNumber = 0

    init(text: String, syntax: ControlFile.Syntax) {
        self.text = text
        self.syntax = syntax
    }

    mutating func parse() throws -> [ControlParagraph] {
        let utf8 = text.utf8
        var lineStart = utf8.startIndex
        while lineStart < utf8.endIndex {
            let newline = utf8[lineStart...].firstIndex(of: UInt8(ascii: "\n"))
            let lineEnd = newline ?? utf8.endIndex
            let next = newline.map { utf8.index(after: $0) } ?? utf8.endIndex
            lineNumber += 1
            try consume(line: text[lineStart..<lineEnd], start: lineStart, next: next)
            lineStart = next
        }
        try finishParagraph()
        return paragraphs
    }

    private mutating func consume(line: Substring, start: String.Index, next: String.Index) throws {
        if line.utf8.contains(UInt8(ascii: "\r")) {
            throw error("the line contains a carriage return; control files must use LF line endings, not CRLF")
        }
        let first = line.utf8.first
        if line.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
            // Policy 5.1: an empty line (or, tolerated, one of only blanks) ends a paragraph.
            try finishParagraph()
            return
        }
        if first == UInt8(ascii: "#"), syntax == .allowingComments {
            extend(start: start, next: next)
            return
        }
        if first == 0x20 || first == 0x09 {
            guard !fields.isEmpty else {
                throw error("the line is a continuation line (it starts with a space or tab) but no field precedes it")
            }
            fields[fields.count - 1].value += "\n" + line
            extend(start: start, next: next)
            return
        }
        guard let colon = line.firstIndex(of: ":") else {
            throw error("the line has no ':'; every line of a paragraph must be 'Field: value' or a continuation starting with a space")
        }
        let name = String(line[..<colon])
        do {
            try ControlField.validateName(name)
        } catch let failure as EngineError {
            throw error(failure.message)
        }
        guard names.insert(ControlParagraph.key(name)).inserted else {
            throw error("field '\(name)' appears twice in one paragraph (Debian Policy 5.1)")
        }
        closeField()
        // Leading blanks go now; trailing ones only at the end of the whole
        // value (`closeField`), as dpkg does: a folded first line may keep them.
        let value = line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
        fields.append(ControlField(unchecked: name, value: String(value)))
        extend(start: start, next: next)
    }

    private mutating func extend(start: String.Index, next: String.Index) {
        if paragraphStart == nil { paragraphStart = start }
        paragraphEnd = next
    }

    private mutating func closeField() {
        guard let last = fields.indices.last else { return }
        let value = fields[last].value
        if let end = value.lastIndex(where: { $0 != " " && $0 != "\t" }) {
            fields[last].value = String(value[...end])
        } else {
            fields[last].value = ""
        }
    }

    private mutating func finishParagraph() throws {
        closeField()
        defer {
            fields = []
            names = []
            paragraphStart = nil
            paragraphEnd = nil
        }
        guard !fields.isEmpty, let start = paragraphStart, let end = paragraphEnd else { return }
        var original = String(text[start..<end])
        if !original.hasSuffix("\n") { original += "\n" }
        paragraphs.append(ControlParagraph(parsed: fields, originalText: original))
    }

    private func error(_ reason: String) -> EngineError {
        EngineError(.invalidInput, "control file, line \(lineNumber): \(reason)")
    }
}

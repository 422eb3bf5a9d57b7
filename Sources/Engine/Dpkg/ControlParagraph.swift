/// One field of a control paragraph (Debian Policy 5.1).
public struct ControlField: Sendable, Hashable {
    /// The name as written; lookups ignore its case.
    public let name: String
    /// The value: the text of the first line without leading blanks, then
    /// every continuation line exactly as written (leading space included),
    /// each after a `"\n"`; blanks at the very end are dropped, as dpkg does.
    /// A multiline field whose first line is empty (such as `Conffiles`)
    /// therefore starts with `"\n"`.
    public internal(set) var value: String

    /// Validates the name (Policy 5.1: printable US-ASCII except space and
    /// colon, not starting with `#` or `-`) and the value (no blank lines, no
    /// continuation lines that do not start with a space or tab).
    public init(name: String, value: String) throws {
        try Self.validateName(name)
        try Self.validateValue(value, of: name)
        self.name = name
        self.value = value
    }

    /// For the parser, which has already checked both parts.
    init(unchecked name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// The first line of the value (for simple and folded fields, the part a
    /// program usually wants).
    public var firstLine: Substring {
        value.prefix(while: { $0 != "\n" })
    }

    /// The field as it appears in a control file, ending with a newline. A
    /// value starting with a newline gets no space after the colon, as dpkg writes it.
    public var serialized: String {
        if value.isEmpty || value.hasPrefix("\n") { return "\(name):\(value)\n" }
        return "\(name): \(value)\n"
    }

    static func validateName(_ name: String) throws {
        guard let first = name.utf8.first else {
            throw EngineError(.invalidInput, "a control field name is empty (Debian Policy 5.1)")
        }
        let valid = name.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ":") }
        guard valid, first != UInt8(ascii: "#"), first != UInt8(ascii: "-") else {
            throw EngineError(
                .invalidInput,
                "'\(name)' is not a valid control field name: use printable ASCII without spaces or ':', not starting with '#' or '-' (Debian Policy 5.1)")
        }
    }

    static func validateValue(_ value: String, of name: String) throws {
        let lines = value.split(separator: "\n", omittingEmptySubsequences: false)
        guard !value.utf8.contains(UInt8(ascii: "\r")) else {
            throw EngineError(.invalidInput, "the value of control field '\(name)' contains a carriage return")
        }
        for (index, line) in lines.enumerated() where index > 0 {
            guard let first = line.first, first == " " || first == "\t",
                  line.contains(where: { $0 != " " && $0 != "\t" })
            else {
                throw EngineError(
                    .invalidInput,
                    "line \(index + 1) of the value of control field '\(name)' must start with a space or tab and not be blank (Debian Policy 5.1)")
            }
        }
    }
}

/// An ordered set of fields (Debian Policy 5.1), as found in dpkg's status
/// file, a `Packages` index, a `Release` file or a deb822 `.sources` file.
/// Field lookup ignores case; order is kept. A parsed paragraph remembers its
/// text, so serializing it without changes reproduces the input byte for byte.
public struct ControlParagraph: Sendable, Hashable {
    public private(set) var fields: [ControlField]
    /// The text the paragraph was parsed from; nil once a field changes, since
    /// the text no longer describes the paragraph. A slice of the parsed file,
    /// so keeping it costs no copy.
    private(set) var originalText: Substring?

    public init(_ fields: [ControlField] = []) throws {
        var seen = Set<String>()
        for field in fields where !seen.insert(Self.key(field.name)).inserted {
            throw EngineError(.invalidInput, "control field '\(field.name)' appears twice in one paragraph (Debian Policy 5.1)")
        }
        self.fields = fields
        self.originalText = nil
    }

    init(parsed fields: [ControlField], originalText: Substring) {
        self.fields = fields
        self.originalText = originalText
    }

    /// The value of the field named `name` (any case), or nil.
    public subscript(name: String) -> String? {
        index(of: name).map { fields[$0].value }
    }

    public func contains(_ name: String) -> Bool { index(of: name) != nil }

    /// Sets a field: replaces the value in place when the field exists (keeping
    /// its position and spelling), appends it otherwise.
    public mutating func set(_ name: String, to value: String) throws {
        let field = try ControlField(name: name, value: value)
        if let existing = index(of: name) {
            guard fields[existing].value != value else { return }
            fields[existing].value = value
        } else {
            fields.append(field)
        }
        originalText = nil
    }

    /// Removes the field named `name`, if present.
    public mutating func remove(_ name: String) {
        guard let existing = index(of: name) else { return }
        fields.remove(at: existing)
        originalText = nil
    }

    /// The paragraph as text, each field on its own line(s), ending with a
    /// newline and without the blank separator line.
    public var serialized: String {
        if let originalText {
            return originalText.hasSuffix("\n") ? String(originalText) : String(originalText) + "\n"
        }
        return fields.map(\.serialized).joined()
    }

    private func index(of name: String) -> Int? {
        fields.firstIndex { Self.namesMatch($0.name, name) }
    }

    /// The case-folded name, for sets of names.
    static func key(_ name: String) -> String { name.lowercased() }

    /// Field names are ASCII (Policy 5.1), so ASCII case folding is exact;
    /// compared byte by byte, since lookups run for every field of every
    /// paragraph of large indexes.
    static func namesMatch(_ lhs: String, _ rhs: String) -> Bool {
        if lhs == rhs { return true }
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        func fold(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }
        return zip(lhs.utf8, rhs.utf8).allSatisfy { fold($0) == fold($1) }
    }

    public static func == (lhs: ControlParagraph, rhs: ControlParagraph) -> Bool {
        lhs.fields == rhs.fields
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(fields)
    }
}

extension AptSource {
    /// Parses the one-line format of `/etc/apt/sources.list` and `*.list`
    /// (sources.list(5), ONE-LINE-STYLE FORMAT):
    /// `deb [ opt=val ... ] uri suite [component ...]`. `deb-src` lines are
    /// skipped; `#` starts a comment. Throws `EngineError.invalidInput` naming
    /// the line for anything else.
    public static func parseOneLine(_ text: String) throws -> [AptSource] {
        var sources: [AptSource] = []
        for (offset, rawLine) in text.textLines.enumerated() {
            let line = rawLine.prefix(while: { $0 != "#" })
            do {
                if let source = try parseOneLineEntry(line) { sources.append(source) }
            } catch let error as EngineError {
                throw EngineError(error.code, "sources.list line \(offset + 1): \(error.message)")
            }
        }
        return sources
    }

    private static func parseOneLineEntry(_ line: Substring) throws -> AptSource? {
        var rest = line.drop(while: \.isWhitespace)
        guard !rest.isEmpty else { return nil }
        let type = rest.prefix(while: { !$0.isWhitespace && $0 != "[" })
        rest = rest[type.endIndex...].drop(while: \.isWhitespace)
        guard type == "deb" || type == "deb-src" else {
            throw EngineError(.invalidInput, "'\(type)' is not a source type; use 'deb' or 'deb-src'")
        }
        var options: [(String, String)] = []
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else {
                throw EngineError(.invalidInput, "the option list '[' is not closed with ']'")
            }
            for word in rest[rest.index(after: rest.startIndex)..<close].split(whereSeparator: \.isWhitespace) {
                guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
                    throw EngineError(.invalidInput, "option '\(word)' is not 'name=value'")
                }
                options.append((String(word[..<equals]).lowercased(), String(word[word.index(after: equals)...])))
            }
            rest = rest[rest.index(after: close)...]
        }
        let words = rest.split(whereSeparator: \.isWhitespace).map(String.init)
        guard words.count >= 2 else {
            throw EngineError(.invalidInput, "a source needs at least a URI and a suite")
        }
        guard type == "deb" else { return nil }
        var settings = SourceSettings()
        for (name, value) in options {
            try settings.apply(name: name, values: value.split(separator: ",").map(String.init), raw: value)
        }
        return try AptSource(
            uri: words[0], suite: words[1], components: Array(words.dropFirst(2)),
            architectures: settings.architectures, signedBy: settings.signedBy,
            trusted: settings.trusted, options: settings.options)
    }

    /// Parses a deb822 `.sources` file (sources.list(5), DEB822-STYLE FORMAT):
    /// one stanza per repository with `Types`, `URIs`, `Suites`, `Components`
    /// and options; `#` comment lines allowed. Stanzas with `Enabled: no` or
    /// without the `deb` type are skipped.
    public static func parseDeb822(_ text: String) throws -> [AptSource] {
        var sources: [AptSource] = []
        let stanzas = try ControlFile.parse(text, syntax: .allowingComments)
        for (offset, stanza) in stanzas.enumerated() {
            do {
                sources += try parseStanza(stanza)
            } catch let error as EngineError {
                throw EngineError(error.code, "sources stanza \(offset + 1): \(error.message)")
            }
        }
        return sources
    }

    private static func parseStanza(_ stanza: ControlParagraph) throws -> [AptSource] {
        func words(_ name: String) -> [String] {
            (stanza[name] ?? "").split(whereSeparator: { $0.isWhitespace }).map(String.init)
        }
        if let enabled = stanza["Enabled"], try !parseBoolean(enabled, option: "Enabled") { return [] }
        guard words("Types").contains("deb") else { return [] }
        let uris = words("URIs"), suites = words("Suites")
        guard !uris.isEmpty, !suites.isEmpty else {
            throw EngineError(.invalidInput, "a stanza needs URIs and Suites fields")
        }
        var settings = SourceSettings()
        for field in stanza.fields {
            let name = ControlParagraph.key(field.name)
            guard !["types", "uris", "suites", "components", "enabled"].contains(name) else { continue }
            let option = SourceSettings.oneLineName[name] ?? name
            if option == "signed-by", field.value.contains("-----BEGIN PGP") {
                settings.signedBy = .armoredKey(unfoldKeyBlock(field.value))
                continue
            }
            let values = field.value.split(whereSeparator: { $0.isWhitespace || $0 == "," }).map(String.init)
            try settings.apply(name: option, values: values, raw: field.value)
        }
        var result: [AptSource] = []
        for uri in uris {
            for suite in suites {
                result.append(try AptSource(
                    uri: uri, suite: suite, components: suite.hasSuffix("/") ? [] : words("Components"),
                    architectures: settings.architectures, signedBy: settings.signedBy,
                    trusted: settings.trusted, options: settings.options))
            }
        }
        return result
    }

    /// A multiline field holds the key as continuation lines; Policy 5.1
    /// folding puts one space before each line and writes an empty line as " .".
    static func unfoldKeyBlock(_ value: String) -> String {
        var lines: [Substring] = []
        for line in value.split(separator: "\n", omittingEmptySubsequences: false) {
            let content = line.first == " " || line.first == "\t" ? line.dropFirst() : line
            lines.append(content == "." ? "" : content)
        }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        return lines.joined(separator: "\n") + "\n"
    }

    static func parseBoolean(_ value: String, option: String) throws -> Bool {
        switch value.lowercased() {
        case "yes", "true", "1": return true
        case "no", "false", "0": return false
        default:
            throw EngineError(.invalidInput, "option \(option) must be yes or no, not '\(value)'")
        }
    }
}

/// Options shared by both formats, under their one-line names.
private struct SourceSettings {
    /// deb822 field names (lower-cased) whose one-line option name differs.
    static let oneLineName = [
        "architectures": "arch", "languages": "lang", "targets": "target",
    ]

    var architectures: [String] = []
    var signedBy: AptSource.SignedBy?
    var trusted: Bool?
    var options: [String: String] = [:]

    mutating func apply(name: String, values: [String], raw: String) throws {
        switch name {
        case "arch":
            architectures = values
        case "signed-by":
            signedBy = .keys(values)
        case "trusted":
            trusted = try AptSource.parseBoolean(raw.trimmingDpkgSpace(), option: "Trusted")
        default:
            options[name] = raw
        }
    }
}

/// Agent labels, spelled as Kubernetes labels: a key is an optional DNS
/// subdomain prefix and '/', then a name of at most 63 characters
/// (alphanumerics, '-', '_', '.', starting and ending alphanumeric); a value
/// is such a name, or empty.
public enum LabelSyntax {
    public static func isKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last else { return false }
        if parts.count == 2 {
            let prefix = parts[0]
            guard !prefix.isEmpty, prefix.count <= 253,
                  prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else { return false }
        }
        return isName(String(name), allowEmpty: false)
    }

    public static func isValue(_ value: String) -> Bool { isName(value, allowEmpty: true) }

    /// Parses `key=value`, as `copa-agent serve --label` takes it.
    public static func parse(_ text: String) -> (key: String, value: String)? {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let key = String(text[..<equals]), value = String(text[text.index(after: equals)...])
        return isKey(key) && isValue(value) ? (key, value) : nil
    }

    private static func isName(_ name: String, allowEmpty: Bool) -> Bool {
        if name.isEmpty { return allowEmpty }
        guard name.count <= 63, let first = name.first, let last = name.last,
              first.isASCII, last.isASCII, first.isLetter || first.isNumber, last.isLetter || last.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }
}

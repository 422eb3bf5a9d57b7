extension ReleaseFile {
    static let signedMessageHeader = "-----BEGIN PGP SIGNED MESSAGE-----"
    static let signatureHeader = "-----BEGIN PGP SIGNATURE-----"

    /// The signed text of a clear-signed message (RFC 4880 section 7): the
    /// lines after the armor headers' blank line and before the signature
    /// block, with dash-escaping undone (7.1: a line starting with `-` is
    /// written as `- -...`). The result ends with a newline; the line break
    /// before the signature belongs to the armor, not the text.
    public static func signedText(ofClearSigned text: String) throws -> String {
        var lines = text.textLines[...]
        guard let header = lines.firstIndex(where: { $0 == signedMessageHeader }) else {
            throw EngineError(.invalidInput, "not a clear-signed message: no '\(signedMessageHeader)' line (RFC 4880 7)")
        }
        lines = lines[(header + 1)...]
        // Armor headers ("Hash: SHA512") run to the first empty line.
        guard let blank = lines.firstIndex(where: { $0.isEmpty }) else {
            throw EngineError(.invalidInput, "the clear-signed message has no empty line after its armor headers (RFC 4880 7)")
        }
        lines = lines[(blank + 1)...]
        guard let signature = lines.firstIndex(where: { $0 == signatureHeader }) else {
            throw EngineError(.invalidInput, "the clear-signed message has no '\(signatureHeader)' block (RFC 4880 7)")
        }
        var out = ""
        for line in lines[..<signature] {
            if line.hasPrefix("- ") {
                out += line.dropFirst(2)
            } else if line.hasPrefix("-") {
                throw EngineError(.invalidInput, "the clear-signed text has a line starting with '-' that is not dash-escaped (RFC 4880 7.1)")
            } else {
                out += line
            }
            out += "\n"
        }
        return out
    }
}

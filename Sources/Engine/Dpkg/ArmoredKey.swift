import Foundation

/// OpenPGP ASCII armor (RFC 4880 section 6), so `.asc` keyrings and inline
/// `Signed-By` keys can be handed to gpgv, which wants binary keyrings.
public enum ArmoredKey {
    /// Decodes every armored block in `text` and concatenates their packets
    /// (a binary keyring is a plain sequence of key packets). Checks the
    /// optional CRC24 line of each block (RFC 4880 6.1). Throws
    /// `EngineError.invalidInput` when there is no block, a block is not
    /// closed, its body is not base64, or its checksum does not match.
    public static func dearmor(_ text: String) throws -> [UInt8] {
        var output: [UInt8] = []
        var lines = text.textLines[...]
        var blocks = 0
        while let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN PGP ") && $0.hasSuffix("-----") }) {
            let label = lines[begin].dropFirst("-----BEGIN ".count).dropLast(5)
            lines = lines[(begin + 1)...]
            guard let end = lines.firstIndex(where: { $0 == "-----END \(label)-----" }) else {
                throw EngineError(.invalidInput, "the armored block '\(label)' has no '-----END \(label)-----' line (RFC 4880 6.2)")
            }
            output += try decodeBlock(lines[..<end], label: String(label))
            lines = lines[(end + 1)...]
            blocks += 1
        }
        guard blocks > 0 else {
            throw EngineError(.invalidInput, "no '-----BEGIN PGP ...-----' armor line found; is this a binary keyring or not a key? (RFC 4880 6.2)")
        }
        return output
    }

    /// Decodes the lines between the armor header and tail lines.
    private static func decodeBlock(_ lines: ArraySlice<Substring>, label: String) throws -> [UInt8] {
        var body = lines
        // Armor headers ("Key: value") end at the first blank line (6.2); some
        // writers omit both, so only skip them when they are there.
        if let blank = body.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }),
           body[body.startIndex..<blank].allSatisfy({ $0.contains(": ") }) {
            body = body[(blank + 1)...]
        }
        var base64 = ""
        var checksum: Substring?
        for line in body {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("=") && trimmed.count == 5 {
                checksum = Substring(trimmed.dropFirst())
                continue
            }
            base64 += trimmed
        }
        guard let data = Data(base64Encoded: base64) else {
            throw EngineError(.invalidInput, "the armored block '\(label)' does not hold valid base64 (RFC 4880 6.3)")
        }
        let bytes = [UInt8](data)
        if let checksum {
            guard let expected = Data(base64Encoded: String(checksum)), expected.count == 3 else {
                throw EngineError(.invalidInput, "the armor checksum line '=\(checksum)' of '\(label)' is not 4 base64 characters (RFC 4880 6.1)")
            }
            let actual = crc24(bytes)
            let wanted = UInt32(expected[0]) << 16 | UInt32(expected[1]) << 8 | UInt32(expected[2])
            guard actual == wanted else {
                throw EngineError(.invalidInput, "the armored block '\(label)' fails its CRC24 checksum; the key is damaged (RFC 4880 6.1)")
            }
        }
        return bytes
    }

    /// CRC-24 of RFC 4880 6.1 (init 0xB704CE, generator 0x1864CFB).
    static func crc24(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xB704CE
        for byte in bytes {
            crc ^= UInt32(byte) << 16
            for _ in 0..<8 {
                crc <<= 1
                if crc & 0x100_0000 != 0 { crc ^= 0x186_4CFB }
            }
        }
        return crc & 0xFF_FFFF
    }
}

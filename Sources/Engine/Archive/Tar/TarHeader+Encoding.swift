/// Encodes a `TarHeader` as POSIX pax: one ustar block, preceded by a PAX
/// 'x' header when a value does not fit a ustar field or `paxRecords` is set.
///
/// The bytes depend only on the header, so equal inputs give equal archives.
struct TarHeaderEncoder {
    /// Largest values of the octal fields: 7 digits for mode/uid/gid/dev, 11 for size/mtime.
    static let maxOctal7: Int64 = 0o7777777
    static let maxOctal11: Int64 = 0o77777777777

    let header: TarHeader

    /// The header blocks for the entry (512 or more bytes).
    func encode() throws -> [UInt8] {
        try validate()
        var pax = header.paxRecords
        var block = [UInt8](repeating: 0, count: TarField.blockSize)
        let path = header.type == .directory && !header.path.hasSuffix("/") ? header.path + "/" : header.path

        let (name, prefix) = Self.split(path) ?? {
            pax["path"] = path
            return (Array(path.utf8.prefix(TarField.name.count)), [])
        }()
        put(name, at: TarField.name, in: &block)
        put(prefix, at: TarField.prefix, in: &block)
        putText(header.linkName, key: "linkpath", at: TarField.linkName, pax: &pax, in: &block)
        putText(header.uname, key: "uname", at: TarField.uname, pax: &pax, in: &block)
        putText(header.gname, key: "gname", at: TarField.gname, pax: &pax, in: &block)

        putNumber(Int64(header.mode), at: TarField.mode, in: &block)
        putNumber(Int64(header.uid), key: "uid", at: TarField.uid, pax: &pax, in: &block)
        putNumber(Int64(header.gid), key: "gid", at: TarField.gid, pax: &pax, in: &block)
        putNumber(header.size, key: "size", at: TarField.size, pax: &pax, in: &block)
        putNumber(header.mtime, key: "mtime", at: TarField.mtime, pax: &pax, in: &block)
        // PAX has no device keywords; GNU tar and Go fall back to base-256 too.
        putNumber(Int64(header.devMajor), at: TarField.devMajor, in: &block)
        putNumber(Int64(header.devMinor), at: TarField.devMinor, in: &block)
        block[TarField.typeflag] = Self.typeflag(header.type)
        Self.finishBlock(&block)

        guard !pax.isEmpty else { return block }
        return try paxHeader(pax, for: path) + block
    }

    private func validate() throws {
        let name = header.path
        func fail(_ reason: String) -> EngineError {
            EngineError(.archive, "cannot write tar entry \"\(name)\": \(reason)")
        }
        guard !name.isEmpty else { throw fail("the name is empty") }
        for text in [header.path, header.linkName, header.uname, header.gname] where text.utf8.contains(0) {
            throw fail("a name contains a NUL byte")
        }
        guard header.mode <= 0o7777 else { throw fail("mode \(String(header.mode, radix: 8)) has bits beyond 07777") }
        guard header.uid >= 0, header.gid >= 0, header.devMajor >= 0, header.devMinor >= 0 else {
            throw fail("uid, gid and device numbers must not be negative")
        }
        guard header.size >= 0 else { throw fail("the size is negative") }
        guard header.type.hasContent || header.size == 0 else { throw fail("a \(header.type) entry cannot have content") }
        if header.type == .symlink || header.type == .hardlink, header.linkName.isEmpty {
            throw fail("a link needs a target")
        }
        for key in header.paxRecords.keys where key.isEmpty || key.utf8.contains(UInt8(ascii: "=")) || key.utf8.contains(0) {
            throw fail("PAX keyword \"\(key)\" is not valid")
        }
    }

    /// Splits a path into ustar name and prefix, or nil when it does not fit
    /// (or is not ASCII: PAX defines its path as UTF-8, ustar fields have no charset).
    static func split(_ path: String) -> (name: [UInt8], prefix: [UInt8])? {
        let bytes = Array(path.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        if bytes.count <= TarField.name.count { return (bytes, []) }
        // The split must be at a slash, the name part non-empty; try the longest prefix first.
        let lastIndex = min(TarField.prefix.count, bytes.count - 1)
        for index in stride(from: lastIndex, through: 1, by: -1) where bytes[index] == UInt8(ascii: "/") {
            let name = Array(bytes[(index + 1)...])
            // A directory's trailing slash is no place to split.
            if name.isEmpty { continue }
            guard name.count <= TarField.name.count else { return nil }
            return (name, Array(bytes[..<index]))
        }
        return nil
    }

    private func put(_ bytes: [UInt8], at range: Range<Int>, in block: inout [UInt8]) {
        block.replaceSubrange(range.lowerBound..<(range.lowerBound + min(bytes.count, range.count)), with: bytes.prefix(range.count))
    }

    private func putText(_ text: String, key: String, at range: Range<Int>, pax: inout [String: String], in block: inout [UInt8]) {
        let bytes = Array(text.utf8)
        if bytes.count > range.count || !bytes.allSatisfy({ $0 < 0x80 }) { pax[key] = text }
        put(bytes, at: range, in: &block)
    }

    private func putNumber(_ value: Int64, key: String? = nil, at range: Range<Int>, pax: inout [String: String], in block: inout [UInt8]) {
        let limit = range.count == 12 ? Self.maxOctal11 : Self.maxOctal7
        if let key, !(0...limit).contains(value) { pax[key] = String(value) }
        putNumber(value, at: range, in: &block)
    }

    /// Zero-padded octal with a NUL terminator (as GNU tar writes it), or
    /// GNU base-256 when the value does not fit.
    private func putNumber(_ value: Int64, at range: Range<Int>, in block: inout [UInt8]) {
        let digits = range.count - 1
        let octal = String(value, radix: 8)
        if value >= 0, octal.utf8.count <= digits {
            let text = String(repeating: "0", count: digits - octal.utf8.count) + octal
            put(Array(text.utf8), at: range, in: &block)
            return
        }
        var field = [UInt8](repeating: value < 0 ? 0xff : 0, count: range.count)
        var rest = value
        for index in stride(from: range.count - 1, to: 0, by: -1) {
            field[index] = UInt8(truncatingIfNeeded: rest)
            rest >>= 8
        }
        field[0] = value < 0 ? 0xff : 0x80
        put(field, at: range, in: &block)
    }

    /// The 'x' header carrying `records` for the entry at `path`. Its own name
    /// only matters to readers without PAX support, which extract it as a
    /// file; it is derived from the entry's as Go's archive/tar does.
    private func paxHeader(_ records: [String: String], for path: String) throws -> [UInt8] {
        let data = PaxRecords.encode(records)
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        let slash = trimmed.lastIndex(of: "/")
        let directory = slash.map { String(trimmed[...$0]) } ?? ""
        let base = slash.map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed
        let name = Array((directory + "PaxHeaders.0/" + base).utf8.filter { $0 < 0x80 && $0 != 0 }.prefix(TarField.name.count))
        var block = [UInt8](repeating: 0, count: TarField.blockSize)
        put(name, at: TarField.name, in: &block)
        putNumber(0o644, at: TarField.mode, in: &block)
        putNumber(0, at: TarField.uid, in: &block)
        putNumber(0, at: TarField.gid, in: &block)
        putNumber(Int64(data.count), at: TarField.size, in: &block)
        putNumber(0, at: TarField.mtime, in: &block)
        block[TarField.typeflag] = UInt8(ascii: "x")
        Self.finishBlock(&block)
        return block + data + [UInt8](repeating: 0, count: TarField.padding(for: Int64(data.count)))
    }

    /// Magic, version, and checksum (6 octal digits, NUL, space, as GNU tar writes it).
    static func finishBlock(_ block: inout [UInt8]) {
        block.replaceSubrange(TarField.magic.lowerBound..<TarField.version.upperBound, with: TarField.posixMagic)
        block.replaceSubrange(TarField.checksum, with: repeatElement(UInt8(ascii: " "), count: TarField.checksum.count))
        let sum = block.reduce(0) { $0 + Int($1) }
        let octal = String(sum, radix: 8)
        let text = Array((String(repeating: "0", count: max(0, 6 - octal.utf8.count)) + octal).utf8) + [0, 0x20]
        block.replaceSubrange(TarField.checksum, with: text)
    }

    static func typeflag(_ type: TarHeader.EntryType) -> UInt8 {
        switch type {
        case .regular: UInt8(ascii: "0")
        case .hardlink: UInt8(ascii: "1")
        case .symlink: UInt8(ascii: "2")
        case .char: UInt8(ascii: "3")
        case .block: UInt8(ascii: "4")
        case .directory: UInt8(ascii: "5")
        case .fifo: UInt8(ascii: "6")
        }
    }
}

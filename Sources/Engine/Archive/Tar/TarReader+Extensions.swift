/// What GNU ('L', 'K') and PAX ('x') extension headers say about the entry
/// that follows them.
struct TarExtensions {
    var longName: [UInt8]?
    var longLinkName: [UInt8]?
    var pax: [String: String] = [:]

    /// PAX keywords mapped onto `TarHeader` fields; the rest stay in `paxRecords`.
    static let mappedKeys: Set<String> = ["path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime"]

    var isEmpty: Bool { longName == nil && longLinkName == nil && pax.isEmpty }

    mutating func merge(paxRecords records: [(key: String, value: String)]) throws {
        for (key, value) in records {
            // Sparse files store a map in the data; reading them as plain content would be wrong.
            if key.hasPrefix("GNU.sparse.") {
                throw EngineError(.archive, "tar archive holds a GNU sparse file, which is not supported")
            }
            // POSIX pax: a record with an empty value removes the keyword's effect.
            if value.isEmpty { pax[key] = nil } else { pax[key] = value }
        }
    }

    func apply(to raw: RawTarHeader) throws -> TarHeader {
        let path = pax["path"] ?? String(decoding: longName ?? raw.name, as: UTF8.self)
        guard !path.isEmpty else { throw EngineError(.archive, "tar archive has an entry with an empty name") }
        var type = try Self.entryType(raw.typeflag, path: path)
        // Pre-POSIX archives mark directories by a trailing slash on a regular entry.
        if type == .regular, raw.typeflag == 0 || raw.typeflag == UInt8(ascii: "0"), path.hasSuffix("/") {
            type = .directory
        }
        var header = TarHeader(path: path, type: type, mode: UInt32(truncatingIfNeeded: raw.mode & 0o7777))
        header.linkName = pax["linkpath"] ?? String(decoding: longLinkName ?? raw.linkName, as: UTF8.self)
        header.uid = Int(try integer("uid", default: raw.uid, path: path))
        header.gid = Int(try integer("gid", default: raw.gid, path: path))
        header.uname = pax["uname"] ?? raw.uname
        header.gname = pax["gname"] ?? raw.gname
        header.mtime = try integer("mtime", default: raw.mtime, path: path)
        header.devMajor = Int(raw.devMajor)
        header.devMinor = Int(raw.devMinor)
        let size = try integer("size", default: raw.size, path: path)
        guard (0...TarReader.maxEntrySize).contains(size) else {
            throw EngineError(.archive, "tar entry \"\(path)\" claims a size of \(size) bytes; the archive is corrupt or hostile")
        }
        // POSIX: types other than regular files have no data blocks.
        header.size = type.hasContent ? size : 0
        header.paxRecords = pax.filter { !Self.mappedKeys.contains($0.key) }
        return header
    }

    /// A numeric PAX record when present, else the header field. PAX times may
    /// have a fraction ("1700000000.123456789"); whole seconds are kept.
    private func integer(_ key: String, default value: Int64, path: String) throws -> Int64 {
        guard let text = pax[key] else { return value }
        let whole = key == "mtime" ? String(text.prefix { $0 != "." }) : text
        guard let number = Int64(whole), whole.first != "+", key == "mtime" || number >= 0 else {
            throw EngineError(.archive, "tar entry \"\(path)\" has an invalid PAX \(key) record \"\(text)\"")
        }
        return number
    }

    private static func entryType(_ flag: UInt8, path: String) throws -> TarHeader.EntryType {
        switch flag {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): return .regular
        case UInt8(ascii: "1"): return .hardlink
        case UInt8(ascii: "2"): return .symlink
        case UInt8(ascii: "3"): return .char
        case UInt8(ascii: "4"): return .block
        case UInt8(ascii: "5"): return .directory
        case UInt8(ascii: "6"): return .fifo
        default:
            let shown = (0x21...0x7e).contains(flag) ? "'\(Character(Unicode.Scalar(flag)))'" : "byte \(flag)"
            throw EngineError(.archive, "tar entry \"\(path)\" has unsupported type \(shown)")
        }
    }
}

/// PAX extended header records: "<length> <keyword>=<value>\n", where the
/// decimal length counts the whole record (POSIX pax, "pax Extended Header").
enum PaxRecords {
    static func parse(_ data: [UInt8]) throws -> [(key: String, value: String)] {
        var records: [(key: String, value: String)] = []
        var start = 0
        while start < data.count {
            // Writers that pad the header data with NULs (some do) end here.
            if data[start] == 0, data[start...].allSatisfy({ $0 == 0 }) { break }
            let (length, digitsEnd) = try recordLength(data, from: start)
            let end = start + length
            guard data[end - 1] == UInt8(ascii: "\n") else { throw malformed("a record does not end in a newline") }
            let body = data[(digitsEnd + 1)..<(end - 1)]
            guard let equals = body.firstIndex(of: UInt8(ascii: "=")), equals > body.startIndex else {
                throw malformed("a record has no keyword")
            }
            let key = String(decoding: body[..<equals], as: UTF8.self)
            let value = String(decoding: body[(equals + 1)...], as: UTF8.self)
            records.append((key, value))
            start = end
        }
        return records
    }

    /// The record length at `start` and the index of the space after it,
    /// checked against the bytes actually present.
    private static func recordLength(_ data: [UInt8], from start: Int) throws -> (Int, Int) {
        var index = start
        var length = 0
        while index < data.count, (0x30...0x39).contains(data[index]) {
            guard index - start < 9 else { throw malformed("a record length is absurd") }
            length = length * 10 + Int(data[index] - 0x30)
            index += 1
        }
        guard index > start, index < data.count, data[index] == UInt8(ascii: " ") else {
            throw malformed("a record does not start with a length and a space")
        }
        // The shortest record is "<digits> k=\n".
        guard length >= index - start + 4, length <= data.count - start else {
            throw malformed("a record claims \(length) bytes where \(data.count - start) remain")
        }
        return (length, index)
    }

    /// Records sorted by keyword, so the bytes depend only on the contents.
    static func encode(_ records: [String: String]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, value) in records.sorted(by: { $0.key < $1.key }) {
            let body = Array(" \(key)=\(value)\n".utf8)
            // The length counts its own digits: grow until it is consistent.
            var length = body.count + 1
            while String(length).utf8.count + body.count != length { length += 1 }
            out += Array(String(length).utf8) + body
        }
        return out
    }

    private static func malformed(_ reason: String) -> EngineError {
        EngineError(.archive, "tar PAX extended header is malformed: \(reason)")
    }
}

/// `/etc/ld.so.cache` in glibc's "new" format (`glibc-ld.so.cache1.1`, the
/// only one glibc ≥ 2.32's ldconfig writes by default), little-endian, read
/// and written as glibc 2.36's elf/cache.c does: the 48-byte header, one
/// 24-byte entry per library sorted for the loader's binary search, the
/// string table with shared suffixes, and the extension directory holding the
/// generator string.
struct LDSOCache: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var flags: Int32
        /// The soname the loader looks up.
        var key: String
        /// The path it maps to (`<directory>/<soname>`).
        var value: String
        var hwcap: UInt64 = 0
    }

    var entries: [Entry]
    /// The `ldconfig (…) release version …` string of the ldconfig that wrote it.
    var generator: String
    /// The file had a glibc-hwcaps section (libraries in `glibc-hwcaps/`
    /// subdirectories), which `serialized()` does not write.
    var hasHWCapsSection = false

    static let magic = Array("glibc-ld.so.cache1.1".utf8)
    static let headerSize = 48
    static let entrySize = 24
    static let extensionMagic: UInt32 = 0xEAA4_2174
    static let endianLittle: UInt8 = 2

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    init(entries: [Entry], generator: String) {
        self.entries = entries
        self.generator = generator
    }

    init(parsing bytes: [UInt8]) throws {
        guard bytes.count >= Self.headerSize, Array(bytes[0..<20]) == Self.magic else {
            throw Malformed(description: "not a glibc-ld.so.cache1.1 file (the old ld.so-1.7.0 format is not read)")
        }
        guard bytes[28] == Self.endianLittle else { throw Malformed(description: "not a little-endian cache (flags \(bytes[28]))") }
        let count = Int(Self.read32(bytes, 20))
        let extensionOffset = Int(Self.read32(bytes, 32))
        guard count <= (bytes.count - Self.headerSize) / Self.entrySize else {
            throw Malformed(description: "\(count) entries do not fit in \(bytes.count) bytes")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            let at = Self.headerSize + index * Self.entrySize
            guard let key = Self.string(bytes, Int(Self.read32(bytes, at + 4))),
                  let value = Self.string(bytes, Int(Self.read32(bytes, at + 8))) else {
                throw Malformed(description: "entry \(index) points outside the string table")
            }
            let hwcap = UInt64(Self.read32(bytes, at + 16)) | UInt64(Self.read32(bytes, at + 20)) << 32
            entries.append(Entry(flags: Int32(bitPattern: Self.read32(bytes, at)), key: key, value: value, hwcap: hwcap))
        }
        self.entries = entries
        generator = ""
        guard extensionOffset > 0, extensionOffset + 8 <= bytes.count,
              Self.read32(bytes, extensionOffset) == Self.extensionMagic else { return }
        let sections = Int(Self.read32(bytes, extensionOffset + 4))
        for index in 0..<sections {
            let at = extensionOffset + 8 + index * 16
            guard at + 16 <= bytes.count else { throw Malformed(description: "extension section \(index) is truncated") }
            let tag = Self.read32(bytes, at)
            let offset = Int(Self.read32(bytes, at + 8))
            let size = Int(Self.read32(bytes, at + 12))
            guard offset <= bytes.count, size <= bytes.count - offset else {
                throw Malformed(description: "extension section \(index) points outside the file")
            }
            switch tag {
            case 0: generator = String(decoding: bytes[offset..<(offset + size)], as: UTF8.self)
            case 1: hasHWCapsSection = true
            default: break
            }
        }
    }

    /// The file ldconfig writes for these entries, in this order.
    func serialized() -> [UInt8] {
        let table = Self.stringTable(entries.flatMap { [$0.key, $0.value] })
        let stringsOffset = Self.headerSize + entries.count * Self.entrySize
        var extensionOffset = stringsOffset + table.bytes.count
        extensionOffset = (extensionOffset + 3) & ~3
        var out: [UInt8] = []
        out.reserveCapacity(extensionOffset + 24 + generator.utf8.count)
        out += Self.magic
        Self.append32(&out, UInt32(entries.count))
        Self.append32(&out, UInt32(table.bytes.count))
        out += [Self.endianLittle, 0, 0, 0]
        Self.append32(&out, UInt32(extensionOffset))
        out += [UInt8](repeating: 0, count: 12)
        for entry in entries {
            Self.append32(&out, UInt32(bitPattern: entry.flags))
            Self.append32(&out, UInt32(stringsOffset + table.offsets[entry.key]!))
            Self.append32(&out, UInt32(stringsOffset + table.offsets[entry.value]!))
            Self.append32(&out, 0)
            Self.append32(&out, UInt32(truncatingIfNeeded: entry.hwcap))
            Self.append32(&out, UInt32(truncatingIfNeeded: entry.hwcap >> 32))
        }
        out += table.bytes
        out += [UInt8](repeating: 0, count: extensionOffset - out.count)
        // The directory as write_extensions lays it out without a hwcaps
        // section: magic, count 1, the generator's section, the generator.
        Self.append32(&out, Self.extensionMagic)
        Self.append32(&out, 1)
        Self.append32(&out, 0)
        Self.append32(&out, 0)
        Self.append32(&out, UInt32(extensionOffset + 24))
        Self.append32(&out, UInt32(generator.utf8.count))
        out += Array(generator.utf8)
        return out
    }

    /// elf/stringtable.c's finalized table: the distinct strings sorted so
    /// that a string that ends another follows it (compared from the last
    /// byte backwards, greater first, longer first on a tie), each placed
    /// inside the previous one when it is its suffix, else after it with its
    /// NUL.
    static func stringTable(_ strings: [String]) -> (bytes: [UInt8], offsets: [String: Int]) {
        let distinct = Array(Set(strings)).map { ($0, Array($0.utf8)) }
        let sorted = distinct.sorted { left, right in
            let (l, r) = (left.1, right.1)
            for index in 1...max(1, min(l.count, r.count)) where index <= min(l.count, r.count) {
                let (lc, rc) = (l[l.count - index], r[r.count - index])
                if lc != rc { return lc > rc }
            }
            return l.count > r.count
        }
        var offsets: [String: Int] = [:]
        var bytes: [UInt8] = []
        var previous: (offset: Int, bytes: [UInt8])?
        for (string, utf8) in sorted {
            let offset: Int
            if let previous, previous.bytes.count >= utf8.count, previous.bytes.suffix(utf8.count).elementsEqual(utf8) {
                offset = previous.offset + previous.bytes.count - utf8.count
            } else {
                offset = bytes.count
                bytes += utf8
                bytes.append(0)
            }
            offsets[string] = offset
            previous = (offset, utf8)
        }
        return (bytes, offsets)
    }

    /// `_dl_cache_libcmp`: byte order, except that runs of digits compare as
    /// numbers and a digit sorts after any other byte.
    static func libraryOrder(_ lhs: String, _ rhs: String) -> Int {
        let p1 = Array(lhs.utf8), p2 = Array(rhs.utf8)
        var i = 0, j = 0
        func isDigit(_ bytes: [UInt8], _ at: Int) -> Bool { at < bytes.count && bytes[at] >= 0x30 && bytes[at] <= 0x39 }
        while i < p1.count {
            if isDigit(p1, i) {
                guard isDigit(p2, j) else { return 1 }
                var value1 = 0, value2 = 0
                while isDigit(p1, i) { value1 = value1 &* 10 &+ Int(p1[i] - 0x30); i += 1 }
                while isDigit(p2, j) { value2 = value2 &* 10 &+ Int(p2[j] - 0x30); j += 1 }
                if value1 != value2 { return value1 < value2 ? -1 : 1 }
            } else if isDigit(p2, j) {
                return -1
            } else if j >= p2.count || p1[i] != p2[j] {
                return Int(p1[i]) - Int(j < p2.count ? p2[j] : 0)
            } else {
                i += 1
                j += 1
            }
        }
        return j < p2.count ? -Int(p2[j]) : 0
    }

    /// elf/cache.c's `compare` for entries outside glibc-hwcaps
    /// subdirectories: sonames in descending `libraryOrder`, then higher
    /// flags first, then more hwcap bits, then the larger hwcap.
    static func precedes(_ e1: Entry, _ e2: Entry) -> Bool? {
        let order = libraryOrder(e2.key, e1.key)
        if order != 0 { return order < 0 }
        if e1.flags != e2.flags { return e1.flags > e2.flags }
        if e1.hwcap.nonzeroBitCount != e2.hwcap.nonzeroBitCount { return e1.hwcap.nonzeroBitCount > e2.hwcap.nonzeroBitCount }
        if e1.hwcap != e2.hwcap { return e1.hwcap > e2.hwcap }
        return nil
    }

    private static func string(_ bytes: [UInt8], _ offset: Int) -> String? {
        guard offset < bytes.count, let end = bytes[offset...].firstIndex(of: 0) else { return nil }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    private static func read32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    private static func append32(_ out: inout [UInt8], _ value: UInt32) {
        out += [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)]
    }
}

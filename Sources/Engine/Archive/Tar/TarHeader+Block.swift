/// Byte ranges of the ustar header block fields (POSIX pax, "ustar Header
/// Block"); GNU tar uses the same layout up to `devMinor`.
enum TarField {
    static let blockSize = 512
    static let name = 0..<100
    static let mode = 100..<108
    static let uid = 108..<116
    static let gid = 116..<124
    static let size = 124..<136
    static let mtime = 136..<148
    static let checksum = 148..<156
    static let typeflag = 156
    static let linkName = 157..<257
    static let magic = 257..<263
    static let version = 263..<265
    static let uname = 265..<297
    static let gname = 297..<329
    static let devMajor = 329..<337
    static let devMinor = 337..<345
    static let prefix = 345..<500

    /// "ustar\0" then version "00": POSIX ustar/pax. GNU tar's own format
    /// writes "ustar  \0" and uses the prefix area for other data.
    static let posixMagic: [UInt8] = Array("ustar\u{0}00".utf8)
    static let gnuMagic: [UInt8] = Array("ustar  \u{0}".utf8)

    /// Bytes of padding after `size` bytes of content, up to the next block.
    static func padding(for size: Int64) -> Int {
        Int((Int64(blockSize) - size % Int64(blockSize)) % Int64(blockSize))
    }
}

/// A header block as stored, before GNU and PAX extensions are applied.
struct RawTarHeader {
    let typeflag: UInt8
    /// The name, joined with the ustar prefix field when the block has one.
    let name: [UInt8]
    let linkName: [UInt8]
    let mode: Int64
    let uid: Int64
    let gid: Int64
    let size: Int64
    let mtime: Int64
    let devMajor: Int64
    let devMinor: Int64
    let uname: String
    let gname: String

    /// Parses one 512-byte block, verifying its checksum first.
    init(block: [UInt8]) throws {
        precondition(block.count == TarField.blockSize, "tar header blocks are 512 bytes")
        var name = RawTarHeader.string(block[TarField.name])
        let shown = String(decoding: name, as: UTF8.self)
        try RawTarHeader.verifyChecksum(block, entry: shown)
        if Array(block[TarField.magic.lowerBound..<TarField.version.upperBound]) == TarField.posixMagic {
            let prefix = RawTarHeader.string(block[TarField.prefix])
            if !prefix.isEmpty { name = prefix + [UInt8(ascii: "/")] + name }
        }
        func number(_ range: Range<Int>, _ field: String) throws -> Int64 {
            try TarNumber.parse(block[range], field: field, entry: shown)
        }
        self.name = name
        typeflag = block[TarField.typeflag]
        linkName = RawTarHeader.string(block[TarField.linkName])
        mode = try number(TarField.mode, "mode")
        uid = try number(TarField.uid, "uid")
        gid = try number(TarField.gid, "gid")
        size = try number(TarField.size, "size")
        mtime = try number(TarField.mtime, "mtime")
        devMajor = try number(TarField.devMajor, "devmajor")
        devMinor = try number(TarField.devMinor, "devminor")
        uname = String(decoding: RawTarHeader.string(block[TarField.uname]), as: UTF8.self)
        gname = String(decoding: RawTarHeader.string(block[TarField.gname]), as: UTF8.self)
    }

    /// A field's bytes up to the first NUL.
    static func string(_ field: ArraySlice<UInt8>) -> [UInt8] {
        Array(field.prefix { $0 != 0 })
    }

    /// The checksum is the sum of the header bytes with the checksum field
    /// taken as spaces. POSIX sums unsigned bytes; some historic writers
    /// summed signed chars, which GNU tar and Go also accept.
    private static func verifyChecksum(_ block: [UInt8], entry: String) throws {
        let stored = try TarNumber.parse(block[TarField.checksum], field: "checksum", entry: entry)
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in block.enumerated() {
            let value = TarField.checksum.contains(index) ? 0x20 : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        guard stored == unsigned || stored == signed else {
            throw EngineError(.archive, "tar header of \"\(entry)\" has a bad checksum (stored \(stored), computed \(unsigned)); the archive is corrupt")
        }
    }
}

/// Numeric header fields: octal text, or GNU base-256 for values that do
/// not fit (first byte 0x80 for positive, 0xff for negative numbers).
enum TarNumber {
    static func parse(_ field: ArraySlice<UInt8>, field name: String, entry: String) throws -> Int64 {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            guard let value = base256(field) else {
                throw EngineError(.archive, "tar header of \"\(entry)\" has a \(name) field out of range")
            }
            return value
        }
        guard let value = octal(field) else {
            throw EngineError(.archive, "tar header of \"\(entry)\" has a malformed \(name) field")
        }
        return value
    }

    /// Octal digits, optionally surrounded by spaces and NULs.
    private static func octal(_ field: ArraySlice<UInt8>) -> Int64? {
        var value: Int64 = 0
        var index = field.startIndex
        while index < field.endIndex, field[index] == 0x20 || field[index] == 0 { index += 1 }
        while index < field.endIndex, (0x30...0x37).contains(field[index]) {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 8)
            guard !overflow else { return nil }
            value = shifted + Int64(field[index] - 0x30)
            index += 1
        }
        // Anything after the digits must be terminators.
        return field[index...].allSatisfy { $0 == 0x20 || $0 == 0 } ? value : nil
    }

    /// Big-endian two's complement after the marker bit (GNU tar, Go archive/tar).
    private static func base256(_ field: ArraySlice<UInt8>) -> Int64? {
        guard let first = field.first else { return nil }
        let invert: UInt8 = first & 0x40 != 0 ? 0xff : 0
        var magnitude: UInt64 = 0
        for (index, byte) in field.enumerated() {
            var digit = byte ^ invert
            if index == 0 { digit &= 0x7f }
            guard magnitude >> 56 == 0 else { return nil }
            magnitude = magnitude << 8 | UInt64(digit)
        }
        guard magnitude >> 63 == 0 else { return nil }
        // Negative numbers are stored inverted: the bytes hold |value| - 1.
        return invert == 0xff ? ~Int64(magnitude) : Int64(magnitude)
    }
}

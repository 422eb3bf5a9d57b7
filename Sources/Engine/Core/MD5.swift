/// Streaming MD5 (RFC 1321).
///
/// dpkg records conffile checksums as MD5 (the `Conffiles` field of the status
/// file, deb-conffiles(5)), so the engine needs it to tell whether a conffile
/// was modified. It is never used to verify anything security-relevant.
public struct MD5: Sendable {
    private var a0: UInt32 = 0x6745_2301
    private var b0: UInt32 = 0xefcd_ab89
    private var c0: UInt32 = 0x98ba_dcfe
    private var d0: UInt32 = 0x1032_5476
    /// Bytes not yet forming a whole 64-byte block.
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var base = bytes.baseAddress, bytes.count > 0 else { return }
        var count = bytes.count
        length &+= UInt64(count)
        if !pending.isEmpty {
            let take = min(64 - pending.count, count)
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base, count: take))
            base += take
            count -= take
            guard pending.count == 64 else { return }
            pending.withUnsafeBytes { block in
                if let start = block.baseAddress { compress(start) }
            }
            pending.removeAll(keepingCapacity: true)
        }
        while count >= 64 {
            compress(base)
            base += 64
            count -= 64
        }
        if count > 0 {
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base, count: count))
        }
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 16-byte digest of everything passed to `update` so far.
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = length &* 8
        // RFC 1321 §3.1–3.2: a 1 bit, zeros up to 56 mod 64, then the length.
        var tail: [UInt8] = [0x80]
        let used = (pending.count + 1) % 64
        tail += [UInt8](repeating: 0, count: (56 - used + 64) % 64)
        for shift in stride(from: 0, to: 64, by: 8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        copy.update(tail)
        var digest: [UInt8] = []
        digest.reserveCapacity(16)
        for word in [copy.a0, copy.b0, copy.c0, copy.d0] {
            for shift in stride(from: 0, to: 32, by: 8) { digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
        }
        return digest
    }

    /// The digest as lower-case hex, the form `md5sum` and dpkg print.
    public func hexDigest() -> String {
        MD5.hex(finalize())
    }

    /// Digest of a whole buffer, as lower-case hex.
    public static func hexDigest(of bytes: [UInt8]) -> String {
        var md5 = MD5()
        md5.update(bytes)
        return md5.hexDigest()
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Processes one 64-byte block (RFC 1321 §3.4).
    private mutating func compress(_ block: UnsafeRawPointer) {
        var a = a0, b = b0, c = c0, d = d0
        MD5.constants.withUnsafeBufferPointer { k in
            MD5.shifts.withUnsafeBufferPointer { s in
                for i in 0..<64 {
                    var f: UInt32
                    let g: Int
                    switch i >> 4 {
                    case 0: f = (b & c) | (~b & d); g = i
                    case 1: f = (d & b) | (~d & c); g = (5 &* i &+ 1) & 15
                    case 2: f = b ^ c ^ d; g = (3 &* i &+ 5) & 15
                    default: f = c ^ (b | ~d); g = (7 &* i) & 15
                    }
                    let word = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: g &* 4, as: UInt32.self))
                    f = f &+ a &+ k[i] &+ word
                    a = d
                    d = c
                    c = b
                    let shift = s[(i >> 4) &* 4 &+ (i & 3)]
                    b = b &+ ((f << shift) | (f >> (32 &- shift)))
                }
            }
        }
        a0 = a0 &+ a
        b0 = b0 &+ b
        c0 = c0 &+ c
        d0 = d0 &+ d
    }

    /// Per-round rotation amounts (RFC 1321 §3.4), four per round.
    private static let shifts: [UInt32] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]

    /// floor(abs(sin(i + 1)) * 2^32), RFC 1321 §3.4.
    private static let constants: [UInt32] = [
        0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
        0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
        0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
        0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
        0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
        0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
        0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
        0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
    ]
}

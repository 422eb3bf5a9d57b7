/// A minimal reader of DER (ITU-T X.690) elements: as much as a certificate's
/// subject and a CRL's issuer need. Only low tag numbers and definite lengths
/// (DER forbids indefinite ones) are accepted.
struct DERElement: Sendable {
    /// The identifier octet (class, constructed bit and tag number).
    let tag: UInt8
    /// The contents octets.
    let contents: ArraySlice<UInt8>
    /// The whole element: identifier, length and contents.
    let encoded: ArraySlice<UInt8>

    static let sequence: UInt8 = 0x30
    static let set: UInt8 = 0x31
    static let utf8String: UInt8 = 0x0C

    /// The elements inside this one, in order.
    func children() throws -> [DERElement] {
        var reader = DERReader(contents)
        var result: [DERElement] = []
        while !reader.isAtEnd { result.append(try reader.next()) }
        return result
    }

    /// Encodes `contents` under `tag` with a DER length.
    static func encode(tag: UInt8, _ contents: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [tag]
        let count = contents.count
        if count < 0x80 {
            out.append(UInt8(count))
        } else {
            var length: [UInt8] = []
            var remaining = count
            while remaining > 0 { length.insert(UInt8(remaining & 0xFF), at: 0); remaining >>= 8 }
            out.append(0x80 | UInt8(length.count))
            out += length
        }
        return out + contents
    }
}

struct DERError: Error, CustomStringConvertible {
    let description: String
}

struct DERReader {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }
    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    var isAtEnd: Bool { bytes.isEmpty }

    mutating func next() throws -> DERElement {
        let start = bytes.startIndex
        guard let tag = bytes.first else { throw DERError(description: "truncated element") }
        guard tag & 0x1F != 0x1F else { throw DERError(description: "high tag numbers are not supported") }
        var index = start + 1
        guard index < bytes.endIndex else { throw DERError(description: "truncated length") }
        let first = bytes[index]
        index += 1
        var length = 0
        if first < 0x80 {
            length = Int(first)
        } else {
            let octets = Int(first & 0x7F)
            guard octets > 0, octets <= 4 else { throw DERError(description: "unsupported length form") }
            guard bytes.endIndex - index >= octets else { throw DERError(description: "truncated length") }
            for _ in 0..<octets { length = length << 8 | Int(bytes[index]); index += 1 }
        }
        guard bytes.endIndex - index >= length else { throw DERError(description: "element longer than its container") }
        let end = index + length
        let element = DERElement(tag: tag, contents: bytes[index..<end], encoded: bytes[start..<end])
        bytes = bytes[end...]
        return element
    }
}

import Crypto
import Foundation

/// OpenSSL's subject-name hash (`openssl x509 -hash`, X509_NAME_hash): the
/// first four bytes, little-endian, of the SHA-1 of the name's canonical
/// encoding. `openssl rehash` names its links in /etc/ssl/certs after it.
///
/// The canonical encoding, as OpenSSL defines it: each RDN's SET re-encoded
/// with every string value converted to UTF-8, leading and trailing white
/// space removed, inner runs of white space folded to one space and ASCII
/// upper case lowered, stored as UTF8String; values of other types are kept;
/// the SETs are concatenated without the outer SEQUENCE.
enum X509Hash {
    /// One certificate or CRL as `openssl rehash` sees it.
    struct Object: Sendable, Hashable {
        enum Kind: Sendable, Hashable { case certificate, crl }
        let kind: Kind
        /// Subject (certificate) or issuer (CRL) hash.
        let hash: UInt32
        /// SHA-1 of the DER encoding: duplicates are skipped by it.
        let digest: [UInt8]
    }

    /// The subject of a DER certificate.
    static func certificate(_ der: [UInt8]) throws -> Object {
        let tbs = try tbsFields(der)
        // TBSCertificate: [0] version?, serialNumber, signature, issuer, validity, subject, ...
        let offset = tbs.first?.tag == 0xA0 ? 1 : 0
        guard tbs.count > offset + 4 else { throw DERError(description: "certificate without a subject") }
        return Object(kind: .certificate, hash: try nameHash(tbs[offset + 4]), digest: sha1(der))
    }

    /// The issuer of a DER CRL.
    static func crl(_ der: [UInt8]) throws -> Object {
        let tbs = try tbsFields(der)
        // TBSCertList: version INTEGER?, signature, issuer, ...
        let offset = tbs.first?.tag == 0x02 ? 1 : 0
        guard tbs.count > offset + 1 else { throw DERError(description: "CRL without an issuer") }
        return Object(kind: .crl, hash: try nameHash(tbs[offset + 1]), digest: sha1(der))
    }

    static func nameHash(_ name: DERElement) throws -> UInt32 {
        guard name.tag == DERElement.sequence else { throw DERError(description: "a Name is not a SEQUENCE") }
        let digest = sha1(try canonicalEncoding(name))
        return UInt32(digest[0]) | UInt32(digest[1]) << 8 | UInt32(digest[2]) << 16 | UInt32(digest[3]) << 24
    }

    static func canonicalEncoding(_ name: DERElement) throws -> [UInt8] {
        var out: [UInt8] = []
        for rdn in try name.children() {
            guard rdn.tag == DERElement.set else { throw DERError(description: "an RDN is not a SET") }
            var attributes: [[UInt8]] = []
            for attribute in try rdn.children() {
                let parts = try attribute.children()
                guard attribute.tag == DERElement.sequence, parts.count == 2 else {
                    throw DERError(description: "malformed AttributeTypeAndValue")
                }
                let value = canonicalValue(parts[1])
                attributes.append(DERElement.encode(tag: DERElement.sequence, Array(parts[0].encoded) + value))
            }
            // DER orders a SET OF by the encodings (X.690 11.6), as OpenSSL does.
            attributes.sort { lhs, rhs in
                let common = min(lhs.count, rhs.count)
                for index in 0..<common where lhs[index] != rhs[index] { return lhs[index] < rhs[index] }
                return lhs.count < rhs.count
            }
            out += DERElement.encode(tag: DERElement.set, attributes.flatMap { $0 })
        }
        return out
    }

    /// A value as OpenSSL canonicalizes it (asn1_string_canon).
    static func canonicalValue(_ value: DERElement) -> [UInt8] {
        guard let utf8 = utf8(of: value) else { return Array(value.encoded) }
        var bytes = utf8[...]
        while let first = bytes.first, isSpace(first) { bytes = bytes.dropFirst() }
        while let last = bytes.last, isSpace(last) { bytes = bytes.dropLast() }
        var out: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte >= 0x80 {
                out.append(byte)
                index += 1
            } else if isSpace(byte) {
                out.append(0x20)
                while index < bytes.endIndex, isSpace(bytes[index]) { index += 1 }
            } else {
                out.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
                index += 1
            }
        }
        return DERElement.encode(tag: DERElement.utf8String, out)
    }

    /// The UTF-8 form of the string types OpenSSL canonicalizes; nil for others.
    private static func utf8(of value: DERElement) -> [UInt8]? {
        let contents = Array(value.contents)
        switch value.tag {
        case 0x0C: // UTF8String
            return contents
        case 0x13, 0x14, 0x16, 0x1A: // PrintableString, T61String, IA5String, VisibleString: one byte a character
            return encodeUTF8(contents.map { UInt32($0) })
        case 0x1E: // BMPString: UCS-2, big-endian
            guard contents.count % 2 == 0 else { return nil }
            return encodeUTF8(stride(from: 0, to: contents.count, by: 2).map { UInt32(contents[$0]) << 8 | UInt32(contents[$0 + 1]) })
        case 0x1C: // UniversalString: UCS-4, big-endian
            guard contents.count % 4 == 0 else { return nil }
            return encodeUTF8(stride(from: 0, to: contents.count, by: 4).map {
                UInt32(contents[$0]) << 24 | UInt32(contents[$0 + 1]) << 16 | UInt32(contents[$0 + 2]) << 8 | UInt32(contents[$0 + 3])
            })
        default:
            return nil
        }
    }

    private static func encodeUTF8(_ scalars: [UInt32]) -> [UInt8] {
        var out: [UInt8] = []
        for value in scalars {
            switch value {
            case ..<0x80: out.append(UInt8(value))
            case ..<0x800: out += [UInt8(0xC0 | value >> 6), UInt8(0x80 | value & 0x3F)]
            case ..<0x10000: out += [UInt8(0xE0 | value >> 12), UInt8(0x80 | value >> 6 & 0x3F), UInt8(0x80 | value & 0x3F)]
            default: out += [UInt8(0xF0 | value >> 18 & 0x07), UInt8(0x80 | value >> 12 & 0x3F), UInt8(0x80 | value >> 6 & 0x3F), UInt8(0x80 | value & 0x3F)]
            }
        }
        return out
    }

    /// OpenSSL's ossl_isspace: space, \t, \n, \v, \f, \r.
    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) }

    private static func tbsFields(_ der: [UInt8]) throws -> [DERElement] {
        var reader = DERReader(der)
        let outer = try reader.next()
        guard outer.tag == DERElement.sequence, let tbs = try outer.children().first, tbs.tag == DERElement.sequence else {
            throw DERError(description: "not a signed DER structure")
        }
        return try tbs.children()
    }

    static func sha1(_ bytes: some Collection<UInt8>) -> [UInt8] { Array(Insecure.SHA1.hash(data: Array(bytes))) }
}

/// The PEM blocks of a file (RFC 7468) as OpenSSL's PEM_X509_INFO_read_bio
/// groups them: certificates and CRLs (keys and other blocks are ignored).
enum PEMFile {
    struct Item: Sendable {
        let kind: X509Hash.Object.Kind
        let der: [UInt8]
    }

    static func items(_ bytes: [UInt8]) -> [Item] {
        let text = String(decoding: bytes, as: UTF8.self)
        var items: [Item] = []
        var label: String?
        var body = ""
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine[...]
            if let current = label {
                if line.hasPrefix("-----END ") {
                    if let der = Data(base64Encoded: body, options: .ignoreUnknownCharacters), let kind = kind(of: current) {
                        items.append(Item(kind: kind, der: trimmedToFirstElement(Array(der))))
                    }
                    label = nil
                    body = ""
                } else if !line.contains(":") {
                    body += line
                }
            } else if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                label = String(line.dropFirst("-----BEGIN ".count).dropLast(5))
            }
        }
        return items
    }

    private static func kind(of label: String) -> X509Hash.Object.Kind? {
        switch label {
        case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE": .certificate
        case "X509 CRL": .crl
        default: nil
        }
    }

    /// A TRUSTED CERTIFICATE carries OpenSSL's trust settings after the
    /// certificate; the digest covers the certificate alone.
    private static func trimmedToFirstElement(_ der: [UInt8]) -> [UInt8] {
        var reader = DERReader(der)
        guard let first = try? reader.next() else { return der }
        return Array(first.encoded)
    }
}

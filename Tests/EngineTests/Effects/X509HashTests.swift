@testable import Engine
import Foundation
import Testing

/// The subject hash `openssl rehash` names links after, checked against the
/// real `openssl x509 -hash` on every certificate Debian ships.
@Suite struct X509HashTests {
    static let mozilla = "/usr/share/ca-certificates/mozilla"
    static let openssl = "/usr/bin/openssl"
    static var available: Bool {
        FileManager.default.fileExists(atPath: mozilla) && FileManager.default.isExecutableFile(atPath: openssl)
    }

    @Test(.enabled(if: available, "needs the host's ca-certificates and openssl"))
    func subjectHashesMatchOpenSSLForEveryDebianCertificate() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.mozilla).filter { $0.hasSuffix(".crt") }.sorted()
        #expect(names.count > 100)
        var checked = 0
        for name in names {
            let path = Self.mozilla + "/" + name
            let expected = try DpkgTestSupport.output(Self.openssl, ["x509", "-hash", "-fingerprint", "-sha1", "-noout", "-in", path])
                .split(separator: "\n").map(String.init)
            let items = PEMFile.items(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            try #require(items.count == 1, "\(name)")
            let object = try X509Hash.certificate(items[0].der)
            #expect(String(format: "%08x", object.hash) == expected[0], "\(name)")
            let fingerprint = object.digest.map { String(format: "%02X", $0) }.joined(separator: ":")
            #expect(expected[1].hasSuffix("=" + fingerprint), "\(name)")
            checked += 1
        }
        print("X509HashTests: \(checked) certificates hashed as openssl does")
    }

    @Test func canonicalValuesFoldCaseAndWhiteSpaceLikeOpenSSL() {
        // PrintableString "  Foo   BAR\t" → UTF8String "foo bar".
        let printable = DERElement(tag: 0x13, contents: Array("  Foo   BAR\t".utf8)[...], encoded: [][...])
        #expect(X509Hash.canonicalValue(printable) == [0x0C, 7] + Array("foo bar".utf8))
        // BMPString "Ä b" → UTF-8, non-ASCII kept as is.
        let bmp = DERElement(tag: 0x1E, contents: [0x00, 0xC4, 0x00, 0x20, 0x00, 0x42][...], encoded: [][...])
        #expect(X509Hash.canonicalValue(bmp) == [0x0C, 4, 0xC3, 0x84, 0x20, 0x62])
        // An OCTET STRING is kept with its own tag.
        let octets = DERElement(tag: 0x04, contents: [1, 2][...], encoded: [0x04, 2, 1, 2][...])
        #expect(X509Hash.canonicalValue(octets) == [0x04, 2, 1, 2])
    }

    @Test func hashLinkNamesParseAsOpenSSLDoes() {
        #expect(Rehash.parseLinkName("9d04f354.0")?.id == 0)
        #expect(Rehash.parseLinkName("9d04f354.r1")?.kind == .crl)
        #expect(Rehash.parseLinkName("9D04F354.12")?.hash == 0x9d04f354)
        #expect(Rehash.parseLinkName("9d04f354.pem") == nil)
        #expect(Rehash.parseLinkName("ca-certificates.crt") == nil)
    }

    @Test func truncatedDERIsAnErrorNotACrash() {
        #expect(throws: DERError.self) { try X509Hash.certificate([0x30, 0x82, 0xFF]) }
        #expect(throws: DERError.self) { try X509Hash.certificate([0x30, 0x03, 0x30, 0x01]) }
        #expect(throws: DERError.self) { try X509Hash.certificate([]) }
    }
}

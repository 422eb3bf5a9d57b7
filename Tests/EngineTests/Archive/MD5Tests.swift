import Testing
@testable import Engine

@Suite struct MD5Tests {
    /// RFC 1321 appendix A.5 test suite.
    @Test(arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func rfc1321Vectors(input: String, digest: String) {
        #expect(MD5.hexDigest(of: Array(input.utf8)) == digest)
    }

    /// Lengths around the 55/56/64-byte padding edges, fed in uneven pieces,
    /// checked against `md5sum`.
    @Test func matchesMd5sumAcrossBlockBoundaries() throws {
        let scratch = try ArchiveScratchDirectory()
        let data = ArchiveFixtures.randomBytes(count: 300_000)
        for length in [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4097, 300_000] {
            let slice = Array(data[..<length])
            let file = try scratch.write("input-\(length)", slice)
            var md5 = MD5()
            var offset = 0
            var piece = 1
            while offset < length {
                let end = min(length, offset + piece)
                md5.update(Array(slice[offset..<end]))
                offset = end
                piece = piece * 2 + 1
            }
            #expect(md5.hexDigest() == (try ArchiveTool.md5sum(file)), "length \(length)")
        }
    }

    @Test func finalizeDoesNotDisturbFurtherUpdates() {
        var md5 = MD5()
        md5.update(Array("abc".utf8))
        _ = md5.finalize()
        md5.update(Array("def".utf8))
        #expect(md5.hexDigest() == MD5.hexDigest(of: Array("abcdef".utf8)))
    }
}

import Foundation
import Testing
@testable import Engine

@Suite("ArmoredKey")
struct ArmoredKeyTests {
    static let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

    /// Armors the machine's Debian keyring with gpg itself.
    static func armoredKeyring() throws -> (binary: Data, armored: String, home: String) {
        let home = try DpkgTestSupport.temporaryDirectory("gnupg")
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: home)
        let binary = try Data(contentsOf: URL(fileURLWithPath: keyring))
        let outcome = try DpkgTestSupport.run("/usr/bin/gpg", ["--homedir", home, "--batch", "--enarmor"], input: binary)
        guard outcome.status == 0 else { throw DpkgTestSupport.ToolFailure(description: "gpg --enarmor: \(outcome.stderr)") }
        return (binary, outcome.text, home)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: keyring) && DpkgTestSupport.hasTool("/usr/bin/gpg")))
    func decodesWhatGpgArmored() throws {
        let (binary, armored, home) = try Self.armoredKeyring()
        defer { try? FileManager.default.removeItem(atPath: home) }
        #expect(armored.contains("\n="), "gpg wrote a CRC24 line")
        #expect(try ArmoredKey.dearmor(armored) == [UInt8](binary))
        // CRLF armor decodes the same.
        #expect(try ArmoredKey.dearmor(armored.replacingOccurrences(of: "\n", with: "\r\n")) == [UInt8](binary))
    }

    /// The decoded keyring is one gpgv accepts: it verifies a real InRelease.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: keyring) && DpkgTestSupport.hasTool("/usr/bin/gpgv")))
    func gpgvVerifiesWithTheDecodedKeyring() throws {
        let inRelease = try #require(DpkgTestSupport.aptLists(endingWith: "_InRelease").first { $0.contains("debian.org") })
        let (_, armored, home) = try Self.armoredKeyring()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let keyringPath = home + "/decoded.gpg"
        try Data(try ArmoredKey.dearmor(armored)).write(to: URL(fileURLWithPath: keyringPath))
        let outcome = try DpkgTestSupport.run("/usr/bin/gpgv", ["--keyring", keyringPath, inRelease])
        #expect(outcome.status == 0, "gpgv: \(outcome.stderr)")
    }

    @Test func checksTheCRC24Line() throws {
        // `printf hello | gpg --enarmor` writes this body and checksum line.
        let good = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nVersion: test\n\naGVsbG8=\n=R/WK\n-----END PGP PUBLIC KEY BLOCK-----\n"
        #expect(try ArmoredKey.dearmor(good) == Array("hello".utf8))
        #expect(ArmoredKey.crc24([]) == 0xB704CE)
        #expect {
            try ArmoredKey.dearmor(good.replacingOccurrences(of: "=R/WK", with: "=R/WL"))
        } throws: { error in
            (error as? EngineError)?.message.contains("CRC24") == true
        }
        #expect {
            try ArmoredKey.dearmor(good.replacingOccurrences(of: "aGVsbG8=", with: "aGVsbW8="))
        } throws: { error in
            (error as? EngineError)?.message.contains("CRC24") == true
        }
        // Without the optional checksum line the body is still decoded.
        #expect(try ArmoredKey.dearmor(good.replacingOccurrences(of: "=R/WK\n", with: "")) == Array("hello".utf8))
    }

    @Test func concatenatesBlocksAndRejectsNonArmor() throws {
        let block = { (body: String) in "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n\(body)\n-----END PGP PUBLIC KEY BLOCK-----\n" }
        #expect(try ArmoredKey.dearmor(block("aGVs") + "junk between\n" + block("bG8=")) == Array("hello".utf8))
        #expect(throws: EngineError.self) { try ArmoredKey.dearmor("just text") }
        #expect(throws: EngineError.self) { try ArmoredKey.dearmor("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVsbG8=\n") }
        #expect(throws: EngineError.self) { try ArmoredKey.dearmor(block("not base64 at all!")) }
    }
}

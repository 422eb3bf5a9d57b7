import Foundation
import Testing
@testable import Engine

@Suite("ReleaseFile")
struct ReleaseFileTests {
    static let plain = """
        Origin: Example
        Label: Example
        Suite: stable
        Codename: demo
        Date: Sat, 10 May 2025 09:04:21 UTC
        Valid-Until: Sat, 17 May 2025 09:04:21 UTC
        Acquire-By-Hash: yes
        Architectures: amd64 arm64
        Components: main contrib
        Description: demo
        SHA256:
         0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef   1234 main/binary-amd64/Packages
         FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210     56 main/binary-amd64/Packages.xz

        """

    @Test func parsesAPlainRelease() throws {
        let release = try ReleaseFile(parsing: Self.plain)
        #expect(release.origin == "Example" && release.suite == "stable" && release.codename == "demo")
        #expect(release.architectures == ["amd64", "arm64"])
        #expect(release.components == ["main", "contrib"])
        #expect(release.acquireByHash)
        #expect(release.sha256.count == 2)
        let xz = try #require(release.entry(for: "main/binary-amd64/Packages.xz"))
        #expect(xz.size == 56)
        #expect(xz.sha256 == "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210")
        #expect(release.parsedDate == Date(timeIntervalSince1970: 1_746_867_861))
        #expect(release.parsedValidUntil == Date(timeIntervalSince1970: 1_746_867_861 + 7 * 86_400))
    }

    @Test func extractsClearSignedTextAndUndoesDashEscaping() throws {
        let signed = """
            -----BEGIN PGP SIGNED MESSAGE-----
            Hash: SHA512

            Origin: Example
            - -----not a header
            Suite: stable
            -----BEGIN PGP SIGNATURE-----

            iQIzBAEBCgAdFiEE
            =abcd
            -----END PGP SIGNATURE-----

            """
        #expect(try ReleaseFile.signedText(ofClearSigned: signed) == "Origin: Example\n-----not a header\nSuite: stable\n")
        #expect(throws: EngineError.self) { try ReleaseFile.signedText(ofClearSigned: "Origin: x\n") }
        #expect(throws: EngineError.self) {
            try ReleaseFile.signedText(ofClearSigned: signed.replacingOccurrences(of: "-----BEGIN PGP SIGNATURE-----", with: "Trailer: x"))
        }
        #expect(throws: EngineError.self) {
            try ReleaseFile.signedText(ofClearSigned: signed.replacingOccurrences(of: "- -----not", with: "-----not"))
        }
    }

    @Test func rejectsMalformedChecksums() throws {
        let badDigest = Self.plain.replacingOccurrences(of: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", with: "xyz")
        #expect(throws: EngineError.self) { try ReleaseFile(parsing: badDigest) }
        let badSize = Self.plain.replacingOccurrences(of: "   1234 ", with: " -1 ")
        #expect(throws: EngineError.self) { try ReleaseFile(parsing: badSize) }
        #expect(throws: EngineError.self) { try ReleaseFile(parsing: Self.plain + "Origin: second paragraph\n") }
    }

    /// The text gpgv says was signed is exactly what we extract, and the
    /// SHA256 entry of an uncompressed index matches the copy apt keeps.
    @Test(.enabled(if: !DpkgTestSupport.aptLists(endingWith: "_InRelease").isEmpty && DpkgTestSupport.hasTool("/usr/bin/gpgv")))
    func agreesWithGpgvOnTheMachineInReleaseFiles() throws {
        for path in DpkgTestSupport.aptLists(endingWith: "_InRelease") {
            let text = try DpkgTestSupport.readText(path)
            let outcome = try DpkgTestSupport.run(
                "/usr/bin/gpgv", ["--keyring", "/usr/share/keyrings/debian-archive-keyring.gpg", "--output", "-", path])
            try #require(outcome.status == 0, "gpgv rejected \(path): \(outcome.stderr)")
            #expect(try ReleaseFile.signedText(ofClearSigned: text) == outcome.text, "\(path)")
            let release = try ReleaseFile(parsing: text)
            #expect(release.origin != nil && release.codename != nil && !release.sha256.isEmpty)
            #expect(release.parsedDate != nil, "Date '\(release.date ?? "")' parses")
        }
    }

    @Test func machineIndexMatchesItsReleaseEntry() throws {
        guard let index = try DpkgTestSupport.smallestPackagesIndex() else { return }
        let name = URL(fileURLWithPath: index.path).lastPathComponent
        // ..._dists_<suite>_<component>_binary-<arch>_Packages[.lz4] → its InRelease.
        let prefix = try #require(name.range(of: "_dists_")).upperBound
        let parts = name[prefix...].split(separator: "_")
        try #require(parts.count >= 4)
        let inRelease = "/var/lib/apt/lists/" + name[..<prefix] + parts[0] + "_InRelease"
        let release = try ReleaseFile(parsing: try DpkgTestSupport.readText(inRelease))
        let entry = try #require(release.entry(for: "\(parts[1])/\(parts[2])/Packages"))
        let bytes = Data(index.text.utf8)
        #expect(Int64(bytes.count) == entry.size)
        let digest = try DpkgTestSupport.run("/usr/bin/sha256sum", ["-"], input: bytes).text.prefix(64)
        #expect(String(digest) == entry.sha256)
    }
}

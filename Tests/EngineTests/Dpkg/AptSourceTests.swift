import Foundation
import Testing
@testable import Engine

@Suite("AptSource")
struct AptSourceTests {
    @Test func parsesOneLineEntries() throws {
        let text = """
            # Debian mirror
            deb http://deb.debian.org/debian bookworm main contrib  # trailing comment
            deb-src http://deb.debian.org/debian bookworm main
            deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/a.gpg trusted=yes lang=none] https://example.org/apt/ stable main
            deb [ check-valid-until=no ] http://snapshot.debian.org/archive/debian/20240101T000000Z bookworm main

               deb file:/srv/repo ./
            """
        let sources = try AptSource.parseOneLine(text)
        #expect(sources.count == 4)
        #expect(sources[0].uri == "http://deb.debian.org/debian")
        #expect(sources[0].suite == "bookworm" && sources[0].components == ["main", "contrib"])
        #expect(sources[0].signedBy == nil && sources[0].trusted == nil)
        #expect(sources[1].uri == "https://example.org/apt")
        #expect(sources[1].architectures == ["amd64", "arm64"])
        #expect(sources[1].signedBy == .keys(["/usr/share/keyrings/a.gpg"]))
        #expect(sources[1].trusted == true)
        #expect(sources[1].options == ["lang": "none"])
        #expect(sources[2].options == ["check-valid-until": "no"])
        #expect(sources[3].isFlat && sources[3].components.isEmpty)
        #expect(sources[3].distributionURI == "file:/srv/repo")
        #expect(sources[0].distributionURI == "http://deb.debian.org/debian/dists/bookworm")
        #expect(sources[0].packagesIndexPath(component: "main", architecture: "amd64") == "main/binary-amd64/Packages")
    }

    @Test func reportsBadOneLineEntriesWithTheirLine() throws {
        let cases = [
            "deb\n",
            "\nrpm http://example.org x main\n",
            "deb [arch=amd64 http://example.org stable main\n",
            "deb http://example.org stable\n",
            "deb http://example.org flat/ main\n",
            "deb not-a-uri stable main\n",
            "deb [trusted=maybe] http://example.org stable main\n",
        ]
        for text in cases {
            #expect(throws: EngineError.self, "\(text.debugDescription)") { try AptSource.parseOneLine(text) }
        }
        #expect {
            try AptSource.parseOneLine("deb http://a.org s main\n# fine\nbogus line here\n")
        } throws: { error in
            (error as? EngineError)?.message.contains("line 3") == true
        }
    }

    @Test func parsesDeb822Stanzas() throws {
        let text = """
            # comment before
            Types: deb deb-src
            URIs: http://deb.debian.org/debian http://mirror.example/debian
            Suites: bookworm bookworm-updates
            Components: main non-free-firmware
            Architectures: amd64
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
            Check-Valid-Until: no

            Types: deb-src
            URIs: http://deb.debian.org/debian
            Suites: bookworm
            Components: main

            Enabled: no
            Types: deb
            URIs: http://disabled.example
            Suites: x
            Components: main

            types: deb
            uris: http://flat.example/repo
            suites: ./
            trusted: yes

            """
        let sources = try AptSource.parseDeb822(text)
        #expect(sources.map { "\($0.uri) \($0.suite)" } == [
            "http://deb.debian.org/debian bookworm", "http://deb.debian.org/debian bookworm-updates",
            "http://mirror.example/debian bookworm", "http://mirror.example/debian bookworm-updates",
            "http://flat.example/repo ./",
        ])
        #expect(sources[0].components == ["main", "non-free-firmware"])
        #expect(sources[0].architectures == ["amd64"])
        #expect(sources[0].signedBy == .keys(["/usr/share/keyrings/debian-archive-keyring.gpg"]))
        #expect(sources[0].options == ["check-valid-until": "no"])
        #expect(sources[4].trusted == true && sources[4].isFlat)
        #expect(sources[4].distributionURI == "http://flat.example/repo")
        #expect(throws: EngineError.self) { try AptSource.parseDeb822("Types: deb\nSuites: x\nComponents: main\n") }
    }

    /// An inline armored key (folded with " ." for empty lines) decodes to
    /// the same bytes as the keyring gpg armored.
    @Test(.enabled(if: DpkgTestSupport.hasTool("/usr/bin/gpg")))
    func inlineSignedByKeyDecodes() throws {
        let (binary, armored, home) = try ArmoredKeyTests.armoredKeyring()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let folded = armored.split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast()
            .map { $0.isEmpty ? " ." : " \($0)" }
            .joined(separator: "\n")
        let text = "Types: deb\nURIs: https://example.org\nSuites: stable\nComponents: main\nSigned-By:\n\(folded)\n"
        let source = try #require(try AptSource.parseDeb822(text).first)
        guard case .armoredKey(let key) = source.signedBy else {
            Issue.record("expected an inline key, got \(String(describing: source.signedBy))")
            return
        }
        #expect(key == armored)
        #expect(try ArmoredKey.dearmor(key) == [UInt8](binary))
    }

    /// apt names its downloaded lists with `URItoFileName`; every configured
    /// source on this machine must map onto a file apt actually wrote.
    @Test func machineSourcesMapToAptListsFiles() throws {
        let path = "/etc/apt/sources.list.d/debian.sources"
        try #require(FileManager.default.fileExists(atPath: path))
        let sources = try AptSource.parseDeb822(try DpkgTestSupport.readText(path))
        #expect(!sources.isEmpty)
        let lists = Set(DpkgTestSupport.aptLists(endingWith: "InRelease").map { URL(fileURLWithPath: $0).lastPathComponent })
        try #require(!lists.isEmpty, "apt-get update has not run on this machine")
        for source in sources {
            #expect(lists.contains(source.listsFileName(for: "InRelease")), "\(source.uri) \(source.suite)")
        }
        let odd = try AptSource(uri: "https://user:pw@host:8080/a_b~c/", suite: "s", components: ["main"])
        #expect(odd.listsFileName(for: "InRelease") == "host:8080_a%5fb%7ec_dists_s_InRelease")
    }
}

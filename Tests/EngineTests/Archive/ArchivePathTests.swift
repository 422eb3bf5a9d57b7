import Testing
@testable import Engine

@Suite struct ArchivePathTests {
    @Test(arguments: [
        ("./etc/os-release", "etc/os-release"),
        ("etc/os-release", "etc/os-release"),
        ("/etc/os-release", "etc/os-release"),
        ("//etc//apt///sources.list", "etc/apt/sources.list"),
        ("./etc/./apt/.", "etc/apt"),
        ("var/lib/dpkg/", "var/lib/dpkg"),
        ("usr/lib/../bin/sh", "usr/bin/sh"),
        ("./", ""),
        ("/", ""),
        (".", ""),
    ])
    func normalizes(raw: String, expected: String) throws {
        let path = try ArchivePath(normalizing: raw)
        #expect(path.value == expected)
        #expect(path.isRoot == expected.isEmpty)
    }

    @Test(arguments: ["", "..", "../etc/passwd", "./../x", "a/../../b", "/..", "a/b/../../..", "etc/\u{0}passwd"])
    func rejectsEscapesEmptyNamesAndNUL(raw: String) {
        let error = ArchiveFixtures.thrownError { _ = try ArchivePath(normalizing: raw) }
        #expect(error?.code == .archive)
        if !raw.isEmpty { #expect(error?.message.contains("\"") == true, "the message names the entry") }
    }

    @Test func errorMessageNamesTheEntry() {
        let error = ArchiveFixtures.thrownError { _ = try ArchivePath(normalizing: "../../etc/shadow") }
        #expect(error?.message.contains("../../etc/shadow") == true)
    }

    @Test func navigation() throws {
        let path = try ArchivePath(normalizing: "./var/lib/dpkg/status")
        #expect(path.components == ["var", "lib", "dpkg", "status"])
        #expect(path.name == "status")
        #expect(path.parent?.value == "var/lib/dpkg")
        #expect(path.absolute == "/var/lib/dpkg/status")
        #expect(try ArchivePath(normalizing: "etc").parent == .root)
        #expect(ArchivePath.root.parent == nil)
        #expect(path.isDescendant(of: try ArchivePath(normalizing: "var/lib")))
        #expect(!path.isDescendant(of: try ArchivePath(normalizing: "var/li")))
        #expect(!path.isDescendant(of: path))
        #expect(path.isDescendant(of: .root))
    }

    @Test func hardLinkTargets() throws {
        #expect(try ArchivePath.hardLinkTarget("./usr/bin/perl5.36", of: "usr/bin/perl").value == "usr/bin/perl5.36")
        #expect(try ArchivePath.hardLinkTarget("/usr/bin/x", of: "y").value == "usr/bin/x")
        for target in ["", "../outside", "usr/../../x", "./"] {
            let error = ArchiveFixtures.thrownError { _ = try ArchivePath.hardLinkTarget(target, of: "usr/bin/evil") }
            #expect(error?.code == .archive, "\(target)")
            #expect(error?.message.contains("usr/bin/evil") == true)
        }
    }

    @Test func symlinkTargets() throws {
        let link = try ArchivePath(normalizing: "usr/lib/x86_64-linux-gnu/libfoo.so")
        // Relative targets inside the root, and absolute targets, are fine.
        try ArchivePath.checkSymlinkTarget("libfoo.so.1", of: link)
        try ArchivePath.checkSymlinkTarget("../../../etc/foo.conf", of: link)
        try ArchivePath.checkSymlinkTarget("/etc/../../../../anything", of: link)
        // One level too far climbs out of the root.
        for target in ["../../../../etc/passwd", "", "a\u{0}b"] {
            let error = ArchiveFixtures.thrownError { try ArchivePath.checkSymlinkTarget(target, of: link) }
            #expect(error?.code == .archive, "\(target)")
            #expect(error?.message.contains(link.value) == true)
        }
        let top = try ArchivePath(normalizing: "toplevel")
        try ArchivePath.checkSymlinkTarget("usr/bin", of: top)
        #expect(ArchiveFixtures.thrownError { try ArchivePath.checkSymlinkTarget("../x", of: top) }?.code == .archive)
    }
}

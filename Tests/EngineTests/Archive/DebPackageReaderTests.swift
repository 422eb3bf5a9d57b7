import Foundation
import Testing
@testable import Engine

@Suite struct DebPackageReaderTests {
    static let control = """
    Package: copa-test
    Version: 1.2-3
    Architecture: all
    Maintainer: Copa Tests <tests@example.com>
    Description: package built by the archive tests
     It exists only inside a temporary directory.

    """
    static let binary = ArchiveFixtures.randomBytes(count: 200_001, seed: 3)

    /// Builds a package with `dpkg-deb --build` and returns its path.
    static func buildPackage(in scratch: ArchiveScratchDirectory, compression: String) throws -> String {
        try scratch.write("pkg/DEBIAN/control", control)
        try scratch.write("pkg/DEBIAN/conffiles", "/etc/copa-test.conf\n")
        try scratch.write("pkg/etc/copa-test.conf", "setting = 1\n")
        try scratch.write("pkg/usr/share/doc/copa-test/README", "read me\n")
        try scratch.write("pkg/usr/bin/copa-test", binary)
        try ArchiveTool.run("chmod", ["0755", scratch.file("pkg/usr/bin/copa-test")])
        let deb = scratch.file("copa-test.deb")
        try ArchiveTool.run("dpkg-deb", ["--root-owner-group", "-Z\(compression)", "--build", scratch.file("pkg"), deb])
        return deb
    }

    @Test(arguments: ["xz", "zstd", "gzip", "none"])
    func readsPackagesBuiltByDpkgDeb(compression: String) throws {
        let scratch = try ArchiveScratchDirectory()
        let deb = try Self.buildPackage(in: scratch, compression: compression)
        let package = try DebPackageReader(try FileSource(path: deb))
        #expect(package.formatVersion == "2.0")

        let control = try ArchiveFixtures.entries(of: try package.controlArchive())
        let controlFile = control.first { $0.header.path == "./control" }
        #expect(controlFile.map { String(decoding: $0.content, as: UTF8.self) } == Self.control)
        #expect(control.contains { $0.header.path == "./conffiles" && $0.content == Array("/etc/copa-test.conf\n".utf8) })

        let data = try ArchiveFixtures.entries(of: try package.dataArchive())
        // dpkg-deb -c prints the data archive's entries, one per line, name last.
        let listing = try ArchiveTool.text("dpkg-deb", ["-c", deb]).split(separator: "\n").map {
            String($0.split(separator: " ", omittingEmptySubsequences: true).last ?? "")
        }
        #expect(data.map(\.header.path) == listing)
        let tool = try #require(data.first { $0.header.path == "./usr/bin/copa-test" })
        #expect(tool.content == Self.binary)
        #expect(tool.header.mode == 0o755)
        #expect(tool.header.uname == "root" && tool.header.uid == 0)
        #expect(data.first { $0.header.path == "./etc/copa-test.conf" }?.content == Array("setting = 1\n".utf8))
    }

    @Test func arReaderAgreesWithBinutilsAr() throws {
        let scratch = try ArchiveScratchDirectory()
        let deb = try Self.buildPackage(in: scratch, compression: "xz")
        // `ar tv` prints "rw-r--r-- 0/0  1234 Jan  1 00:00 1970 name".
        let expected = try ArchiveTool.text("ar", ["tv", deb]).split(separator: "\n").map { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return (String(fields[fields.count - 1]), Int64(fields[2]) ?? -1)
        }
        let reader = try ArReader(try FileSource(path: deb))
        var members: [(String, Int64)] = []
        while let member = try reader.next() {
            let content = try reader.contentSource().readAll(limit: 16 << 20)
            #expect(Int64(content.count) == member.size)
            members.append((member.name, member.size))
        }
        #expect(members.map(\.0) == expected.map(\.0))
        #expect(members.map(\.1) == expected.map(\.1))
        #expect(members.map(\.0) == ["debian-binary", "control.tar.xz", "data.tar.xz"])
    }

    /// Members re-packed with binutils `ar`, which writes GNU-style names
    /// ("debian-binary/"), optionally with an extra "_" member.
    static func repack(_ scratch: ArchiveScratchDirectory, version: String, extra: Bool) throws -> String {
        let deb = try buildPackage(in: scratch, compression: "gzip")
        try scratch.makeDirectory("parts")
        try ArchiveTool.run("ar", ["x", deb], in: scratch.file("parts"))
        try scratch.write("parts/debian-binary", version)
        try scratch.write("parts/_signature", "not really a signature\n")
        let members = ["debian-binary"] + (extra ? ["_signature"] : []) + ["control.tar.gz", "data.tar.gz"]
        let out = scratch.file("repacked.deb")
        try ArchiveTool.run("ar", ["rcD", out] + members, in: scratch.file("parts"))
        return out
    }

    @Test func skipsUnderscoreMembersAndReadsDataWithoutControl() throws {
        let scratch = try ArchiveScratchDirectory()
        let deb = try Self.repack(scratch, version: "2.0\n", extra: true)
        let package = try DebPackageReader(try FileSource(path: deb))
        let data = try ArchiveFixtures.entries(of: try package.dataArchive())
        #expect(data.contains { $0.header.path == "./usr/share/doc/copa-test/README" && $0.content == Array("read me\n".utf8) })
        #expect(ArchiveFixtures.thrownError { _ = try package.controlArchive() }?.code == .internal)
    }

    @Test func rejectsOtherFormatVersions() throws {
        let scratch = try ArchiveScratchDirectory()
        let deb = try Self.repack(scratch, version: "3.0\n", extra: false)
        let error = ArchiveFixtures.thrownError { _ = try DebPackageReader(try FileSource(path: deb)) }
        #expect(error?.code == .archive)
        #expect(error?.message.contains("3.0") == true)
    }

    @Test func rejectsNonArchives() {
        let error = ArchiveFixtures.thrownError { _ = try DebPackageReader(MemorySource(Array("#!/bin/sh\necho hi\n".utf8))) }
        #expect(error?.code == .archive)
        #expect(error?.message.contains("ar archive") == true)
    }

    @Test(arguments: ["xz", "zstd", "gzip"])
    func truncatedPackagesFail(compression: String) throws {
        let scratch = try ArchiveScratchDirectory()
        let bytes = try FileSource(path: try Self.buildPackage(in: scratch, compression: compression)).readAll()
        for fraction in [0.001, 0.02, 0.3, 0.7, 0.99] {
            let cut = Int(Double(bytes.count) * fraction)
            let error = ArchiveFixtures.thrownError {
                let package = try DebPackageReader(MemorySource(Array(bytes[..<cut])))
                _ = try ArchiveFixtures.entries(of: try package.controlArchive())
                _ = try ArchiveFixtures.entries(of: try package.dataArchive())
            }
            #expect(error?.code == .archive, "cut at \(cut) of \(bytes.count)")
        }
    }
}

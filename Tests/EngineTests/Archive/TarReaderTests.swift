import Foundation
import Testing
@testable import Engine

@Suite struct TarReaderTests {
    static let longDirectory = String(repeating: "d", count: 150)
    static let longFile = String(repeating: "f", count: 120) + ".txt"
    static let big = ArchiveFixtures.randomBytes(count: 300_000, seed: 7)

    /// A tree with every entry type tar stores without privileges, plus names
    /// and link targets too long for the basic header.
    static func makeTree(in scratch: ArchiveScratchDirectory, long: Bool) throws -> String {
        try scratch.write("tree/d/f", "hello\n")
        try scratch.write("tree/d/big", big)
        try scratch.write("tree/d/empty", [])
        try scratch.write("tree/bin/tool", "#!/bin/sh\n")
        try ArchiveTool.run("chmod", ["4755", scratch.file("tree/bin/tool")])
        try scratch.makeDirectory("tree/private")
        try ArchiveTool.run("chmod", ["750", scratch.file("tree/private")])
        try ArchiveTool.run("ln", [scratch.file("tree/d/f"), scratch.file("tree/d/hard")])
        try ArchiveTool.run("ln", ["-s", "f", scratch.file("tree/d/s")])
        try ArchiveTool.run("mkfifo", [scratch.file("tree/fifo")])
        // 75 + 1 + 60 bytes: fits ustar only by splitting into prefix and name.
        try scratch.write("tree/" + String(repeating: "p", count: 73) + "/" + String(repeating: "q", count: 60), "split\n")
        if long {
            try scratch.write("tree/\(longDirectory)/\(longFile)", "deep\n")
            try ArchiveTool.run("ln", ["-s", "../\(longDirectory)/\(longFile)", scratch.file("tree/d/longlink")])
        }
        return scratch.file("tree")
    }

    static func tar(_ format: String, _ tree: String, to archive: String) throws {
        try ArchiveTool.run("tar", [
            "--format=\(format)", "--sort=name", "--owner=alice:4321", "--group=staff:8765",
            "--mtime=@1700000000", "-C", tree, "-cf", archive, ".",
        ])
    }

    /// Field-by-field comparison with Python's tarfile reading the same archive.
    static func expectSameAsPython(_ archive: String) throws {
        let ours = try ArchiveFixtures.entries(ofFile: archive)
        let theirs = try PythonTarfile.members(of: archive)
        #expect(ours.count == theirs.count)
        for (entry, member) in zip(ours, theirs) {
            let header = entry.header
            #expect(try ArchivePath(normalizing: header.path) == ArchivePath(normalizing: member.name))
            #expect(header.type == pythonType(member), "\(member.name)")
            #expect(Int(header.mode) == member.mode & 0o7777, "\(member.name)")
            #expect(header.uid == member.uid && header.gid == member.gid, "\(member.name)")
            #expect(header.uname == member.uname && header.gname == member.gname, "\(member.name)")
            #expect(header.mtime == member.mtime, "\(member.name)")
            #expect(header.linkName == member.linkname, "\(member.name)")
            #expect(header.devMajor == member.devmajor && header.devMinor == member.devminor, "\(member.name)")
            #expect(header.paxRecords == member.pax.filter { !TarExtensions.mappedKeys.contains($0.key) }, "\(member.name)")
            if header.type == .regular {
                #expect(header.size == member.size, "\(member.name)")
                #expect(MD5.hexDigest(of: entry.content) == member.md5, "\(member.name)")
            }
        }
    }

    static func pythonType(_ member: PythonTarfile.Member) -> TarHeader.EntryType? {
        switch member.type {
        case "0", "\u{0}", "7": .regular
        case "1": .hardlink
        case "2": .symlink
        case "3": .char
        case "4": .block
        case "5": .directory
        case "6": .fifo
        default: nil
        }
    }

    @Test(arguments: ["gnu", "oldgnu", "posix", "ustar"])
    func readsGNUTarFormatsLikePython(format: String) throws {
        let scratch = try ArchiveScratchDirectory()
        let tree = try Self.makeTree(in: scratch, long: format != "ustar")
        let archive = scratch.file("a.tar")
        try Self.tar(format, tree, to: archive)
        try Self.expectSameAsPython(archive)

        let entries = try ArchiveFixtures.entries(ofFile: archive)
        func entry(_ path: String) -> (header: TarHeader, content: [UInt8])? {
            entries.first { (try? ArchivePath(normalizing: $0.header.path).value) == path }
        }
        let file = try #require(entry("d/f"))
        #expect(file.content == Array("hello\n".utf8))
        #expect(file.header.uid == 4321 && file.header.gid == 8765)
        #expect(file.header.uname == "alice" && file.header.gname == "staff")
        #expect(file.header.mtime == 1_700_000_000)
        #expect(entry("d/big")?.content == Self.big)
        #expect(entry("bin/tool")?.header.mode == 0o4755)
        #expect(entry("private")?.header.type == .directory)
        #expect(entry("private")?.header.mode == 0o750)
        #expect(entry("d/s")?.header.linkName == "f")
        #expect(entry("d/hard")?.header.type == .hardlink)
        #expect(try ArchivePath(normalizing: entry("d/hard")?.header.linkName ?? "").value == "d/f")
        #expect(entry("fifo")?.header.type == .fifo)
        let split = String(repeating: "p", count: 73) + "/" + String(repeating: "q", count: 60)
        #expect(entry(split)?.content == Array("split\n".utf8))
        if format != "ustar" {
            #expect(entry("\(Self.longDirectory)/\(Self.longFile)")?.content == Array("deep\n".utf8))
            #expect(entry("d/longlink")?.header.linkName == "../\(Self.longDirectory)/\(Self.longFile)")
        }
    }

    @Test func readsCompressedArchives() throws {
        let scratch = try ArchiveScratchDirectory()
        let tree = try Self.makeTree(in: scratch, long: true)
        let archive = scratch.file("a.tar")
        try Self.tar("posix", tree, to: archive)
        let plain = try ArchiveFixtures.entries(ofFile: archive).map(\.header)
        for tool in ["gzip", "xz", "zstd"] {
            let output = try ArchiveTool.run(tool, ["-c", archive])
            let entries = try ArchiveFixtures.entries(of: TarReader(try decompressingSource(MemorySource(output))))
            #expect(entries.map(\.header) == plain, "\(tool)")
        }
    }

    @Test func keepsPerFilePaxRecordsAndSkipsGlobalHeaders() throws {
        let scratch = try ArchiveScratchDirectory()
        try scratch.write("tree/a", "a\n")
        try scratch.write("tree/b", "b\n")
        let archive = scratch.file("x.tar")
        try ArchiveTool.run("tar", [
            "--format=posix", "--sort=name", "--pax-option=SCHILY.xattr.user.note:=hello world,comment=for everyone",
            "-C", scratch.file("tree"), "-cf", archive, "a", "b",
        ])
        let bytes = try scratch.read("x.tar")
        #expect(bytes[156] == UInt8(ascii: "g"), "GNU tar puts the global header first")
        let entries = try ArchiveFixtures.entries(ofFile: archive)
        #expect(entries.map(\.header.path) == ["a", "b"])
        for entry in entries {
            #expect(entry.header.paxRecords["SCHILY.xattr.user.note"] == "hello world")
            #expect(entry.header.paxRecords["comment"] == nil)
        }
        #expect(entries.map(\.content) == [Array("a\n".utf8), Array("b\n".utf8)])
    }

    /// Headers GNU tar does not write on demand: base-256 numbers, negative
    /// times, devices, PAX overrides, fractional PAX times.
    @Test func readsPythonBuiltHeaders() throws {
        let scratch = try ArchiveScratchDirectory()
        let gnu = scratch.file("gnu.tar")
        try PythonTarfile.build(gnu, """
        tf = tarfile.open(out, 'w', format=tarfile.GNU_FORMAT)
        def add(name, kind=tarfile.REGTYPE, data=b'', **fields):
            info = tarfile.TarInfo(name); info.type = kind; info.size = len(data)
            for key, value in fields.items(): setattr(info, key, value)
            tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        add('big-ids', data=b'x', uid=10**9, gid=3*10**9, mtime=-86400)
        add('dev/tty0', tarfile.CHRTYPE, devmajor=4, devminor=64)
        add('dev/sda1', tarfile.BLKTYPE, devmajor=8, devminor=3000000)
        add('pipe', tarfile.FIFOTYPE)
        tf.close()
        """)
        try Self.expectSameAsPython(gnu)
        let entries = try ArchiveFixtures.entries(ofFile: gnu).map(\.header)
        #expect(entries[0].uid == 1_000_000_000 && entries[0].gid == 3_000_000_000)
        #expect(entries[0].mtime == -86400)
        #expect(entries[1].type == .char && entries[1].devMajor == 4 && entries[1].devMinor == 64)
        #expect(entries[2].type == .block && entries[2].devMinor == 3_000_000)

        let pax = scratch.file("pax.tar")
        try PythonTarfile.build(pax, """
        tf = tarfile.open(out, 'w', format=tarfile.PAX_FORMAT)
        info = tarfile.TarInfo('x/' + 'n' * 300); info.size = 3; info.uname = 'u' * 40; info.mtime = 1700000000.75
        info.pax_headers = {'SCHILY.xattr.security.selinux': 'system_u:object_r:bin_t:s0', 'LIBARCHIVE.creationtime': '5'}
        tf.addfile(info, io.BytesIO(b'abc'))
        link = tarfile.TarInfo('link'); link.type = tarfile.SYMTYPE; link.linkname = 't' * 200
        tf.addfile(link)
        tf.close()
        """)
        try Self.expectSameAsPython(pax)
        let paxEntries = try ArchiveFixtures.entries(ofFile: pax)
        #expect(paxEntries[0].header.path == "x/" + String(repeating: "n", count: 300))
        #expect(paxEntries[0].header.uname == String(repeating: "u", count: 40))
        #expect(paxEntries[0].header.mtime == 1_700_000_000)
        #expect(paxEntries[0].header.paxRecords == [
            "SCHILY.xattr.security.selinux": "system_u:object_r:bin_t:s0", "LIBARCHIVE.creationtime": "5",
        ])
        #expect(paxEntries[0].content == Array("abc".utf8))
        #expect(paxEntries[1].header.linkName == String(repeating: "t", count: 200))
    }

    @Test func partiallyReadContentIsSkippedAndStaleSourcesFail() throws {
        let scratch = try ArchiveScratchDirectory()
        let tree = try Self.makeTree(in: scratch, long: false)
        let archive = scratch.file("a.tar")
        try Self.tar("gnu", tree, to: archive)
        let reader = TarReader(try FileSource(path: archive))
        var names: [String] = []
        var staleSource: ByteSource?
        while let header = try reader.next() {
            names.append(header.path)
            if header.path == "./d/big" {
                let source = reader.contentSource()
                let head = try source.read(maxLength: 1000)
                #expect(head == Array(Self.big[..<head.count]))
                #expect(!head.isEmpty)
                staleSource = source
            }
            if header.path == "./d/f" {
                #expect(try reader.readContent(maxLength: 2) == Array("he".utf8))
                #expect(try reader.readContent(maxLength: 100) == Array("llo\n".utf8))
                #expect(try reader.readContent(maxLength: 100) == [])
            }
        }
        #expect(names.contains("./d/f") && names.contains("./fifo"))
        #expect(try reader.next() == nil)
        let stale = ArchiveFixtures.thrownError { _ = try staleSource?.read(maxLength: 10) }
        #expect(stale?.code == .internal)
    }
}

import Foundation
import Testing
@testable import Engine

@Suite struct TarWriterTests {
    static let longDirectory = "usr/share/" + String(repeating: "l", count: 140)
    static let longPath = longDirectory + "/" + String(repeating: "m", count: 130) + ".conf"
    static let splitPath = String(repeating: "a", count: 90) + "/" + String(repeating: "b", count: 90)
    static let big = ArchiveFixtures.randomBytes(count: 700_000, seed: 11)

    /// Entries covering every reason for a PAX header plus the plain cases.
    static let entries: [(TarHeader, [UInt8])] = [
        (TarHeader(path: "usr", type: .directory, mode: 0o755, mtime: 1_700_000_000), []),
        (TarHeader(path: "usr/bin/tool", mode: 0o4755, uid: 0, gid: 0, uname: "root", gname: "root", mtime: 1_700_000_000, size: Int64(big.count)), big),
        (TarHeader(path: "etc/config", mode: 0o640, uid: 1000, gid: 1000, uname: "alice", gname: "staff", mtime: 1_700_000_001, size: 6), Array("hello\n".utf8)),
        (TarHeader(path: longDirectory, type: .directory, mode: 0o700, mtime: 1_700_000_000), []),
        (TarHeader(path: longPath, mode: 0o644, mtime: 1_600_000_000, size: 5), Array("long\n".utf8)),
        (TarHeader(path: splitPath, mode: 0o600, mtime: 1_600_000_000, size: 6), Array("split\n".utf8)),
        (TarHeader(path: "usr/link-to-long", type: .symlink, mode: 0o777, mtime: 1_700_000_000, linkName: "/" + longPath), []),
        (TarHeader(path: "etc/hard", type: .hardlink, mode: 0o640, mtime: 1_700_000_001, linkName: "etc/config"), []),
        (TarHeader(path: "big-ids", mode: 0o644, uid: 3_000_000, gid: 70_000_000, uname: String(repeating: "u", count: 40), mtime: 1_700_000_000, size: 1), Array("x".utf8)),
        (TarHeader(path: "ancient", mode: 0o644, mtime: -86_400, size: 0), []),
        (TarHeader(path: "labelled", mode: 0o644, mtime: 1_700_000_000, size: 2, paxRecords: ["SCHILY.xattr.user.label": "blue sky"]), Array("l\n".utf8)),
        (TarHeader(path: "fifo", type: .fifo, mode: 0o600, mtime: 1_700_000_000), []),
        (TarHeader(path: "ünïcode-名前", mode: 0o644, mtime: 1_700_000_000, size: 3), Array("utf".utf8)),
    ]

    static func write(_ entries: [(TarHeader, [UInt8])]) throws -> [UInt8] {
        let sink = MemorySink()
        let writer = TarWriter(sink)
        for (index, (header, bytes)) in entries.enumerated() {
            // Alternate the two append forms so both are exercised.
            if index.isMultiple(of: 2) {
                try writer.append(header, bytes: bytes)
            } else {
                try writer.append(header, content: header.size == 0 ? nil : MemorySource(bytes))
            }
        }
        try writer.finish()
        return sink.bytes
    }

    @Test func outputIsDeterministicAndBlockAligned() throws {
        let first = try Self.write(Self.entries)
        #expect(try Self.write(Self.entries) == first)
        #expect(first.count % 512 == 0)
        #expect(first.suffix(1024).allSatisfy { $0 == 0 })
    }

    @Test func gnuTarListsAndExtractsIt() throws {
        let scratch = try ArchiveScratchDirectory()
        let archive = try scratch.write("out.tar", try Self.write(Self.entries))
        let listing = try ArchiveTool.text("tar", ["--numeric-owner", "-tvf", archive])
        let lines = listing.split(separator: "\n")
        #expect(lines.count == Self.entries.count)
        #expect(lines.contains { $0.hasPrefix("-rwsr-xr-x 0/0") && $0.hasSuffix(" usr/bin/tool") })
        #expect(lines.contains { $0.hasPrefix("-rw-r----- 1000/1000") && $0.hasSuffix(" etc/config") })
        #expect(lines.contains { $0.hasPrefix("-rw-r--r-- 3000000/70000000") && $0.hasSuffix(" big-ids") })
        #expect(lines.contains { $0.hasSuffix(" " + Self.longPath) })
        #expect(lines.contains { $0.hasSuffix(" usr/link-to-long -> /" + Self.longPath) })
        #expect(lines.contains { $0.hasSuffix(" etc/hard link to etc/config") })
        #expect(lines.contains { $0.hasPrefix("prw-------") && $0.hasSuffix(" fifo") })

        let out = scratch.file("x")
        try scratch.makeDirectory("x")
        try ArchiveTool.run("tar", ["--no-same-owner", "-xf", archive, "-C", out])
        #expect(try scratch.read("x/usr/bin/tool") == Self.big)
        #expect(try scratch.read("x/" + Self.longPath) == Array("long\n".utf8))
        #expect(try scratch.read("x/" + Self.splitPath) == Array("split\n".utf8))
        #expect(try scratch.read("x/ünïcode-名前") == Array("utf".utf8))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.file("x/usr/link-to-long")) == "/" + Self.longPath)
        let config = try FileManager.default.attributesOfItem(atPath: scratch.file("x/etc/config"))
        let hard = try FileManager.default.attributesOfItem(atPath: scratch.file("x/etc/hard"))
        let inode = try #require((config[.systemFileNumber] as? NSNumber)?.uint64Value)
        #expect((hard[.systemFileNumber] as? NSNumber)?.uint64Value == inode)
        #expect((config[.posixPermissions] as? NSNumber)?.intValue == 0o640)
        #expect((config[.modificationDate] as? Date)?.timeIntervalSince1970 == 1_700_000_001)
        let ancient = try FileManager.default.attributesOfItem(atPath: scratch.file("x/ancient"))
        #expect((ancient[.modificationDate] as? Date)?.timeIntervalSince1970 == -86_400)
    }

    @Test func pythonTarfileReadsTheSameHeaders() throws {
        let scratch = try ArchiveScratchDirectory()
        let archive = try scratch.write("out.tar", try Self.write(Self.entries))
        let members = try PythonTarfile.members(of: archive)
        #expect(members.count == Self.entries.count)
        for ((header, bytes), member) in zip(Self.entries, members) {
            #expect(member.name == header.path, "Python strips a directory's trailing slash too")
            #expect(member.mode == Int(header.mode))
            #expect(member.uid == header.uid && member.gid == header.gid)
            #expect(member.uname == header.uname && member.gname == header.gname)
            #expect(member.mtime == header.mtime)
            #expect(member.linkname == header.linkName)
            #expect(member.size == header.size)
            #expect(member.pax.filter { !TarExtensions.mappedKeys.contains($0.key) } == header.paxRecords)
            if header.type == .regular { #expect(member.md5 == MD5.hexDigest(of: bytes), "\(header.path)") }
        }
    }

    @Test func ownReaderRoundTripsEveryField() throws {
        let read = try ArchiveFixtures.entries(of: TarReader(MemorySource(try Self.write(Self.entries))))
        #expect(read.count == Self.entries.count)
        for ((header, bytes), entry) in zip(Self.entries, read) {
            var expected = header
            if header.type == .directory { expected.path += "/" }
            #expect(entry.header == expected)
            #expect(entry.content == bytes)
        }
    }

    @Test func paxHeadersAreUsedOnlyWhenNeeded() throws {
        func typeflags(_ header: TarHeader, _ bytes: [UInt8] = []) throws -> [UInt8] {
            var result: [UInt8] = []
            let data = try Self.write([(header, bytes)])
            var offset = 0
            while offset + 512 <= data.count, data[offset..<(offset + 512)].contains(where: { $0 != 0 }) {
                let block = Array(data[offset..<(offset + 512)])
                result.append(block[156])
                let size = try TarNumber.parse(block[124..<136], field: "size", entry: "")
                offset += 512 + Int(size) + TarField.padding(for: size)
            }
            return result
        }
        let x = UInt8(ascii: "x")
        #expect(try typeflags(TarHeader(path: "short")) == [UInt8(ascii: "0")])
        #expect(try typeflags(TarHeader(path: Self.splitPath)) == [UInt8(ascii: "0")])
        #expect(try typeflags(TarHeader(path: Self.longPath)) == [x, UInt8(ascii: "0")])
        #expect(try typeflags(TarHeader(path: "l", type: .symlink, linkName: String(repeating: "t", count: 101))) == [x, UInt8(ascii: "2")])
        #expect(try typeflags(TarHeader(path: "u", uid: 0o7777777)) == [UInt8(ascii: "0")])
        #expect(try typeflags(TarHeader(path: "u", uid: 0o7777777 + 1)) == [x, UInt8(ascii: "0")])
        #expect(try typeflags(TarHeader(path: "t", mtime: -1)) == [x, UInt8(ascii: "0")])
        #expect(try typeflags(TarHeader(path: "p", paxRecords: ["SCHILY.xattr.user.a": "b"])) == [x, UInt8(ascii: "0")])
    }

    @Test func contentMustMatchTheDeclaredSize() {
        func attempt(_ header: TarHeader, content: ByteSource?) -> EngineError? {
            ArchiveFixtures.thrownError { try TarWriter(MemorySink()).append(header, content: content) }
        }
        #expect(attempt(TarHeader(path: "f", size: 10), content: MemorySource(Array(repeating: 1, count: 9)))?.code == .archive)
        #expect(attempt(TarHeader(path: "f", size: 10), content: MemorySource(Array(repeating: 1, count: 11)))?.code == .archive)
        #expect(attempt(TarHeader(path: "f", size: 10), content: nil)?.code == .archive)
        #expect(attempt(TarHeader(path: "f", size: 3), content: MemorySource([1, 2, 3])) == nil)
        let bytes = ArchiveFixtures.thrownError { try TarWriter(MemorySink()).append(TarHeader(path: "f", size: 4), bytes: [1]) }
        #expect(bytes?.code == .archive)
    }

    @Test func invalidHeadersAreRefused() {
        let invalid = [
            TarHeader(path: ""),
            TarHeader(path: "a\u{0}b"),
            TarHeader(path: "d", type: .directory, size: 5),
            TarHeader(path: "s", type: .symlink),
            TarHeader(path: "m", mode: 0o17777),
            TarHeader(path: "n", uid: -1),
            TarHeader(path: "p", paxRecords: ["a=b": "c"]),
        ]
        for header in invalid {
            let error = ArchiveFixtures.thrownError { try TarWriter(MemorySink()).append(header, bytes: Array(repeating: 0, count: Int(header.size))) }
            #expect(error?.code == .archive, "\(header)")
        }
    }

    @Test func finishFinishesTheSinkOnceAndRefusesLaterEntries() throws {
        final class CountingSink: ByteSink {
            var finished = 0
            func write(_ bytes: UnsafeRawBufferPointer) throws {}
            func finish() throws { finished += 1 }
        }
        let sink = CountingSink()
        let writer = TarWriter(sink)
        try writer.finish()
        try writer.finish()
        #expect(sink.finished == 1)
        #expect(ArchiveFixtures.thrownError { try writer.append(TarHeader(path: "late"), bytes: []) }?.code == .internal)
    }
}

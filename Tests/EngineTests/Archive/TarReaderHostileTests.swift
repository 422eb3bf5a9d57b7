import Foundation
import Testing
@testable import Engine

/// Malformed and hostile tar input must end in `EngineError(.archive)`,
/// never in a crash, a hang or an unbounded allocation.
@Suite struct TarReaderHostileTests {
    typealias Fixtures = ArchiveFixtures

    static func readAll(_ bytes: [UInt8]) throws -> [(header: TarHeader, content: [UInt8])] {
        try Fixtures.entries(of: TarReader(MemorySource(bytes)))
    }

    static func expectArchiveError(_ bytes: [UInt8], mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = Fixtures.thrownError { _ = try readAll(bytes) }
        #expect(error?.code == .archive, "got \(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.message.contains(text) == true, "message: \(error?.message ?? "none")", sourceLocation: sourceLocation)
    }

    static let wellFormed: [UInt8] =
        Fixtures.tarBlock(name: "first", size: 1000) + Fixtures.blocks(Fixtures.randomBytes(count: 1000))
        + Fixtures.tarBlock(name: "second", size: 5) + Fixtures.blocks(Array("hello".utf8)) + Fixtures.endOfArchive

    @Test func wellFormedFixtureReads() throws {
        let entries = try Self.readAll(Self.wellFormed)
        #expect(entries.map(\.header.path) == ["first", "second"])
        #expect(entries[1].content == Array("hello".utf8))
    }

    @Test func truncationInsideHeadersOrContentFails() {
        // Inside the first header, inside its content, inside the padding, inside the second header.
        for cut in [100, 511, 700, 1400, 1600] {
            Self.expectArchiveError(Array(Self.wellFormed[..<cut]), mentioning: "truncated")
        }
    }

    @Test func endOfStreamBetweenEntriesIsAccepted() throws {
        // Like GNU tar and Go, a stream ending on an entry boundary without the zero blocks still reads.
        let cut = 512 + 1024
        #expect(try Self.readAll(Array(Self.wellFormed[..<cut])).map(\.header.path) == ["first"])
    }

    @Test func badChecksumFails() {
        var bytes = Self.wellFormed
        bytes[3] ^= 0x01
        Self.expectArchiveError(bytes, mentioning: "checksum")
    }

    @Test func garbageInNumericFieldFails() {
        var block = Fixtures.tarBlock(name: "x")
        block.replaceSubrange(124..<136, with: Array("12a45670000\u{0}".utf8))
        Self.expectArchiveError(Fixtures.withChecksum(block) + Fixtures.endOfArchive, mentioning: "size")
    }

    @Test func absurdSizesFail() {
        // Largest octal size with no data behind it: truncation, found without allocating.
        Self.expectArchiveError(Fixtures.tarBlock(name: "huge", size: 0o77777777777), mentioning: "truncated")
        // Base-256 sizes beyond any real file, and negative ones.
        let huge: [UInt8] = [0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        Self.expectArchiveError(Fixtures.tarBlock(name: "huge", sizeField: huge), mentioning: "size")
        let overflow: [UInt8] = [0x80] + [UInt8](repeating: 0xff, count: 11)
        Self.expectArchiveError(Fixtures.tarBlock(name: "huge", sizeField: overflow), mentioning: "size")
        let negative: [UInt8] = [UInt8](repeating: 0xff, count: 12)
        Self.expectArchiveError(Fixtures.tarBlock(name: "negative", sizeField: negative), mentioning: "size")
    }

    @Test func absurdExtensionHeadersFail() {
        Self.expectArchiveError(Fixtures.tarBlock(name: "././@PaxHeader", typeflag: "x", size: 50 << 20), mentioning: "PAX extended header")
        Self.expectArchiveError(Fixtures.tarBlock(name: "././@LongLink", typeflag: "L", size: 1 << 30), mentioning: "GNU long name")
    }

    static func paxArchive(_ records: String) -> [UInt8] {
        let data = Array(records.utf8)
        return Fixtures.tarBlock(name: "PaxHeaders/x", typeflag: "x", size: Int64(data.count)) + Fixtures.blocks(data)
            + Fixtures.tarBlock(name: "x", size: 0) + Fixtures.endOfArchive
    }

    @Test func lyingPaxRecordsFail() throws {
        #expect(try Self.readAll(Self.paxArchive("12 path=abc\n")).first?.header.path == "abc")
        Self.expectArchiveError(Self.paxArchive("99 path=abc\n"), mentioning: "claims")
        Self.expectArchiveError(Self.paxArchive("11 path=abc\n"), mentioning: "newline")
        Self.expectArchiveError(Self.paxArchive("3 p\n"), mentioning: "claims")
        Self.expectArchiveError(Self.paxArchive("9 =value\n"), mentioning: "keyword")
        Self.expectArchiveError(Self.paxArchive("path=abc\n"), mentioning: "length")
        Self.expectArchiveError(Self.paxArchive("99999999999999999999 path=abc\n"), mentioning: "absurd")
        Self.expectArchiveError(Self.paxArchive("12 size=-12\n"), mentioning: "size")
        Self.expectArchiveError(Self.paxArchive("13 uid=1x000\n"), mentioning: "uid")
    }

    @Test func paxSizeOverrideIsHonoured() throws {
        let data = Array("0123456789".utf8)
        let bytes = Fixtures.tarBlock(name: "PaxHeaders/x", typeflag: "x", size: 11) + Fixtures.blocks(Array("11 size=10\n".utf8))
            + Fixtures.tarBlock(name: "x", size: 0) + Fixtures.blocks(data) + Fixtures.endOfArchive
        let entries = try Self.readAll(bytes)
        #expect(entries.first?.header.size == 10)
        #expect(entries.first?.content == data)
    }

    @Test func unsupportedTypesAndSparseFilesFail() {
        Self.expectArchiveError(Fixtures.tarBlock(name: "sparse", typeflag: "S") + Fixtures.endOfArchive, mentioning: "'S'")
        Self.expectArchiveError(Self.paxArchive("22 GNU.sparse.major=1\n"), mentioning: "sparse")
    }

    @Test func extensionHeaderAtEndOfArchiveFails() {
        let data = Array("12 path=abc\n".utf8)
        let bytes = Fixtures.tarBlock(name: "PaxHeaders/x", typeflag: "x", size: Int64(data.count)) + Fixtures.blocks(data)
        Self.expectArchiveError(bytes, mentioning: "extended header")
    }

    @Test func endlessExtensionHeadersFail() {
        let longName = Fixtures.tarBlock(name: "././@LongLink", typeflag: "L", size: 4) + Fixtures.blocks(Array("abc\u{0}".utf8))
        let bytes = Array([[UInt8]](repeating: longName, count: 40).joined()) + Fixtures.endOfArchive
        Self.expectArchiveError(bytes, mentioning: "extension headers")
    }

    @Test func randomBytesNeverCrash() {
        // Valid-looking header blocks with scrambled fields: each either reads or fails with .archive.
        for seed in UInt64(1)...200 {
            var block = Fixtures.tarBlock(name: "fuzz", size: 40)
            let noise = Fixtures.randomBytes(count: 24, seed: seed)
            for index in 0..<12 {
                block[Int(noise[index]) % 500] = noise[index + 12]
            }
            let bytes = Fixtures.withChecksum(block) + Fixtures.blocks(Fixtures.randomBytes(count: 40, seed: seed)) + Fixtures.endOfArchive
            if let error = Fixtures.thrownError({ _ = try Self.readAll(bytes) }) {
                #expect(error.code == .archive, "seed \(seed): \(error)")
            }
        }
    }
}

import Foundation
import Testing
@testable import Engine

@Suite struct CompressionTests {
    /// Compressible text followed by incompressible bytes, a few MiB in all,
    /// so every decoder crosses many chunk boundaries.
    static let sample: [UInt8] = Array((1...60_000).map { "line \($0)\n" }.joined().utf8)
        + ArchiveFixtures.randomBytes(count: 2 << 20)

    static func compressed(_ tool: String, _ arguments: [String], _ data: [UInt8], in scratch: ArchiveScratchDirectory) throws -> String {
        let input = try scratch.write("input-\(tool)", data)
        try ArchiveTool.run(tool, arguments + [input])
        return input
    }

    static func decode(_ source: ByteSource, chunk: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let bytes = try source.read(maxLength: chunk)
            if bytes.isEmpty { return out }
            out += bytes
        }
    }

    @Test(arguments: [("gzip", "gz"), ("xz", "xz"), ("zstd", "zst")])
    func decodesWhatTheToolWrote(tool: String, suffix: String) throws {
        let scratch = try ArchiveScratchDirectory()
        let input = try scratch.write("data", Self.sample)
        try ArchiveTool.run(tool, ["-q", "-k", input])
        let file = input + "." + suffix
        for chunk in [1000, 1 << 20] {
            let decoded = try Self.decode(try decompressingSource(try FileSource(path: file)), chunk: chunk)
            #expect(decoded == Self.sample, "\(tool), chunk \(chunk)")
        }
        #expect(try Self.decoder(tool, try FileSource(path: file).readAll()).readAll() == Self.sample)
    }

    @Test(arguments: [("gzip", "gz"), ("xz", "xz"), ("zstd", "zst")])
    func decodesConcatenatedStreams(tool: String, suffix: String) throws {
        let scratch = try ArchiveScratchDirectory()
        let first = try scratch.write("first", "first part\n")
        let second = try scratch.write("second", Self.sample)
        try ArchiveTool.run(tool, ["-q", "-k", first, second])
        let joined = try scratch.read("first.\(suffix)") + scratch.read("second.\(suffix)")
        let decoded = try decompressingSource(MemorySource(joined)).readAll()
        #expect(decoded == Array("first part\n".utf8) + Self.sample)
    }

    static func decoder(_ tool: String, _ bytes: [UInt8]) throws -> ByteSource {
        switch tool {
        case "gzip": try GzipDecompressSource(MemorySource(bytes))
        case "xz": try XzDecompressSource(MemorySource(bytes))
        default: try ZstdDecompressSource(MemorySource(bytes))
        }
    }

    @Test(arguments: [("gzip", "gz"), ("xz", "xz"), ("zstd", "zst")])
    func truncatedStreamsFail(tool: String, suffix: String) throws {
        let scratch = try ArchiveScratchDirectory()
        let input = try scratch.write("data", Self.sample)
        try ArchiveTool.run(tool, ["-q", "-k", input])
        let whole = try scratch.read("data.\(suffix)")
        for cut in [1, 10, whole.count / 2, whole.count - 1] {
            let error = ArchiveFixtures.thrownError { _ = try Self.decoder(tool, Array(whole[..<cut])).readAll() }
            #expect(error?.code == .archive, "\(tool) cut at \(cut): \(String(describing: error))")
            #expect(error?.message.contains("truncated") == true, "\(tool) cut at \(cut): \(String(describing: error))")
            // Sniffing needs the whole magic number; past it the same decoder runs.
            if cut >= CompressionFormat.sniffLength {
                let sniffed = ArchiveFixtures.thrownError { _ = try decompressingSource(MemorySource(Array(whole[..<cut]))).readAll() }
                #expect(sniffed?.code == .archive)
            }
        }
    }

    @Test(arguments: [("gzip", "gz"), ("xz", "xz"), ("zstd", "zst")])
    func corruptStreamsFail(tool: String, suffix: String) throws {
        let scratch = try ArchiveScratchDirectory()
        let input = try scratch.write("data", Self.sample)
        try ArchiveTool.run(tool, ["-q", "-k", input])
        var bytes = try scratch.read("data.\(suffix)")
        for offset in stride(from: bytes.count / 3, to: bytes.count / 3 + 64, by: 1) { bytes[offset] ^= 0x5a }
        let error = ArchiveFixtures.thrownError { _ = try decompressingSource(MemorySource(bytes)).readAll() }
        #expect(error?.code == .archive)
        #expect(error?.message.contains(tool == "gzip" ? "gzip" : tool) == true)
    }

    @Test func garbageAfterGzipFailsButZeroPaddingIsAccepted() throws {
        let scratch = try ArchiveScratchDirectory()
        let input = try scratch.write("data", "payload\n")
        try ArchiveTool.run("gzip", ["-k", input])
        let gz = try scratch.read("data.gz")
        #expect(try GzipDecompressSource(MemorySource(gz + [UInt8](repeating: 0, count: 700))).readAll() == Array("payload\n".utf8))
        let error = ArchiveFixtures.thrownError { _ = try GzipDecompressSource(MemorySource(gz + Array("junk".utf8))).readAll() }
        #expect(error?.code == .archive)
    }

    @Test func sniffingPassesPlainDataThroughAndRefusesBzip2() throws {
        let plain = Array("not compressed at all".utf8)
        #expect(try decompressingSource(MemorySource(plain)).readAll() == plain)
        #expect(try decompressingSource(MemorySource([])).readAll() == [])
        #expect(try decompressingSource(MemorySource([0x1f])).readAll() == [0x1f])

        let scratch = try ArchiveScratchDirectory()
        let input = try scratch.write("data", plain)
        try ArchiveTool.run("bzip2", ["-k", input])
        let error = ArchiveFixtures.thrownError { _ = try decompressingSource(try FileSource(path: input + ".bz2")) }
        #expect(error?.code == .archive)
        #expect(error?.message.contains("bzip2") == true)
    }

    @Test func emptyGzipInputIsTruncated() {
        let error = ArchiveFixtures.thrownError { _ = try GzipDecompressSource(MemorySource([])).readAll() }
        #expect(error?.code == .archive)
    }

    @Test(arguments: [Int32(1), 6, 9])
    func gzipSinkOutputIsReadByGzipAndDeterministic(level: Int32) throws {
        func compress() throws -> [UInt8] {
            let memory = MemorySink()
            let sink = try GzipCompressSink(memory, level: level)
            // Uneven writes, to cross the sink's buffer boundaries.
            var offset = 0
            var step = 1
            while offset < Self.sample.count {
                let end = min(Self.sample.count, offset + step)
                try sink.write(Array(Self.sample[offset..<end]))
                offset = end
                step = step * 3 + 7
            }
            try sink.finish()
            return memory.bytes
        }
        let first = try compress()
        #expect(try compress() == first)
        // RFC 1952 header: magic, deflate, no flags, MTIME 0, XFL, OS 255.
        #expect(Array(first[0..<8]) == [0x1f, 0x8b, 8, 0, 0, 0, 0, 0])
        #expect(first[9] == 255)

        let scratch = try ArchiveScratchDirectory()
        let file = try scratch.write("out.gz", first)
        try ArchiveTool.run("gzip", ["-t", file])
        try ArchiveTool.run("gzip", ["-d", file])
        #expect(try scratch.read("out") == Self.sample)
    }

    @Test func gzipSinkFinishesDownstreamAndHandlesEmptyInput() throws {
        final class CountingSink: ByteSink {
            var bytes: [UInt8] = []
            var finishCount = 0
            func write(_ data: UnsafeRawBufferPointer) throws { bytes += data }
            func finish() throws { finishCount += 1 }
        }
        let counting = CountingSink()
        let sink = try GzipCompressSink(counting, level: 6)
        try sink.finish()
        #expect(counting.finishCount == 1)
        #expect(try GzipDecompressSource(MemorySource(counting.bytes)).readAll() == [])
        #expect(ArchiveFixtures.thrownError { _ = try GzipCompressSink(MemorySink(), level: 12) }?.code == .invalidInput)
    }

    @Test func fileStreamsRoundTripAndReportMissingFiles() throws {
        let scratch = try ArchiveScratchDirectory()
        let sink = try FileSink(path: scratch.file("copy"))
        try MemorySource(Self.sample).copy(to: sink)
        try sink.finish()
        #expect(try scratch.read("copy") == Self.sample)
        #expect(try FileSource(path: scratch.file("copy")).readAll() == Self.sample)

        let missing = ArchiveFixtures.thrownError { _ = try FileSource(path: scratch.file("absent")) }
        #expect(missing?.code == .io)
        #expect(missing?.message.contains("absent") == true)
        let unwritable = ArchiveFixtures.thrownError { _ = try FileSink(path: scratch.file("no/such/dir/file")) }
        #expect(unwritable?.code == .io)
    }
}

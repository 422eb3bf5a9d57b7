import Foundation
import Testing
@testable import Engine

/// A directory under the system temp dir, removed when released.
final class ArchiveScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "engine-archive-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ relative: String) -> String {
        path + "/" + relative
    }

    /// Writes a file, creating its parent directories.
    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8]) throws -> String {
        let target = file(relative)
        let parent = (target as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        try write(relative, Array(text.utf8))
    }

    func makeDirectory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: file(relative), withIntermediateDirectories: true)
    }

    func read(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: file(relative))))
    }
}

/// A command that exited with a non-zero status.
struct ArchiveToolFailure: Error, CustomStringConvertible {
    let command: [String]
    let status: Int32
    let stderr: String
    var description: String { "\(command.joined(separator: " ")) exited with \(status): \(stderr)" }
}

enum ArchiveTool {
    /// Runs a program found on PATH with an argument array and returns its
    /// standard output. Output goes through files so large outputs cannot
    /// fill a pipe and block the child.
    @discardableResult
    static func run(_ program: String, _ arguments: [String], in directory: String? = nil) throws -> [UInt8] {
        let scratch = try ArchiveScratchDirectory()
        let outPath = scratch.file("stdout")
        let errPath = scratch.file("stderr")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: try scratch.read("stderr"), as: UTF8.self)
            throw ArchiveToolFailure(command: [program] + arguments, status: process.terminationStatus, stderr: message)
        }
        return try scratch.read("stdout")
    }

    static func text(_ program: String, _ arguments: [String], in directory: String? = nil) throws -> String {
        String(decoding: try run(program, arguments, in: directory), as: UTF8.self)
    }

    /// `md5sum` of a file, as the independent check for MD5 and content.
    static func md5sum(_ path: String) throws -> String {
        String(try text("md5sum", [path]).prefix(32))
    }
}

enum ArchiveFixtures {
    /// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
    static func randomBytes(count: Int, seed: UInt64 = 0x9e37_79b9_7f4a_7c15) -> [UInt8] {
        var state = seed | 1
        var out = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            var word = state &* 0x2545_f491_4f6c_dd1d
            for _ in 0..<8 where index < count {
                out[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return out
    }

    /// Reads every entry of a tar stream with its full content.
    static func entries(of reader: TarReader) throws -> [(header: TarHeader, content: [UInt8])] {
        var result: [(header: TarHeader, content: [UInt8])] = []
        while let header = try reader.next() {
            result.append((header, try reader.contentSource().readAll(limit: 256 << 20)))
        }
        return result
    }

    static func entries(ofFile path: String) throws -> [(header: TarHeader, content: [UInt8])] {
        try entries(of: TarReader(try decompressingSource(try FileSource(path: path))))
    }

    /// A raw tar header block with a valid checksum, for building hostile
    /// archives byte by byte (independent of `TarWriter`).
    static func tarBlock(
        name: String, typeflag: Character = "0", size: Int64 = 0, sizeField: [UInt8]? = nil, magic: String = "ustar\u{0}00"
    ) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], _ offset: Int) { block.replaceSubrange(offset..<(offset + bytes.count), with: bytes) }
        put(Array(name.utf8.prefix(100)), 0)
        put(Array("0000644\u{0}".utf8), 100)
        put(Array("0000000\u{0}".utf8), 108)
        put(Array("0000000\u{0}".utf8), 116)
        put(sizeField ?? Array((String(repeating: "0", count: 11 - String(size, radix: 8).count) + String(size, radix: 8) + "\u{0}").utf8), 124)
        put(Array("00000000000\u{0}".utf8), 136)
        block[156] = typeflag.asciiValue ?? 0x30
        put(Array(magic.utf8), 257)
        return withChecksum(block)
    }

    /// Recomputes the checksum of a (possibly edited) header block.
    static func withChecksum(_ block: [UInt8]) -> [UInt8] {
        var block = block
        block.replaceSubrange(148..<156, with: Array("        ".utf8))
        let sum = block.reduce(0) { $0 + Int($1) }
        let octal = String(sum, radix: 8)
        block.replaceSubrange(148..<156, with: Array((String(repeating: "0", count: 6 - octal.count) + octal).utf8) + [0, 0x20])
        return block
    }

    /// Content padded to whole blocks.
    static func blocks(_ content: [UInt8]) -> [UInt8] {
        content + [UInt8](repeating: 0, count: (512 - content.count % 512) % 512)
    }

    static let endOfArchive = [UInt8](repeating: 0, count: 1024)
}

/// Python's tarfile as an independent reader: one JSON object per member.
enum PythonTarfile {
    struct Member: Decodable {
        let name: String
        let type: String
        let mode: Int
        let uid: Int
        let gid: Int
        let uname: String
        let gname: String
        let mtime: Int64
        let size: Int64
        let linkname: String
        let devmajor: Int
        let devminor: Int
        let pax: [String: String]
        let md5: String?
    }

    static let script = """
    import sys, tarfile, json, hashlib
    out = []
    with tarfile.open(sys.argv[1]) as tf:
        for m in tf:
            d = dict(name=m.name, type=m.type.decode('latin-1'), mode=m.mode, uid=m.uid, gid=m.gid,
                     uname=m.uname, gname=m.gname, mtime=int(m.mtime), size=m.size, linkname=m.linkname,
                     devmajor=m.devmajor, devminor=m.devminor, pax=dict(m.pax_headers), md5=None)
            if m.isreg():
                d['md5'] = hashlib.md5(tf.extractfile(m).read()).hexdigest()
            out.append(d)
    print(json.dumps(out))
    """

    static func members(of path: String) throws -> [Member] {
        try JSONDecoder().decode([Member].self, from: Data(try ArchiveTool.run("python3", ["-c", script, path])))
    }

    /// Runs a Python snippet with `tarfile` imported and `out` bound to the
    /// archive path, to build archives GNU tar cannot produce on demand.
    static func build(_ path: String, _ body: String) throws {
        let program = "import sys, tarfile, io\nout = sys.argv[1]\n" + body
        try ArchiveTool.run("python3", ["-c", program, path])
    }
}

extension ArchiveFixtures {
    /// The engine error a throwing call produced (nil if it did not throw),
    /// for asserting on its code and message.
    static func thrownError(_ body: () throws -> Void) -> EngineError? {
        do {
            try body()
            return nil
        } catch let error as EngineError {
            return error
        } catch {
            Issue.record("expected an EngineError, got \(error)")
            return nil
        }
    }
}

/// A member of an ar archive.
public struct ArMember: Sendable, Hashable {
    /// The name, without the trailing '/' GNU ar appends.
    public var name: String
    public var size: Int64
    public var mode: UInt32
    public var mtime: Int64
    public var uid: Int
    public var gid: Int
}

/// Reads the common ar format used by .deb packages (deb(5)): the global
/// header "!<arch>\n", then members, each a 60-byte header and its data,
/// padded to an even offset with "\n".
///
/// Header fields (ar(5), deb(5)): name 16 bytes, mtime 12 (decimal), uid 6,
/// gid 6, mode 8 (octal), size 10 (decimal), then the terminator "`\n".
public final class ArReader: EntryContentReader {
    static let magic = Array("!<arch>\n".utf8)
    static let headerSize = 60

    private let input: ArchiveInput
    private var remaining: Int64 = 0
    private var padding: Int64 = 0
    private var currentName = ""
    private(set) var entryGeneration = 0

    /// Reads and checks the global header.
    public init(_ source: ByteSource) throws {
        input = ArchiveInput(source)
        let magic = try input.read(exactly: Self.magic.count)
        guard magic == Self.magic else {
            throw EngineError(.archive, "not an ar archive: it does not start with \"!<arch>\\n\"")
        }
    }

    /// The next member, or nil at the end of the archive. Unread content of
    /// the previous member is skipped.
    public func next() throws -> ArMember? {
        entryGeneration += 1
        let toSkip = remaining + padding
        let skipped = try input.skip(toSkip)
        // A missing pad byte after the last member is tolerated, as GNU ar does.
        guard skipped >= remaining else { throw truncated("inside member \"\(currentName)\"") }
        remaining = 0
        padding = 0
        let block = try input.read(exactly: Self.headerSize)
        if block.isEmpty { return nil }
        guard block.count == Self.headerSize else { throw truncated("inside a member header") }
        let member = try Self.parseHeader(block)
        remaining = member.size
        padding = member.size % 2
        currentName = member.name
        return member
    }

    /// Reads up to `maxLength` bytes of the current member; empty at its end.
    public func readContent(maxLength: Int) throws -> [UInt8] {
        guard remaining > 0, maxLength > 0 else { return [] }
        let chunk = try input.read(upTo: Int(min(Int64(maxLength), remaining)))
        guard !chunk.isEmpty else { throw truncated("inside member \"\(currentName)\"") }
        remaining -= Int64(chunk.count)
        return chunk
    }

    /// The current member's content, bounded to its size; valid until `next()`.
    public func contentSource() -> ByteSource {
        EntryContentSource(self)
    }

    private static func parseHeader(_ block: [UInt8]) throws -> ArMember {
        let rawName = String(decoding: block[0..<16], as: UTF8.self)
        var name = String(rawName.reversed().drop { $0 == " " }.reversed())
        guard block[58] == UInt8(ascii: "`"), block[59] == UInt8(ascii: "\n") else {
            throw EngineError(.archive, "ar member header for \"\(name)\" is corrupt (bad terminator)")
        }
        // GNU ar ends names with '/'; "/" and "//" are its symbol and name tables.
        if name.count > 1, name.hasSuffix("/"), name != "//" { name.removeLast() }
        func number(_ range: Range<Int>, radix: Int, _ field: String) throws -> Int64 {
            let text = String(decoding: block[range], as: UTF8.self).trimmingSpaces()
            if text.isEmpty { return 0 }
            guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int64(text, radix: radix), value >= 0 else {
                throw EngineError(.archive, "ar member header for \"\(name)\" has a malformed \(field) field \"\(text)\"")
            }
            return value
        }
        return ArMember(
            name: name,
            size: try number(48..<58, radix: 10, "size"),
            mode: UInt32(truncatingIfNeeded: try number(40..<48, radix: 8, "mode") & 0o7777),
            mtime: try number(16..<28, radix: 10, "mtime"),
            uid: Int(try number(28..<34, radix: 10, "uid")),
            gid: Int(try number(34..<40, radix: 10, "gid")))
    }

    private func truncated(_ where: String) -> EngineError {
        EngineError(.archive, "ar archive is truncated: it ends \(`where`) (at byte \(input.position))")
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

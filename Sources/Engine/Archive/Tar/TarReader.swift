/// Reads a tar stream entry by entry, in one pass.
///
/// Understands ustar (with the prefix field), GNU long names and link names
/// ('L', 'K'), base-256 numbers, and PAX extended headers ('x'; global 'g'
/// headers are skipped). Every malformed or hostile input (bad checksum,
/// truncation, absurd sizes, lying PAX records) ends in `EngineError(.archive)`.
///
/// `next()` skips whatever content of the previous entry was not read.
public final class TarReader: EntryContentReader {
    /// Extended headers are read into memory; larger ones are refused.
    static let maxExtendedHeaderSize: Int64 = 1 << 20
    /// GNU long names and link targets; PATH_MAX is 4096, this is generous.
    static let maxLongNameSize: Int64 = 64 << 10
    /// Sizes beyond this (1 PiB) are treated as corrupt headers.
    static let maxEntrySize: Int64 = 1 << 50
    /// Extension headers allowed in front of one entry.
    static let maxExtensionHeaders = 32

    private let input: ArchiveInput
    private var remaining: Int64 = 0
    private var padding = 0
    private var currentPath = ""
    private var ended = false
    private(set) var entryGeneration = 0

    public init(_ source: ByteSource) {
        input = ArchiveInput(source)
    }

    /// The next entry's header, or nil after the end-of-archive marker (or
    /// when the stream ends cleanly between entries).
    public func next() throws -> TarHeader? {
        guard !ended else { return nil }
        try skipRemainder()
        entryGeneration += 1
        var extensions = TarExtensions()
        for _ in 0...Self.maxExtensionHeaders {
            guard let raw = try readHeaderBlock() else {
                guard extensions.isEmpty else { throw truncated("after an extended header") }
                ended = true
                return nil
            }
            if try consumeExtension(raw, into: &extensions) { continue }
            let header = try extensions.apply(to: raw)
            remaining = header.size
            padding = TarField.padding(for: header.size)
            currentPath = header.path
            return header
        }
        throw EngineError(.archive, "tar archive has more than \(Self.maxExtensionHeaders) extension headers in a row; it is corrupt")
    }

    /// Reads up to `maxLength` bytes of the current entry; empty at its end.
    public func readContent(maxLength: Int) throws -> [UInt8] {
        guard remaining > 0, maxLength > 0 else { return [] }
        let chunk = try input.read(upTo: Int(min(Int64(maxLength), remaining)))
        guard !chunk.isEmpty else { throw truncated("inside the content of \"\(currentPath)\"") }
        remaining -= Int64(chunk.count)
        return chunk
    }

    /// The current entry's content as a stream, valid until `next()`.
    public func contentSource() -> ByteSource {
        EntryContentSource(self)
    }

    // MARK: - Blocks

    /// One header block, nil at the end-of-archive marker or a clean end of stream.
    private func readHeaderBlock() throws -> RawTarHeader? {
        let block = try input.read(exactly: TarField.blockSize)
        if block.isEmpty { return nil }
        guard block.count == TarField.blockSize else { throw truncated("inside a header block") }
        // POSIX: two zero blocks end the archive; one is enough to stop reading.
        if block.allSatisfy({ $0 == 0 }) { return nil }
        return try RawTarHeader(block: block)
    }

    private func skipRemainder() throws {
        let toSkip = remaining + Int64(padding)
        remaining = 0
        padding = 0
        guard toSkip > 0 else { return }
        guard try input.skip(toSkip) == toSkip else { throw truncated("inside the content of \"\(currentPath)\"") }
    }

    /// Handles GNU and PAX extension headers; returns false for a real entry.
    private func consumeExtension(_ raw: RawTarHeader, into extensions: inout TarExtensions) throws -> Bool {
        switch raw.typeflag {
        case UInt8(ascii: "x"):
            let data = try readExtensionData(raw, limit: Self.maxExtendedHeaderSize, kind: "PAX extended header")
            try extensions.merge(paxRecords: PaxRecords.parse(data))
        case UInt8(ascii: "g"):
            // Global headers set defaults nobody relies on in layers or .debs; skipped like Go does.
            _ = try readExtensionData(raw, limit: Self.maxExtendedHeaderSize, kind: "PAX global header")
        case UInt8(ascii: "L"):
            extensions.longName = RawTarHeader.string(try readExtensionData(raw, limit: Self.maxLongNameSize, kind: "GNU long name")[...])
        case UInt8(ascii: "K"):
            extensions.longLinkName = RawTarHeader.string(try readExtensionData(raw, limit: Self.maxLongNameSize, kind: "GNU long link name")[...])
        default:
            return false
        }
        return true
    }

    private func readExtensionData(_ raw: RawTarHeader, limit: Int64, kind: String) throws -> [UInt8] {
        guard raw.size >= 0, raw.size <= limit else {
            throw EngineError(.archive, "tar \(kind) claims \(raw.size) bytes (limit \(limit)); the archive is corrupt or hostile")
        }
        let size = Int(raw.size)
        let data = try input.read(exactly: size)
        guard data.count == size else { throw truncated("inside a \(kind)") }
        let pad = Int64(TarField.padding(for: raw.size))
        guard try input.skip(pad) == pad else { throw truncated("inside a \(kind)") }
        return data
    }

    private func truncated(_ where: String) -> EngineError {
        EngineError(.archive, "tar archive is truncated: it ends \(`where`) (at byte \(input.position))")
    }
}

/// Buffered reading for the archive readers (tar, ar): fixed-size headers,
/// bounded entry content, and skipping, over any `ByteSource`.
final class ArchiveInput {
    private let upstream: ByteSource
    private var buffer: [UInt8] = []
    private var offset = 0
    private var ended = false
    /// Bytes handed out or skipped so far: the offset of the next byte in the archive.
    private(set) var position: Int64 = 0

    static let chunkSize = 256 << 10

    init(_ upstream: ByteSource) {
        self.upstream = upstream
    }

    /// Reads `count` bytes; fewer only when the stream ends first.
    func read(exactly count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            let chunk = try read(upTo: count - out.count)
            if chunk.isEmpty { break }
            if out.isEmpty { out = chunk } else { out += chunk }
        }
        return out
    }

    /// Reads at most `maxLength` bytes; an empty result means the stream ended.
    func read(upTo maxLength: Int) throws -> [UInt8] {
        guard maxLength > 0 else { return [] }
        if offset >= buffer.count {
            // Large reads bypass the buffer, saving a copy.
            if maxLength >= Self.chunkSize {
                let chunk = ended ? [] : try upstream.read(maxLength: maxLength)
                if chunk.isEmpty { ended = true }
                position += Int64(chunk.count)
                return chunk
            }
            guard try refill() else { return [] }
        }
        let end = min(buffer.count, offset + maxLength)
        let chunk = Array(buffer[offset..<end])
        position += Int64(end - offset)
        offset = end
        return chunk
    }

    /// Skips `count` bytes; returns how many were skipped (fewer only at the end).
    func skip(_ count: Int64) throws -> Int64 {
        var skipped: Int64 = 0
        while skipped < count {
            if offset >= buffer.count {
                guard try refill() else { break }
            }
            let step = Int(min(Int64(buffer.count - offset), count - skipped))
            offset += step
            skipped += Int64(step)
        }
        position += skipped
        return skipped
    }

    private func refill() throws -> Bool {
        while offset >= buffer.count {
            if ended { return false }
            buffer = try upstream.read(maxLength: Self.chunkSize)
            offset = 0
            if buffer.isEmpty { ended = true }
        }
        return true
    }
}

/// What an archive reader offers to `EntryContentSource`: the current
/// entry's bytes, and a counter that changes when it moves to the next entry.
protocol EntryContentReader: AnyObject {
    var entryGeneration: Int { get }
    func readContent(maxLength: Int) throws -> [UInt8]
}

/// The current entry of a tar or ar reader as a `ByteSource`. It is valid
/// until the reader moves on; reading it later is a programming error.
final class EntryContentSource<Reader: EntryContentReader>: ByteSource {
    private let reader: Reader
    private let generation: Int

    init(_ reader: Reader) {
        self.reader = reader
        generation = reader.entryGeneration
    }

    func read(maxLength: Int) throws -> [UInt8] {
        guard reader.entryGeneration == generation else {
            throw EngineError(.internal, "an archive entry's content was read after the reader moved to the next entry")
        }
        return try reader.readContent(maxLength: maxLength)
    }
}

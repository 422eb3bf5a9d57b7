/// The input side shared by the decompressing sources: one upstream chunk at
/// a time, with how much of it the decoder has consumed.
final class CompressedInput {
    private let upstream: ByteSource
    private var chunk: [UInt8] = []
    private var offset = 0
    private(set) var upstreamEnded = false

    init(_ upstream: ByteSource) {
        self.upstream = upstream
    }

    var availableCount: Int { chunk.count - offset }

    /// The next unread byte, if one is buffered.
    var firstAvailable: UInt8? { offset < chunk.count ? chunk[offset] : nil }

    /// Makes sure unread input is buffered. Returns false at the end of upstream.
    func refill() throws -> Bool {
        while offset >= chunk.count {
            if upstreamEnded { return false }
            chunk = try upstream.read(maxLength: CompressionChunk.input)
            offset = 0
            if chunk.isEmpty { upstreamEnded = true }
        }
        return true
    }

    /// Hands the unread bytes to `body`, which returns how many it consumed.
    func consume<R>(_ body: (UnsafeRawBufferPointer) throws -> (consumed: Int, result: R)) rethrows -> R {
        let (consumed, result) = try chunk.withUnsafeBytes { bytes in
            try body(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        }
        offset += consumed
        return result
    }

    /// Discards the buffered bytes, returning whether they were all zero.
    func discardBufferedZeros() -> Bool {
        let allZero = chunk[offset...].allSatisfy { $0 == 0 }
        offset = chunk.count
        return allZero
    }
}

/// Chunk sizes shared by the compression streams: large enough that the
/// per-call overhead vanishes, small enough to keep memory flat.
enum CompressionChunk {
    static let input = 128 << 10
    static let output = 256 << 10
    /// The most one `read` returns, whatever the caller asks for.
    static let maxRead = 1 << 20
}

/// Decoders run their C library over a caller-sized output buffer; this
/// allocates it once per `read` and trims it to what was produced.
enum OutputBuffer {
    static func fill(maxLength: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> [UInt8] {
        let capacity = min(maxLength, CompressionChunk.maxRead)
        return try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            count = 0
            count = try body(UnsafeMutableRawBufferPointer(buffer))
        }
    }
}

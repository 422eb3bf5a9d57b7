import CZlib

/// Inflates a gzip stream (RFC 1952) pulled from `upstream`.
///
/// Concatenated gzip members (RFC 1952 §2.2: "a gzip file consists of a series
/// of members") are decoded one after the other, as `gzip -d` does; layer
/// blobs produced by parallel compressors (pigz) use them.
public final class GzipDecompressSource: ByteSource {
    private let input: CompressedInput
    /// zlib keeps a back-pointer to the stream in its state and checks it on
    /// every call, so the `z_stream` lives at a fixed heap address.
    private let stream: UnsafeMutablePointer<z_stream>
    /// True when the last member ended and no byte of a next one was consumed.
    private var atMemberBoundary = false
    private var finished = false

    public init(_ upstream: ByteSource) throws {
        input = CompressedInput(upstream)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // windowBits 15 + 32: 32 KiB window, gzip or zlib header detected (zlib manual, inflateInit2).
        let status = inflateInit2_(stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw EngineError(.internal, "zlib could not start a gzip decoder (status \(status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    public func read(maxLength: Int) throws -> [UInt8] {
        guard maxLength > 0, !finished else { return [] }
        return try OutputBuffer.fill(maxLength: maxLength) { output in
            while true {
                let hasInput = try input.refill()
                if atMemberBoundary, !hasInput || input.firstAvailable == 0 {
                    try skipTrailingZeros()
                    finished = true
                    return 0
                }
                // Called even without input: zlib may still hold output it could not flush.
                let (consumed, produced) = try inflateChunk(into: output)
                if produced > 0 { return produced }
                if !hasInput && consumed == 0 {
                    throw EngineError(.archive, "gzip stream is truncated: it ends inside a compressed member")
                }
            }
        }
    }

    /// Some writers pad a gzip file with zero bytes (to a tape block, say);
    /// `gzip -d` ignores them, and so does this reader. Anything else after
    /// the last member is an error.
    private func skipTrailingZeros() throws {
        while try input.refill() {
            guard input.discardBufferedZeros() else {
                throw EngineError(.archive, "gzip stream is corrupt: unexpected data after the last member")
            }
        }
    }

    /// Runs one `inflate` call over the buffered input; returns the bytes consumed and written.
    private func inflateChunk(into output: UnsafeMutableRawBufferPointer) throws -> (consumed: Int, produced: Int) {
        let stream = self.stream
        let (status, consumed, produced) = input.consume { bytes in
            // zlib never writes through `next_in`; the type is mutable only because z_const is off.
            stream.pointee.next_in = UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_in = uInt(bytes.count)
            stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(output.count)
            let status = inflate(stream, Z_NO_FLUSH)
            let consumed = bytes.count - Int(stream.pointee.avail_in)
            let produced = output.count - Int(stream.pointee.avail_out)
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
            return (consumed, (status, consumed, produced))
        }
        if consumed + produced > 0 { atMemberBoundary = false }
        switch status {
        case Z_OK:
            return (consumed, produced)
        case Z_STREAM_END:
            // The member's trailer (CRC-32 and ISIZE, RFC 1952 §2.3.1) verified; another member may follow.
            atMemberBoundary = true
            let reset = inflateReset(stream)
            guard reset == Z_OK else { throw EngineError(.internal, "zlib could not reset the gzip decoder (status \(reset))") }
            return (consumed, produced)
        case Z_BUF_ERROR where input.availableCount == 0:
            // No progress possible without more input; the caller decides whether that is truncation.
            return (consumed, produced)
        default:
            throw EngineError(.archive, "gzip stream is corrupt: \(zlibMessage(status))")
        }
    }

    private func zlibMessage(_ status: Int32) -> String {
        if let message = stream.pointee.msg { return String(cString: message) }
        return "zlib status \(status)"
    }
}

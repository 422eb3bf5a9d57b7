import CZstd

/// Decodes a Zstandard stream (RFC 8878) pulled from `upstream`. A stream may
/// hold several frames, including skippable ones (RFC 8878 §3.1); libzstd
/// decodes them in sequence.
public final class ZstdDecompressSource: ByteSource {
    private let input: CompressedInput
    /// The context is owned by this object alone and freed in `deinit`.
    private let context: OpaquePointer
    /// True when the last frame was fully decoded and flushed (libzstd returned 0).
    private var atFrameBoundary = false
    private var finished = false

    public init(_ upstream: ByteSource) throws {
        guard let context = ZSTD_createDStream() else {
            throw EngineError(.internal, "libzstd could not allocate a decoder")
        }
        self.context = context
        input = CompressedInput(upstream)
    }

    deinit {
        ZSTD_freeDStream(context)
    }

    public func read(maxLength: Int) throws -> [UInt8] {
        guard maxLength > 0, !finished else { return [] }
        return try OutputBuffer.fill(maxLength: maxLength) { output in
            while true {
                let hasInput = try input.refill()
                if !hasInput && atFrameBoundary {
                    finished = true
                    return 0
                }
                // Called even without input: libzstd may still hold output it could not flush.
                let (hint, consumed, produced) = decompress(into: output)
                if ZSTD_isError(hint) != 0 {
                    let reason = String(cString: ZSTD_getErrorName(hint))
                    throw EngineError(.archive, "zstd stream is corrupt: \(reason)")
                }
                if consumed + produced > 0 { atFrameBoundary = hint == 0 }
                if produced > 0 { return produced }
                if consumed == 0 {
                    throw hasInput
                        ? EngineError(.archive, "zstd stream is corrupt: the decoder made no progress")
                        : EngineError(.archive, "zstd stream is truncated: it ends inside a frame")
                }
            }
        }
    }

    private func decompress(into output: UnsafeMutableRawBufferPointer) -> (Int, Int, Int) {
        let context = self.context
        return input.consume { bytes in
            var inBuffer = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
            var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let hint = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
            return (inBuffer.pos, (hint, inBuffer.pos, outBuffer.pos))
        }
    }
}

import CLzma

/// Decodes an xz stream (the .xz file format, tukaani.org/xz/xz-file-format.txt)
/// pulled from `upstream`. Concatenated streams are decoded in sequence, as
/// `xz -d` does.
public final class XzDecompressSource: ByteSource {
    /// A hostile header can ask for a dictionary of up to 1.5 GiB; `xz -9`
    /// needs 65 MiB to decode, so anything past this limit is refused.
    static let memoryLimit: UInt64 = 512 << 20
    /// LZMA_CONCATENATED from lzma/container.h (a macro Swift does not import).
    private static let concatenatedFlag: UInt32 = 0x08

    private let input: CompressedInput
    /// liblzma's internal state refers to the stream; keep it at a fixed address.
    private let stream: UnsafeMutablePointer<lzma_stream>
    private var finished = false

    public init(_ upstream: ByteSource) throws {
        input = CompressedInput(upstream)
        stream = .allocate(capacity: 1)
        // Zero-initialized is LZMA_STREAM_INIT.
        stream.initialize(to: lzma_stream())
        let status = lzma_stream_decoder(stream, Self.memoryLimit, Self.concatenatedFlag)
        guard status == LZMA_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw EngineError(.internal, "liblzma could not start an xz decoder (status \(status.rawValue))")
        }
    }

    deinit {
        lzma_end(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    public func read(maxLength: Int) throws -> [UInt8] {
        guard maxLength > 0, !finished else { return [] }
        return try OutputBuffer.fill(maxLength: maxLength) { output in
            while true {
                // With LZMA_CONCATENATED the decoder only reports the end after LZMA_FINISH.
                let hasInput = try input.refill()
                let (status, consumed, produced) = code(into: output, action: hasInput ? LZMA_RUN : LZMA_FINISH)
                switch status {
                case LZMA_OK:
                    if produced > 0 { return produced }
                    if !hasInput && consumed == 0 { throw Self.truncated() }
                case LZMA_STREAM_END:
                    finished = true
                    return produced
                case LZMA_BUF_ERROR:
                    // liblzma reports this after two calls without progress.
                    if produced > 0 { return produced }
                    throw hasInput ? EngineError(.archive, "xz stream is corrupt: the decoder made no progress") : Self.truncated()
                default:
                    throw EngineError(.archive, "xz stream is corrupt: \(Self.describe(status))")
                }
            }
        }
    }

    private func code(into output: UnsafeMutableRawBufferPointer, action: lzma_action) -> (lzma_ret, Int, Int) {
        let stream = self.stream
        return input.consume { bytes in
            stream.pointee.next_in = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_in = bytes.count
            stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = output.count
            let status = lzma_code(stream, action)
            let consumed = bytes.count - stream.pointee.avail_in
            let produced = output.count - stream.pointee.avail_out
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
            return (consumed, (status, consumed, produced))
        }
    }

    private static func truncated() -> EngineError {
        EngineError(.archive, "xz stream is truncated: it ends inside a compressed block")
    }

    private static func describe(_ status: lzma_ret) -> String {
        switch status {
        case LZMA_FORMAT_ERROR: return "not in the .xz format"
        case LZMA_OPTIONS_ERROR: return "unsupported compression options"
        case LZMA_DATA_ERROR: return "compressed data is damaged"
        case LZMA_MEMLIMIT_ERROR: return "it needs more than the \(memoryLimit >> 20) MiB memory limit to decode"
        case LZMA_MEM_ERROR: return "out of memory"
        default: return "liblzma status \(status.rawValue)"
        }
    }
}

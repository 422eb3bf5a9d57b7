import CZlib

/// Deflates everything written into a gzip stream (RFC 1952) pushed to
/// `downstream`.
///
/// The output depends only on the input and the level: the header carries
/// MTIME 0, no file name, and a fixed OS byte (RFC 1952 §2.3.1), so the same
/// layer always gets the same digest.
public final class GzipCompressSink: ByteSink {
    /// OS byte 255 ("unknown"), which Go's compress/gzip also writes, instead
    /// of zlib's build-dependent default.
    static let osByte: Int32 = 255

    private let downstream: ByteSink
    /// zlib keeps pointers to the stream and the header until the header is written.
    private let stream: UnsafeMutablePointer<z_stream>
    private let header: UnsafeMutablePointer<gz_header>
    private var output: [UInt8]
    private var finished = false

    /// - Parameter level: zlib level, 0 (store) to 9 (best), or -1 for zlib's default (6).
    public init(_ downstream: ByteSink, level: Int32 = 6) throws {
        guard (-1...9).contains(level) else {
            throw EngineError(.invalidInput, "gzip level \(level) is out of range; use -1 (default) or 0 to 9")
        }
        self.downstream = downstream
        output = [UInt8](repeating: 0, count: CompressionChunk.output)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        header = .allocate(capacity: 1)
        header.initialize(to: gz_header())
        header.pointee.os = Self.osByte
        // windowBits 15 + 16: 32 KiB window with a gzip wrapper; memLevel 8 is zlib's default.
        var status = deflateInit2_(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if status == Z_OK { status = deflateSetHeader(stream, header) }
        guard status == Z_OK else {
            deflateEnd(stream)
            Self.release(stream, header)
            throw EngineError(.internal, "zlib could not start a gzip encoder (status \(status))")
        }
    }

    deinit {
        deflateEnd(stream)
        Self.release(stream, header)
    }

    private static func release(_ stream: UnsafeMutablePointer<z_stream>, _ header: UnsafeMutablePointer<gz_header>) {
        stream.deinitialize(count: 1)
        stream.deallocate()
        header.deinitialize(count: 1)
        header.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw EngineError(.internal, "write to a gzip stream after finish()") }
        guard bytes.count > 0 else { return }
        // zlib never writes through `next_in`; the type is mutable only because z_const is off.
        stream.pointee.next_in = UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(bytes.count)
        defer { stream.pointee.next_in = nil }
        while stream.pointee.avail_in > 0 {
            _ = try deflateStep(flush: Z_NO_FLUSH)
        }
    }

    public func finish() throws {
        guard !finished else { return }
        finished = true
        stream.pointee.avail_in = 0
        while try deflateStep(flush: Z_FINISH) != Z_STREAM_END {}
        try downstream.finish()
    }

    /// One `deflate` call into the output buffer, whose contents then go downstream.
    private func deflateStep(flush: Int32) throws -> Int32 {
        let stream = self.stream
        let (status, produced) = output.withUnsafeMutableBytes { out in
            stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(out.count)
            let status = deflate(stream, flush)
            stream.pointee.next_out = nil
            return (status, out.count - Int(stream.pointee.avail_out))
        }
        guard status == Z_OK || status == Z_STREAM_END || (status == Z_BUF_ERROR && produced > 0) else {
            throw EngineError(.internal, "zlib failed while compressing (status \(status))")
        }
        if produced > 0 {
            try output.withUnsafeBytes { try downstream.write(UnsafeRawBufferPointer(rebasing: $0[..<produced])) }
        }
        return status
    }
}

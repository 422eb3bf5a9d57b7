/// Writes a POSIX pax tar stream to a sink.
///
/// Output is deterministic: the bytes depend only on the headers and
/// contents appended (no host names, times or process ids), so a layer built
/// twice has one digest. GNU tar, Python's tarfile and Go's archive/tar read it.
public final class TarWriter {
    private let sink: ByteSink
    private var finished = false
    static let copyChunk = 256 << 10

    public init(_ sink: ByteSink) {
        self.sink = sink
    }

    /// Appends an entry whose content comes from `content`, which must deliver
    /// exactly `header.size` bytes (nil or empty for entries without content).
    public func append(_ header: TarHeader, content: ByteSource?) throws {
        guard content != nil || header.size == 0 else { throw sizeMismatch(header, "was not given") }
        try writeHeader(header)
        var remaining = header.size
        if let content {
            while remaining > 0 {
                let chunk = try content.read(maxLength: Int(min(Int64(Self.copyChunk), remaining)))
                guard !chunk.isEmpty else { throw sizeMismatch(header, "ended \(remaining) bytes early") }
                guard Int64(chunk.count) <= remaining else { throw sizeMismatch(header, "delivered more bytes than asked for") }
                try sink.write(chunk)
                remaining -= Int64(chunk.count)
            }
            guard try content.read(maxLength: 1).isEmpty else { throw sizeMismatch(header, "has more bytes") }
        }
        try writePadding(after: header.size)
    }

    /// Appends an entry whose content is in memory; `bytes.count` must equal `header.size`.
    public func append(_ header: TarHeader, bytes: [UInt8]) throws {
        guard Int64(bytes.count) == header.size else {
            throw sizeMismatch(header, "has \(bytes.count) bytes")
        }
        try writeHeader(header)
        try sink.write(bytes)
        try writePadding(after: header.size)
    }

    /// Writes the end-of-archive marker (two zero blocks) and finishes the sink.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try sink.write([UInt8](repeating: 0, count: 2 * TarField.blockSize))
        try sink.finish()
    }

    private func writeHeader(_ header: TarHeader) throws {
        guard !finished else { throw EngineError(.internal, "tar entry \"\(header.path)\" appended after finish()") }
        try sink.write(try TarHeaderEncoder(header: header).encode())
    }

    private func writePadding(after size: Int64) throws {
        let padding = TarField.padding(for: size)
        if padding > 0 { try sink.write([UInt8](repeating: 0, count: padding)) }
    }

    private func sizeMismatch(_ header: TarHeader, _ problem: String) -> EngineError {
        EngineError(.archive, "content of tar entry \"\(header.path)\" does not match its size of \(header.size) bytes: the content \(problem)")
    }
}

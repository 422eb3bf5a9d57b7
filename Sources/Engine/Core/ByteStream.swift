/// Synchronous byte streams: the engine's data path (decompress → tar →
/// compress → hash) is a chain of these, pulled or pushed in bounded chunks so
/// memory stays flat however large a layer is.
///
/// They are classes without internal locking: one stream is used by one task at
/// a time, and is handed from one step to the next, never shared.

/// A source of bytes read in chunks.
public protocol ByteSource: AnyObject {
    /// Reads up to `maxLength` bytes. Returns an empty array only at the end of the stream.
    func read(maxLength: Int) throws -> [UInt8]
}

/// A destination for bytes.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes buffered output and writes any trailer. Called once, after the last write.
    func finish() throws
}

extension ByteSink {
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

extension ByteSource {
    /// Reads the rest of the stream. Fails when it exceeds `limit` bytes, so a
    /// hostile input cannot make the engine allocate without bound.
    public func readAll(limit: Int = 64 << 20) throws -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let chunk = try read(maxLength: 64 << 10)
            if chunk.isEmpty { return out }
            out += chunk
            if out.count > limit {
                throw EngineError(.archive, "a stream is larger than the \(limit)-byte limit for in-memory data")
            }
        }
    }

    /// Copies the rest of the stream into `sink` (without finishing it); returns the byte count.
    @discardableResult
    public func copy(to sink: any ByteSink, chunkSize: Int = 256 << 10) throws -> Int64 {
        var total: Int64 = 0
        while true {
            let chunk = try read(maxLength: chunkSize)
            if chunk.isEmpty { return total }
            try sink.write(chunk)
            total += Int64(chunk.count)
        }
    }
}

/// A source over bytes already in memory.
public final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(maxLength: Int) throws -> [UInt8] {
        let end = min(bytes.count, offset + maxLength)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }
}

/// A sink collecting bytes in memory (for small data: control files, metadata).
public final class MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }
    public func finish() throws {}
}

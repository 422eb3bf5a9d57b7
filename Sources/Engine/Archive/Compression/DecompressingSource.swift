/// The compression of a stream, as told by its first bytes.
public enum CompressionFormat: String, Sendable, CaseIterable {
    case none, gzip, xz, zstd, bzip2

    /// Magic numbers: gzip RFC 1952 §2.3.1, xz file format §2.1.1.1,
    /// Zstandard RFC 8878 §3.1.1, bzip2 "BZh" + block size digit.
    public static func sniff(_ prefix: [UInt8]) -> CompressionFormat {
        if prefix.starts(with: [0x1f, 0x8b]) { return .gzip }
        if prefix.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) { return .xz }
        if prefix.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return .zstd }
        if prefix.starts(with: Array("BZh".utf8)) { return .bzip2 }
        return .none
    }

    /// The longest magic number `sniff` looks at.
    static let sniffLength = 6
}

/// Wraps `upstream` in the decoder its magic bytes call for, or returns its
/// bytes unchanged when they start with no known magic (an uncompressed tar).
///
/// OCI layers may be gzip or zstd (image-spec media-types.md); .deb members may
/// also be xz (deb(5)). bzip2 is refused with an error rather than passed
/// through as if it were a tar.
public func decompressingSource(_ upstream: ByteSource) throws -> ByteSource {
    var prefix: [UInt8] = []
    while prefix.count < CompressionFormat.sniffLength {
        let chunk = try upstream.read(maxLength: CompressionChunk.input)
        if chunk.isEmpty { break }
        prefix += chunk
    }
    let source = PrefixedSource(prefix: prefix, upstream: upstream)
    return try decompressingSource(source, format: CompressionFormat.sniff(prefix))
}

/// Wraps `upstream` in the decoder for a known `format`.
public func decompressingSource(_ upstream: ByteSource, format: CompressionFormat) throws -> ByteSource {
    switch format {
    case .none: return upstream
    case .gzip: return try GzipDecompressSource(upstream)
    case .xz: return try XzDecompressSource(upstream)
    case .zstd: return try ZstdDecompressSource(upstream)
    case .bzip2:
        throw EngineError(.archive, "bzip2-compressed data is not supported; recompress it with gzip, xz or zstd")
    }
}

/// Replays bytes already read from `upstream` before reading on.
final class PrefixedSource: ByteSource {
    private var prefix: [UInt8]
    private let upstream: ByteSource

    init(prefix: [UInt8], upstream: ByteSource) {
        self.prefix = prefix
        self.upstream = upstream
    }

    func read(maxLength: Int) throws -> [UInt8] {
        guard maxLength > 0 else { return [] }
        guard !prefix.isEmpty else { return try upstream.read(maxLength: maxLength) }
        guard maxLength < prefix.count else {
            defer { prefix = [] }
            return prefix
        }
        defer { prefix.removeFirst(maxLength) }
        return Array(prefix[..<maxLength])
    }
}

import Foundation

extension OCILayout {
    /// image-layout.md "Blobs": `blobs/<alg>/<encoded>`.
    public func blobPath(_ digest: Digest) -> String {
        "\(blobsDirectory(digest.algorithm))/\(digest.encoded)"
    }

    /// Whether the blob is present with the descriptor's size. (Its content was
    /// verified when it was written; re-hashing every blob on every check would
    /// read whole layers.)
    public func hasBlob(_ descriptor: Descriptor) -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: blobPath(descriptor.digest)),
              let size = attributes[.size] as? NSNumber, size.int64Value == descriptor.size else { return false }
        touch(descriptor.digest)
        return true
    }

    /// Opens a blob for streaming.
    public func openBlob(_ digest: Digest) throws -> any ByteSource {
        do {
            let source = try FileSource(path: blobPath(digest))
            touch(digest)
            return source
        } catch {
            throw EngineError(.imageNotFound, "the OCI image layout '\(path)' has no blob \(digest)",
                              underlying: error)
        }
    }

    /// Reads a small blob (manifest, config) into memory, verifying it.
    public func readBlob(_ descriptor: Descriptor, limit: Int = 64 << 20) throws -> [UInt8] {
        guard descriptor.size <= Int64(limit) else {
            throw EngineError(.invalidInput, "blob \(descriptor.digest) is \(descriptor.size) bytes, over the \(limit)-byte limit for in-memory data")
        }
        let bytes = try openBlob(descriptor.digest).readAll(limit: limit)
        let hasher = SHA256Sink()
        try hasher.write(bytes)
        try hasher.verify(descriptor)
        return bytes
    }

    /// Streams a blob into `sink`, verifying digest and size before finishing it.
    public func copyBlob(_ descriptor: Descriptor, to sink: any ByteSink) throws {
        let hasher = SHA256Sink(downstream: sink)
        try openBlob(descriptor.digest).copy(to: hasher)
        try hasher.verify(descriptor)
        try sink.finish()
    }

    /// Starts writing a blob; see `BlobWriter`.
    public func blobWriter(expecting expected: Descriptor? = nil) throws -> BlobWriter {
        try BlobWriter(layout: self, expected: expected)
    }

    /// Writes in-memory bytes as a blob and returns its descriptor.
    @discardableResult
    public func writeBlob(_ bytes: [UInt8], mediaType: MediaType) throws -> Descriptor {
        let writer = try blobWriter()
        try writer.write(bytes)
        let (digest, size) = try writer.commit()
        return Descriptor(mediaType: mediaType, digest: digest, size: size)
    }

    /// Copies a blob from `source`, verifying it against `expected`.
    public func writeBlob(from source: any ByteSource, expected: Descriptor) throws {
        let writer = try blobWriter(expecting: expected)
        try source.copy(to: writer)
        _ = try writer.commit()
    }
}

/// Writes one blob: bytes go to a temp file while they are hashed; `commit()`
/// checks the digest (and the expected descriptor, if any) and renames the
/// file into `blobs/`. A writer dropped without `commit()` removes its temp file.
public final class BlobWriter: ByteSink {
    private let layout: OCILayout
    private let expected: Descriptor?
    private let tempPath: String
    private let hasher: SHA256Sink
    private var done = false

    init(layout: OCILayout, expected: Descriptor?) throws {
        self.layout = layout
        self.expected = expected
        tempPath = layout.temporaryPath()
        do {
            try FileManager.default.createDirectory(atPath: layout.blobsDirectory(.sha256), withIntermediateDirectories: true)
            hasher = SHA256Sink(downstream: try FileSink(path: tempPath))
        } catch {
            throw EngineError(.io, "cannot create a blob in '\(layout.path)'", underlying: error)
        }
    }

    deinit {
        if !done { try? FileManager.default.removeItem(atPath: tempPath) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try hasher.write(bytes)
    }

    /// Nothing to do: the blob becomes visible only on `commit()`.
    public func finish() throws {}

    /// Verifies and moves the blob into place; returns its digest and size.
    public func commit() throws -> (digest: Digest, size: Int64) {
        guard !done else { throw EngineError(.internal, "a blob writer was committed twice") }
        done = true
        do {
            try hasher.finish()
            if let expected { try hasher.verify(expected) }
            let (digest, size) = hasher.finalize()
            try OCILayout.rename(tempPath, to: layout.blobPath(digest))
            return (digest, size)
        } catch {
            try? FileManager.default.removeItem(atPath: tempPath)
            throw error
        }
    }
}

import Crypto

/// A sink that hashes and counts the bytes passing through it, forwarding them
/// to an optional downstream sink. Blobs are verified while they stream, never
/// re-read to hash.
public final class SHA256Sink: ByteSink {
    private var hasher = SHA256()
    private let downstream: (any ByteSink)?
    public private(set) var byteCount: Int64 = 0

    public init(downstream: (any ByteSink)? = nil) {
        self.downstream = downstream
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bufferPointer: bytes)
        byteCount += Int64(bytes.count)
        try downstream?.write(bytes)
    }

    /// Finishes the downstream sink. Call `finalize()` for the digest.
    public func finish() throws {
        try downstream?.finish()
    }

    /// The digest and size of everything written so far.
    public func finalize() -> (digest: CopaCore.Digest, size: Int64) {
        (CopaCore.Digest(trusted: .sha256, hash: hasher.finalize()), byteCount)
    }

    /// Fails unless the bytes written so far are exactly what `descriptor` names
    /// (image-spec descriptor.md "Digests": content MUST be verified against the digest).
    public func verify(_ descriptor: Descriptor) throws {
        guard descriptor.digest.algorithm == .sha256 else {
            throw EngineError(.verification, "blob \(descriptor.digest) uses \(descriptor.digest.algorithm.rawValue), which this engine cannot verify yet")
        }
        let (digest, size) = finalize()
        guard digest == descriptor.digest, size == descriptor.size else {
            throw EngineError(.verification,
                "blob \(descriptor.digest) (\(descriptor.size) bytes) arrived as \(digest) (\(size) bytes): the content does not match its descriptor")
        }
    }
}

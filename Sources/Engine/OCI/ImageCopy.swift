import Foundation

/// What `copyMissingBlobs` did with each blob.
public struct BlobCopyReport: Sendable, Hashable {
    /// Already in the destination.
    public var skipped: [Digest] = []
    /// Mounted from the source repository in the same registry.
    public var mounted: [Digest] = []
    /// Streamed from the source.
    public var copied: [Digest] = []
    /// Non-distributable (foreign) layers with URLs, left where they are.
    public var foreign: [Digest] = []
    public init() {}
}

/// Makes every blob in `descriptors` present in `destination`: skips those it
/// has, mounts those it can (same registry), streams the rest through a temp
/// file in `scratchDirectory`. Blobs go one at a time, so memory stays flat
/// and a failure names the blob that failed. Foreign layers that name URLs are
/// not copied: image-spec layer.md "Non-distributable layers" says they are
/// fetched from those URLs, and registries may refuse them.
@discardableResult
public func copyMissingBlobs(from source: any ImageSource, to destination: any ImageDestination,
                             descriptors: [Descriptor], scratchDirectory: String? = nil) async throws -> BlobCopyReport {
    var report = BlobCopyReport()
    var seen: Set<Digest> = []
    for descriptor in descriptors where seen.insert(descriptor.digest).inserted {
        try Task.checkCancellation()
        if descriptor.mediaType.isForeignLayer, !(descriptor.urls ?? []).isEmpty {
            report.foreign.append(descriptor.digest)
            continue
        }
        if try await destination.hasBlob(descriptor) {
            report.skipped.append(descriptor.digest)
            continue
        }
        if let origin = source.blobOrigin, try await destination.mountBlob(descriptor, from: origin) {
            report.mounted.append(descriptor.digest)
            continue
        }
        try await streamBlob(descriptor, from: source, to: destination, scratchDirectory: scratchDirectory)
        report.copied.append(descriptor.digest)
    }
    return report
}

private func streamBlob(_ descriptor: Descriptor, from source: any ImageSource, to destination: any ImageDestination,
                        scratchDirectory: String?) async throws {
    let directory = scratchDirectory ?? FileManager.default.temporaryDirectory.path
    let tempPath = "\(directory)/copa-blob-\(descriptor.digest.encoded.prefix(16))-\(UInt32.random(in: .min ... .max))"
    defer { try? FileManager.default.removeItem(atPath: tempPath) }
    let sink: FileSink
    do {
        sink = try FileSink(path: tempPath)
    } catch {
        throw EngineError(.io, "cannot create a temp file in '\(directory)' to copy blob \(descriptor.digest)",
                          underlying: error)
    }
    try await source.fetchBlob(descriptor, to: sink)
    try await destination.putBlob(descriptor, from: tempPath)
}

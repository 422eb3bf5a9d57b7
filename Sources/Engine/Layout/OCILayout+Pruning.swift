import Foundation

/// The agent's blob cache (`WORKDIR/cache`, an OCI layout used as a blob
/// store) kept under a size: least recently used blobs go first.
///
/// "Used" is the blob file's modification time: the cache layout touches a
/// blob each time a job checks for it or opens it (`touchingBlobs`). A job
/// therefore holds every blob it has looked at since it started, and pruning
/// never removes a blob touched after `keepingSince` (the start of the oldest
/// running job). A blob removed before a job first asks for it is simply
/// fetched again.
extension OCILayout {
    public struct PruneResult: Sendable, Equatable {
        public var removed = 0
        public var freedBytes: Int64 = 0
        public var keptBytes: Int64 = 0
    }

    /// This layout, touching blobs when they are checked or opened.
    public func touchingBlobs() -> OCILayout {
        var layout = self
        layout.touchesBlobs = true
        return layout
    }

    func touch(_ digest: Digest) {
        guard touchesBlobs else { return }
        _ = utimensat(AT_FDCWD, blobPath(digest), nil, 0)
    }

    /// Removes the least recently used blobs until the blobs take at most
    /// `maxBytes`, never one used at or after `keepingSince`. Temporary files
    /// of writers that died (older than a day) go too.
    public func pruneBlobs(maxBytes: Int64, keepingSince: Date) -> PruneResult {
        struct Blob {
            let path: String
            let size: Int64
            let used: Date
        }
        var blobs: [Blob] = []
        let files = FileManager.default
        for algorithm in Digest.Algorithm.allCases {
            let directory = blobsDirectory(algorithm)
            for name in (try? files.contentsOfDirectory(atPath: directory)) ?? [] {
                let path = directory + "/" + name
                guard let attributes = try? files.attributesOfItem(atPath: path),
                      let size = (attributes[.size] as? NSNumber)?.int64Value,
                      let modified = attributes[.modificationDate] as? Date else { continue }
                blobs.append(Blob(path: path, size: size, used: modified))
            }
        }
        for name in (try? files.contentsOfDirectory(atPath: path)) ?? [] where name.hasPrefix(".tmp-") {
            let temporary = path + "/" + name
            if let modified = (try? files.attributesOfItem(atPath: temporary))?[.modificationDate] as? Date,
               modified < Date().addingTimeInterval(-86_400) {
                try? files.removeItem(atPath: temporary)
            }
        }
        var result = PruneResult()
        var total = blobs.reduce(0) { $0 + $1.size }
        for blob in blobs.sorted(by: { $0.used < $1.used }) where total > maxBytes && blob.used < keepingSince {
            guard unlink(blob.path) == 0 else { continue }
            total -= blob.size
            result.removed += 1
            result.freedBytes += blob.size
        }
        result.keptBytes = total
        return result
    }
}

import Foundation

/// An OCI image layout directory:
/// https://github.com/opencontainers/image-spec/blob/main/image-layout.md
///
/// `oci-layout` names the layout version, `index.json` is an image index whose
/// entries are the layout's images (tagged by `org.opencontainers.image.ref.name`),
/// and `blobs/<alg>/<encoded>` holds content by digest.
///
/// The value holds only a path; every call reads the disk afresh. Writes are
/// atomic (temp file + rename) so a reader never sees a partial blob or index,
/// and every read-modify-write of index.json holds an exclusive flock(2) on
/// the layout directory, so concurrent writers (jobs of one agent, or several
/// processes) each add their tag and none is lost.
public struct OCILayout: Sendable, Hashable {
    public let path: String
    /// Set for the agent's blob cache: checking for or opening a blob marks
    /// it used (its mtime), for least-recently-used pruning.
    var touchesBlobs = false

    /// image-layout.md "oci-layout file": the version this engine writes and reads.
    public static let layoutVersion = "1.0.0"

    private init(path: String) { self.path = path }

    /// Opens an existing layout, checking its `oci-layout` file.
    public static func open(at path: String) throws -> OCILayout {
        let layout = OCILayout(path: path)
        let marker: JSONValue
        do {
            marker = try JSONValue(parsing: try layout.readFile("oci-layout", limit: 1 << 20))
        } catch let error as EngineError where error.code == .io {
            throw EngineError(.imageNotFound, "'\(path)' is not an OCI image layout: it has no readable oci-layout file", underlying: error)
        }
        guard let version = marker["imageLayoutVersion"]?.stringValue else {
            throw EngineError(.invalidInput, "'\(path)/oci-layout' has no imageLayoutVersion")
        }
        guard version.hasPrefix("1.") else {
            throw EngineError(.invalidInput, "'\(path)' is an OCI image layout version \(version); only 1.x is supported")
        }
        return layout
    }

    /// Opens the layout at `path`, creating the directory, `oci-layout`, an
    /// empty `index.json` and `blobs/` when they are missing.
    public static func create(at path: String) throws -> OCILayout {
        let layout = OCILayout(path: path)
        let files = FileManager.default
        do {
            try files.createDirectory(atPath: layout.blobsDirectory(.sha256), withIntermediateDirectories: true)
        } catch {
            throw EngineError(.io, "cannot create the OCI image layout directory '\(path)'", underlying: error)
        }
        try layout.withIndexLock {
            if !files.fileExists(atPath: layout.file("oci-layout")) {
                try layout.writeFileAtomically("oci-layout", Array("{\"imageLayoutVersion\":\"\(layoutVersion)\"}".utf8))
            }
            if !files.fileExists(atPath: layout.file("index.json")) {
                try layout.writeIndex(ImageIndex(manifests: []))
            }
        }
        return try open(at: path)
    }

    /// Runs `body` holding an exclusive flock(2) on the layout directory: one
    /// writer of index.json at a time, across threads and processes. The lock
    /// is on the directory, not on index.json, because index.json is replaced
    /// by rename and a lock on the old file would guard nothing. It blocks the
    /// calling thread for as long as another writer's read-modify-write takes
    /// (a few milliseconds).
    func withIndexLock<T>(_ body: () throws -> T) throws -> T {
        let fd = Foundation.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw EngineError(.io, "cannot open the OCI image layout directory '\(path)' to lock it: \(String(cString: strerror(errno)))")
        }
        defer { Foundation.close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw EngineError(.io, "cannot lock the OCI image layout '\(path)': \(String(cString: strerror(errno)))")
            }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// The layout's `index.json`.
    public func readIndex() throws -> ImageIndex {
        try ImageIndex(bytes: try readFile("index.json", limit: 16 << 20))
    }

    /// Replaces `index.json` atomically.
    public func writeIndex(_ index: ImageIndex) throws {
        try writeFileAtomically("index.json", try index.canonicalBytes())
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func blobsDirectory(_ algorithm: Digest.Algorithm) -> String { "\(path)/blobs/\(algorithm.rawValue)" }

    func readFile(_ name: String, limit: Int) throws -> [UInt8] {
        let source: FileSource
        do {
            source = try FileSource(path: file(name))
        } catch {
            throw EngineError(.io, "cannot read '\(file(name))'", underlying: error)
        }
        return try source.readAll(limit: limit)
    }

    /// Writes to a temp file beside the target, then renames it over the target
    /// (rename(2) is atomic within one filesystem).
    func writeFileAtomically(_ name: String, _ bytes: [UInt8]) throws {
        let temp = temporaryPath()
        do {
            let sink = try FileSink(path: temp)
            try sink.write(bytes)
            try sink.finish()
            try Self.rename(temp, to: file(name))
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw EngineError(.io, "cannot write '\(file(name))'", underlying: error)
        }
    }

    /// A fresh path in the layout's root, on the same filesystem as blobs/ so
    /// a rename into place is atomic. The name starts with a dot so tools
    /// listing the layout do not mistake it for content.
    func temporaryPath() -> String {
        file(".tmp-\(UInt64.random(in: .min ... .max))")
    }

    static func rename(_ from: String, to: String) throws {
        guard Foundation.rename(from, to) == 0 else {
            throw EngineError(.io, "cannot move '\(from)' to '\(to)': \(String(cString: strerror(errno)))")
        }
    }
}

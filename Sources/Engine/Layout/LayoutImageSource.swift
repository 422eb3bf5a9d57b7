/// Reads images from an OCI image layout.
public struct LayoutImageSource: ImageSource {
    public let layout: OCILayout
    /// The `ref.name` to read; nil for a layout holding one image.
    public let tag: String?

    public init(layout: OCILayout, tag: String?) {
        self.layout = layout
        self.tag = tag
    }

    public func resolve(platform: Platform) async throws -> SourceImage {
        try await layout.resolve(tag: tag, platform: platform)
    }

    public func fetchBlob(_ descriptor: Descriptor, to sink: any ByteSink) async throws {
        try layout.copyBlob(descriptor, to: sink)
    }

    public func top() async throws -> (descriptor: Descriptor, bytes: [UInt8]) {
        let entry = try layout.entry(tag: tag)
        return (entry, try layout.readBlob(entry, limit: OCILayout.maxManifestBytes))
    }

    public func fetchManifest(_ descriptor: Descriptor) async throws -> [UInt8] {
        try layout.readBlob(descriptor, limit: OCILayout.maxManifestBytes)
    }

    public var location: String { "layout:\(layout.path)" }
}

/// Writes images into an OCI image layout (created if missing).
public struct LayoutImageDestination: ImageDestination {
    public let layout: OCILayout

    public init(layout: OCILayout) {
        self.layout = layout
    }

    public func hasBlob(_ descriptor: Descriptor) async throws -> Bool {
        layout.hasBlob(descriptor)
    }

    public func putBlob(_ descriptor: Descriptor, from path: String) async throws {
        let source: FileSource
        do {
            source = try FileSource(path: path)
        } catch {
            throw EngineError(.io, "cannot read '\(path)' to store blob \(descriptor.digest)", underlying: error)
        }
        try layout.writeBlob(from: source, expected: descriptor)
    }

    public func putBlob(_ descriptor: Descriptor, bytes: [UInt8]) async throws {
        try layout.writeBlob(from: MemorySource(bytes), expected: descriptor)
    }

    public func putManifest(_ bytes: [UInt8], mediaType: MediaType, tag: String?) async throws -> Descriptor {
        let descriptor = try layout.writeBlob(bytes, mediaType: mediaType)
        try layout.setManifest(descriptor, tag: tag)
        return descriptor
    }

    public func putListedManifest(_ bytes: [UInt8], mediaType: MediaType) async throws -> Descriptor {
        try layout.writeBlob(bytes, mediaType: mediaType)
    }

    public var location: String { "layout:\(layout.path)" }
}

/// Reads an image from a registry repository.
public struct RegistryImageSource: ImageSource {
    public let client: RegistryClient
    public let reference: RegistryReference

    public init(client: RegistryClient, reference: RegistryReference) {
        self.client = client
        self.reference = reference
    }

    public func resolve(platform: Platform) async throws -> SourceImage {
        let repository = reference.repositoryLocation
        let (top, bytes) = try await client.fetchManifest(repository, reference: reference.manifestReference)
        let resolver = ManifestResolver(
            fetchManifest: { entry in
                try await client.fetchManifest(repository, reference: entry.digest.description, expected: entry).bytes
            },
            fetchConfig: { try await client.fetchBlobBytes($0, from: repository) },
            sourceName: "image \(reference)")
        return try await resolver.resolve(top: top, bytes: bytes, platform: platform)
    }

    public func fetchBlob(_ descriptor: Descriptor, to sink: any ByteSink) async throws {
        try await client.fetchBlob(descriptor, from: reference.repositoryLocation, to: sink)
    }

    public var blobOrigin: BlobOrigin? {
        BlobOrigin(registry: reference.registry, repository: reference.repository)
    }

    public func top() async throws -> (descriptor: Descriptor, bytes: [UInt8]) {
        try await client.fetchManifest(reference.repositoryLocation, reference: reference.manifestReference)
    }

    public func fetchManifest(_ descriptor: Descriptor) async throws -> [UInt8] {
        try await client.fetchManifest(reference.repositoryLocation, reference: descriptor.digest.description,
                                       expected: descriptor).bytes
    }

    public var location: String { "registry:\(reference.registry)/\(reference.repository)" }
}

/// Writes an image to a registry repository.
public struct RegistryImageDestination: ImageDestination {
    public let client: RegistryClient
    public let repository: RegistryRepository

    public init(client: RegistryClient, repository: RegistryRepository) {
        self.client = client
        self.repository = repository
    }

    public func hasBlob(_ descriptor: Descriptor) async throws -> Bool {
        try await client.blobExists(descriptor.digest, in: repository)
    }

    public func putBlob(_ descriptor: Descriptor, from path: String) async throws {
        try await client.uploadBlob(descriptor, to: repository, fromFile: path)
    }

    public func putBlob(_ descriptor: Descriptor, bytes: [UInt8]) async throws {
        try await client.uploadBlob(descriptor, to: repository, bytes: bytes)
    }

    /// Mounts only within one registry, and not from the repository itself.
    public func mountBlob(_ descriptor: Descriptor, from origin: BlobOrigin) async throws -> Bool {
        guard origin.registry == repository.registry, origin.repository != repository.name else { return false }
        return try await client.mountBlob(descriptor.digest, into: repository, from: origin.repository)
    }

    public func putManifest(_ bytes: [UInt8], mediaType: MediaType, tag: String?) async throws -> Descriptor {
        try await client.putManifest(bytes, mediaType: mediaType, to: repository, tag: tag)
    }

    public var location: String { "registry:\(repository.registry)/\(repository.name)" }
}

/// The source for a reference: a registry repository or an OCI image layout.
public func makeImageSource(_ reference: ImageReference, client: RegistryClient) throws -> any ImageSource {
    switch reference {
    case .registry(let registryReference):
        return RegistryImageSource(client: client, reference: registryReference)
    case .layout(let path, let tag):
        return LayoutImageSource(layout: try OCILayout.open(at: path), tag: tag)
    }
}

/// The destination for a reference (a layout is created when missing).
public func makeImageDestination(_ reference: ImageReference, client: RegistryClient) throws -> any ImageDestination {
    switch reference {
    case .registry(let registryReference):
        return RegistryImageDestination(client: client, repository: registryReference.repositoryLocation)
    case .layout(let path, _):
        return LayoutImageDestination(layout: try OCILayout.create(at: path))
    }
}

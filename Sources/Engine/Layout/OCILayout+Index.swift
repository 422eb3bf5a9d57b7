extension OCILayout {
    /// The largest manifest or index read from a layout (the distribution
    /// spec lets registries refuse manifests over 4 MiB).
    public static let maxManifestBytes = 4 << 20

    /// The `index.json` entry for `tag` (its `org.opencontainers.image.ref.name`
    /// annotation, image-layout.md "index.json file"). With no tag, a layout
    /// holding exactly one entry resolves to it.
    public func entry(tag: String?) throws -> Descriptor {
        let index = try readIndex()
        guard let tag else {
            guard index.manifests.count == 1, let only = index.manifests.first else {
                throw EngineError(.invalidInput,
                    "the OCI image layout '\(path)' holds \(index.manifests.count) images; name one as oci:\(path):TAG (tags: \(tagList(index)))")
            }
            return only
        }
        guard let match = index.manifests.first(where: { $0.refName == tag }) else {
            throw EngineError(.imageNotFound, "the OCI image layout '\(path)' has no image tagged '\(tag)' (tags: \(tagList(index)))")
        }
        return match
    }

    /// Resolves `tag` to the image manifest for `platform`, through nested indexes.
    public func resolve(tag: String?, platform: Platform) async throws -> SourceImage {
        let top = try entry(tag: tag)
        let resolver = ManifestResolver(
            fetchManifest: { try self.readBlob($0, limit: Self.maxManifestBytes) },
            fetchConfig: { try self.readBlob($0) },
            sourceName: "the OCI image layout '\(path)'" + (tag.map { " tag '\($0)'" } ?? ""))
        return try await resolver.resolve(top: top, bytes: try readBlob(top, limit: Self.maxManifestBytes), platform: platform)
    }

    /// Adds `descriptor` to `index.json` under `tag`, replacing only the entry
    /// that already has that `ref.name` (other tags of the same digest stay).
    /// With no tag, the descriptor is added untagged unless that digest is
    /// already listed untagged.
    public func setManifest(_ descriptor: Descriptor, tag: String?) throws {
        var entry = descriptor
        if let tag { entry.refName = try RegistryReference.validatedTag(tag) } else { entry.refName = nil }
        try withIndexLock {
            var index = try readIndex()
            if let tag {
                index.manifests.removeAll { $0.refName == tag }
            } else {
                index.manifests.removeAll { $0.refName == nil && $0.digest == descriptor.digest }
            }
            index.manifests.append(entry)
            try writeIndex(index)
        }
    }

    private func tagList(_ index: ImageIndex) -> String {
        let tags = index.manifests.compactMap(\.refName)
        return tags.isEmpty ? "none" : tags.joined(separator: ", ")
    }
}

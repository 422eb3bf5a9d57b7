import Foundation

/// Builds the patched image's configuration and manifest and writes them, with
/// every blob they name, to the destination.
struct ImageExporter {
    struct Built: Sendable {
        let configBytes: [UInt8]
        let config: Descriptor
        let manifestBytes: [UInt8]
        let manifest: Descriptor
        let layers: [Descriptor]
    }

    /// The new image value: original layers + the patch layer; the config gains
    /// the patch's diff_id and a history entry, and keeps every other field.
    /// Copa's markers: the manifest annotation tools look for, and the
    /// config label naming the image that was patched first.
    static let patchedAnnotation = "sh.copa.image.patched"
    static let baseImageLabel = "BaseImage"

    static func build(source: SourceImage, base: PatchBase, patchLayer: Descriptor, diffID: Digest,
                      created: String, summary: String, sourceReference: String) throws -> Built {
        var config = try patchedConfig(source: source, base: base, created: created, summary: summary,
                                       sourceReference: sourceReference)
        config.setDiffIDs(base.baseDiffIDs + [diffID])
        let configBytes = config.canonicalBytes()
        let configDescriptor = Descriptor(of: configBytes, mediaType: source.manifest.config.mediaType)

        var manifest = source.manifest
        manifest.config = configDescriptor
        manifest.layers = base.baseLayers + [patchLayer]
        manifest.mediaType = source.descriptor.mediaType
        // OCI manifests carry annotations (Docker's schema 2 has none): the
        // source's are forwarded, with when it was patched.
        if source.family == .oci {
            var annotations = source.manifest.annotations ?? [:]
            annotations[patchedAnnotation] = created
            annotations[AnnotationKey.created] = created
            manifest.annotations = annotations
        }
        let manifestBytes = try manifest.canonicalBytes()
        let manifestDescriptor = Descriptor(of: manifestBytes, mediaType: source.descriptor.mediaType)
        return Built(configBytes: configBytes, config: configDescriptor, manifestBytes: manifestBytes,
                     manifest: manifestDescriptor, layers: manifest.layers)
    }

    /// The source's configuration with the original history plus our patch
    /// entry, and `created`; every other field is kept. diff_ids are the
    /// caller's (the BuildKit exporter computes its own).
    static func patchedConfig(source: SourceImage, base: PatchBase, created: String, summary: String,
                              sourceReference: String) throws -> ImageConfiguration {
        var config = source.config
        // A re-patched image keeps the first image's name.
        if config.labels[baseImageLabel] == nil { config.setLabel(baseImageLabel, sourceReference) }
        config.setField("history", .array(base.baseHistory))
        try config.appendHistory(ImageConfiguration.History(
            created: created, createdBy: PatchBase.historyCreatedBy, comment: summary))
        config.setField("created", .string(created))
        return config
    }

    /// Pushes/writes blobs first (skipping what the destination has, mounting
    /// within a registry, else uploading from the local cache) and the
    /// manifest last, so a failure never leaves a tag pointing at missing blobs.
    /// `listed`: the manifest is one platform of an index still to be
    /// written, so it is stored untagged (`putListedManifest`).
    static func publish(_ built: Built, to destination: any ImageDestination, tag: String?, listed: Bool = false,
                        source: any ImageSource, cache: OCILayout) async throws -> Descriptor {
        for layer in built.layers {
            try Task.checkCancellation()
            if try await destination.hasBlob(layer) { continue }
            if let origin = source.blobOrigin, try await destination.mountBlob(layer, from: origin) { continue }
            guard cache.hasBlob(layer) else {
                throw EngineError(.internal, "layer \(layer.digest) is neither at the destination nor in the local cache")
            }
            try await destination.putBlob(layer, from: cache.blobPath(layer.digest))
        }
        if try await !destination.hasBlob(built.config) {
            try await destination.putBlob(built.config, bytes: built.configBytes)
        }
        if listed {
            return try await destination.putListedManifest(built.manifestBytes, mediaType: built.manifest.mediaType)
        }
        return try await destination.putManifest(built.manifestBytes, mediaType: built.manifest.mediaType, tag: tag)
    }

    /// RFC 3339 time for `created` (the config's and the new history
    /// entry's): SOURCE_DATE_EPOCH when given, else the later of the source
    /// image's own `created` and the newest build time of the packages
    /// installed (`packageTimes`), so it never goes backwards and the same
    /// inputs give the same digest.
    static func createdTime(sourceDateEpoch: Int64?, source: SourceImage, packageTimes: [Int64] = []) -> String {
        if let sourceDateEpoch {
            return rfc3339(Date(timeIntervalSince1970: TimeInterval(sourceDateEpoch)))
        }
        let sourceCreated = source.config.created ?? rfc3339(Date(timeIntervalSince1970: 0))
        guard let newest = packageTimes.max(), newest > epochSeconds(sourceCreated) else { return sourceCreated }
        return rfc3339(Date(timeIntervalSince1970: TimeInterval(newest)))
    }

    /// When a .deb was built: the modification time in the ar header of its
    /// first member (dpkg-deb writes SOURCE_DATE_EPOCH or the build time).
    static func debBuildTime(_ path: String) -> Int64? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 8 + 60), header.count == 68,
              header.prefix(8) == Data("!<arch>\n".utf8) else { return nil }
        let field = header[(8 + 16)..<(8 + 28)]
        return Int64(String(decoding: field, as: UTF8.self).trimmingCharacters(in: .whitespaces))
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// Seconds since the epoch of an RFC 3339 time (for tar mtimes), 0 if unparsable.
    static func epochSeconds(_ rfc3339: String) -> Int64 {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: rfc3339) { return Int64(date.timeIntervalSince1970) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: rfc3339).map { Int64($0.timeIntervalSince1970) } ?? 0
    }
}

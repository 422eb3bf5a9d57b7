import Foundation
import Testing
@testable import Engine

@Suite struct OCILayoutTests {
    typealias Support = ImageIOTestSupport

    @Test func readsAnImageUmociBuilt() async throws {
        let directoryRoot = try Support.temporaryDirectory("layout-read")
        defer { try? FileManager.default.removeItem(atPath: directoryRoot) }
        let directory = directoryRoot + "/image"
        try Support.makeUmociImage(layout: directory, tag: "v1", files: ["etc/hello.txt": "hello from umoci\n"])
        let layout = try OCILayout.open(at: directory)
        let image = try await LayoutImageSource(layout: layout, tag: "v1").resolve(platform: .host)

        let inspected = try Support.skopeoInspect("oci:\(directory):v1")
        #expect(inspected["Digest"] as? String == image.descriptor.digest.description)
        #expect(inspected["Layers"] as? [String] == image.layers.map(\.digest.description))
        #expect(image.family == .oci)
        #expect(try image.config.diffIDs().count == image.layers.count)
        #expect(image.config.os == "linux")

        // Every layer streams out and verifies; a single image resolves without a tag too.
        for layer in image.layers {
            let bytes = try await Support.fetch(layer, from: LayoutImageSource(layout: layout, tag: "v1"))
            #expect(Digest.sha256(bytes) == layer.digest)
        }
        let untagged = try await LayoutImageSource(layout: layout, tag: nil).resolve(platform: .host)
        #expect(untagged.descriptor.digest == image.descriptor.digest)
        await #expect(throws: EngineError.self) {
            _ = try await LayoutImageSource(layout: layout, tag: "missing").resolve(platform: .host)
        }
    }

    /// Jobs writing different tags into one layout at once, each as a fresh
    /// `create` + `setManifest` the way a job's destination does: every tag
    /// is there afterwards (index.json is read-modified-written under a lock).
    @Test func concurrentWritersToOneLayoutLoseNoTag() throws {
        let root = try Support.temporaryDirectory("layout-writers")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Support.makeUmociImage(layout: root + "/src", tag: "base", files: ["etc/note": "x\n"])
        let descriptor = try OCILayout.open(at: root + "/src").entry(tag: "base")
        let shared = root + "/shared"
        let writers = 20, tagsEach = 5
        DispatchQueue.concurrentPerform(iterations: writers) { writer in
            for round in 0..<tagsEach {
                let layout = try! OCILayout.create(at: shared)
                try! layout.setManifest(descriptor, tag: "w\(writer)-\(round)")
            }
        }
        let listed = String(decoding: try Support.run("/usr/bin/umoci", ["ls", "--layout", shared]), as: UTF8.self)
        let tags = Set(listed.split(whereSeparator: \.isNewline).map(String.init))
        let expected = Set((0..<writers).flatMap { writer in (0..<tagsEach).map { "w\(writer)-\($0)" } })
        #expect(expected.subtracting(tags).isEmpty, "missing tags: \(expected.subtracting(tags).sorted())")
    }

    /// The blob cache's pruning: oldest-used first, down to the bound, and
    /// never a blob used since `keepingSince`; touching on use moves a blob
    /// to the back of the line.
    @Test func pruningRemovesLeastRecentlyUsedBlobsDownToTheBound() throws {
        let root = try Support.temporaryDirectory("layout-prune")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = try OCILayout.create(at: root + "/cache").touchingBlobs()
        var blobs: [Descriptor] = []
        for index in 0..<4 {
            blobs.append(try cache.writeBlob([UInt8](repeating: UInt8(index), count: 1000), mediaType: "application/octet-stream"))
        }
        // Ages: blob 0 oldest ... blob 3 newest; then blob 0 is used again.
        for (index, blob) in blobs.enumerated() {
            let age = TimeInterval(4000 - index * 1000)
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-age)], ofItemAtPath: cache.blobPath(blob.digest))
        }
        #expect(cache.hasBlob(blobs[0]))
        let since = Date().addingTimeInterval(-1500)
        let result = cache.pruneBlobs(maxBytes: 1500, keepingSince: since)
        // Blobs 1 and 2 are the least recently used; 3 (used 1000 s ago) is
        // older than `since`... no: 3 was used after `since`, and 0 just now.
        #expect(result.removed == 2)
        #expect(result.freedBytes == 2000)
        #expect(cache.hasBlob(blobs[0]) && cache.hasBlob(blobs[3]))
        #expect(!FileManager.default.fileExists(atPath: cache.blobPath(blobs[1].digest)))
        #expect(!FileManager.default.fileExists(atPath: cache.blobPath(blobs[2].digest)))
        #expect(result.keptBytes == 2000, "over the bound, but both kept blobs were used by running jobs")
        let du = String(decoding: try Support.run("/usr/bin/du", ["-sb", root + "/cache/blobs"]), as: UTF8.self)
        #expect((Int(du.split(separator: "\t")[0]) ?? .max) < 2000 + 3 * 4096)
    }

    @Test func writtenLayoutIsReadBySkopeoAndUmoci() async throws {
        let root = try Support.temporaryDirectory("layout-write")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Support.makeUmociImage(layout: root + "/src", tag: "base", files: ["usr/share/doc/note": "patched content\n"])
        let source = LayoutImageSource(layout: try OCILayout.open(at: root + "/src"), tag: "base")
        let image = try await source.resolve(platform: .host)

        // Copy into a new layout through the seam, with a changed config.
        let destination = LayoutImageDestination(layout: try OCILayout.create(at: root + "/out"))
        let report = try await copyMissingBlobs(from: source, to: destination, descriptors: image.layers)
        #expect(report.copied.count == image.layers.count)
        var config = image.config
        try config.appendHistory(.init(created: "2025-01-01T00:00:00Z", createdBy: "test", comment: "relabelled"))
        let configBytes = config.canonicalBytes()
        let configDescriptor = Descriptor(of: configBytes, mediaType: .ociConfig)
        try await destination.putBlob(configDescriptor, bytes: configBytes)
        let manifest = ImageManifest(config: configDescriptor, layers: image.layers)
        let written = try await destination.putManifest(try manifest.canonicalBytes(), mediaType: .ociManifest, tag: "patched")

        let inspected = try Support.skopeoInspect("oci:\(root)/out:patched")
        #expect(inspected["Digest"] as? String == written.digest.description)
        let raw = try Support.skopeo(["inspect", "--raw", "oci:\(root)/out:patched"])
        #expect(Digest.sha256(Array(raw)) == written.digest)
        let rawConfig = try Support.skopeo(["inspect", "--raw", "--config", "oci:\(root)/out:patched"])
        #expect(Array(rawConfig) == configBytes)

        let bundle = root + "/bundle"
        try Support.run("/usr/bin/umoci", ["unpack", "--rootless", "--image", "\(root)/out:patched", bundle])
        let content = try String(contentsOfFile: bundle + "/rootfs/usr/share/doc/note", encoding: .utf8)
        #expect(content == "patched content\n")

        // A second copy finds everything present.
        let again = try await copyMissingBlobs(from: source, to: destination, descriptors: image.layers)
        #expect(again.skipped.count == image.layers.count)
        #expect(again.copied.isEmpty)
    }

    @Test func setManifestReplacesOnlyTheSameTag() throws {
        let root = try Support.temporaryDirectory("layout-tags")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let layout = try OCILayout.create(at: root + "/l")
        let first = try layout.writeBlob(Array("{\"a\":1}".utf8), mediaType: .ociManifest)
        let second = try layout.writeBlob(Array("{\"a\":2}".utf8), mediaType: .ociManifest)
        try layout.setManifest(first, tag: "one")
        try layout.setManifest(first, tag: "also-one")
        try layout.setManifest(second, tag: "one")
        try layout.setManifest(second, tag: nil)
        try layout.setManifest(second, tag: nil)
        let entries = try layout.readIndex().manifests
        #expect(entries.count == 3)
        #expect(try layout.entry(tag: "one").digest == second.digest)
        #expect(try layout.entry(tag: "also-one").digest == first.digest)
        #expect(entries.filter { $0.refName == nil }.count == 1)
        #expect(throws: EngineError.self) { try layout.entry(tag: nil) }
        let onDisk = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: layout.path + "/oci-layout"))))
        #expect(onDisk["imageLayoutVersion"] == .string("1.0.0"))
    }

    @Test func blobWritesAreVerifiedAndAtomic() throws {
        let root = try Support.temporaryDirectory("layout-blobs")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let layout = try OCILayout.create(at: root + "/l")
        let payload = Array(repeating: UInt8(7), count: 100_000)
        let good = Descriptor(of: payload, mediaType: .ociLayer)
        try layout.writeBlob(from: MemorySource(payload), expected: good)
        #expect(layout.hasBlob(good))
        #expect(try layout.readBlob(good) == payload)

        let lie = Descriptor(mediaType: .ociLayer, digest: .sha256([1, 2, 3]), size: Int64(payload.count))
        #expect(throws: EngineError.self) { try layout.writeBlob(from: MemorySource(payload), expected: lie) }
        #expect(!FileManager.default.fileExists(atPath: layout.blobPath(lie.digest)))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: layout.path).filter { $0.hasPrefix(".tmp-") }
        #expect(leftovers.isEmpty)

        // A blob corrupted on disk is caught when read.
        try Data([9, 9, 9]).write(to: URL(fileURLWithPath: layout.blobPath(good.digest)))
        #expect(throws: EngineError.self) { try layout.readBlob(good) }
        #expect(throws: EngineError.self) { try OCILayout.open(at: layout.path + "/nope") }
    }

    @Test func foreignLayersAreLeftWhereTheyAre() async throws {
        let root = try Support.temporaryDirectory("layout-foreign")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = try OCILayout.create(at: root + "/src")
        let destination = try OCILayout.create(at: root + "/dst")
        let foreign = Descriptor(mediaType: .dockerForeignLayerGzip, digest: .sha256([5]), size: 1,
                                 urls: ["https://example.invalid/layer.tar.gz"])
        // The source does not hold the blob, so any attempt to copy it would fail.
        let report = try await copyMissingBlobs(from: LayoutImageSource(layout: source, tag: nil),
                                                to: LayoutImageDestination(layout: destination), descriptors: [foreign])
        #expect(report.foreign == [foreign.digest])
        #expect(!destination.hasBlob(foreign))
    }

    @Test func nestedIndexResolvesToThePlatform() async throws {
        let root = try Support.temporaryDirectory("layout-nested")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Support.makeUmociImage(layout: root + "/l", tag: "amd", files: ["arch": "amd64\n"], architecture: "amd64")
        try Support.makeUmociImage(layout: root + "/l", tag: "arm", files: ["arch": "arm64\n"], architecture: "arm64")
        let layout = try OCILayout.open(at: root + "/l")
        var amd = try layout.entry(tag: "amd")
        var arm = try layout.entry(tag: "arm")
        amd.refName = nil
        arm.refName = nil
        amd.platform = try Platform(parsing: "linux/amd64")
        arm.platform = try Platform(parsing: "linux/arm64/v8")
        let index = ImageIndex(manifests: [amd, arm])
        let indexDescriptor = try layout.writeBlob(try index.canonicalBytes(), mediaType: .ociIndex)
        try layout.setManifest(indexDescriptor, tag: "multi")

        let image = try await LayoutImageSource(layout: layout, tag: "multi").resolve(platform: try Platform(parsing: "linux/arm64"))
        #expect(image.config.architecture == "arm64")
        #expect(image.descriptor.digest == arm.digest)
        #expect(image.index?.digest == indexDescriptor.digest)
        await #expect(throws: EngineError.self) {
            _ = try await LayoutImageSource(layout: layout, tag: "multi").resolve(platform: try Platform(parsing: "linux/s390x"))
        }
        // skopeo reads the same index and picks the same arm64 image.
        let chosen = try Support.skopeoInspect("oci:\(root)/l:multi", global: ["--override-arch", "arm64"])
        #expect(chosen["Architecture"] as? String == "arm64")
        #expect(chosen["Layers"] as? [String] == image.layers.map(\.digest.description))
    }
}

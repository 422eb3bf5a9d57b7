import Foundation
import Testing
@testable import Engine

/// Against a real registry on loopback, named by COPA_TEST_REGISTRY; results
/// are checked with skopeo.
@Suite struct RegistryClientTests {
    typealias Support = ImageIOTestSupport

    /// Builds an image with umoci and pushes it with skopeo; returns its reference.
    private func seed(_ label: String, format: String? = nil) throws -> RegistryReference {
        let registry = try Support.registry()
        let root = try Support.temporaryDirectory(label)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Support.makeUmociImage(layout: root + "/image", tag: "v1", files: ["etc/\(label)": "content of \(label)\n", "usr/lib/x": "x\n"])
        let reference = try RegistryReference(parsing: "\(registry)/\(Support.repositoryName(label)):v1")
        let formatArguments = format.map { ["--format", $0] } ?? []
        try Support.skopeo(["copy", "--dest-tls-verify=false"] + formatArguments + ["oci:\(root)/image:v1", "docker://\(reference)"])
        return reference
    }

    @Test func pullMatchesSkopeo() async throws {
        let reference = try seed("pull")
        let source = RegistryImageSource(client: RegistryClient(), reference: reference)
        let image = try await source.resolve(platform: .host)

        let raw = try Support.skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(reference)"])
        #expect(image.manifestBytes == Array(raw))
        #expect(image.descriptor.digest == Digest.sha256(Array(raw)))
        #expect(image.descriptor.mediaType == .ociManifest)
        #expect(image.family == .oci)
        let inspected = try Support.skopeoInspect("docker://\(reference)", extra: ["--tls-verify=false"])
        #expect(inspected["Digest"] as? String == image.descriptor.digest.description)
        #expect(inspected["Layers"] as? [String] == image.layers.map(\.digest.description))
        let rawConfig = try Support.skopeo(["inspect", "--raw", "--config", "--tls-verify=false", "docker://\(reference)"])
        #expect(image.configBytes == Array(rawConfig))

        for layer in image.layers {
            let bytes = try await Support.fetch(layer, from: source)
            #expect(Digest.sha256(bytes) == layer.digest)
            #expect(Int64(bytes.count) == layer.size)
        }
    }

    @Test func pullsDockerSchema2() async throws {
        let reference = try seed("docker", format: "v2s2")
        let image = try await RegistryImageSource(client: RegistryClient(), reference: reference).resolve(platform: .host)
        let raw = try Support.skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(reference)"])
        #expect(image.descriptor.digest == Digest.sha256(Array(raw)))
        #expect(image.descriptor.mediaType == .dockerManifest)
        #expect(image.family == .docker)
        #expect(image.manifest.config.mediaType == .dockerConfig)
        #expect(image.layers.allSatisfy { $0.mediaType == .dockerLayerGzip })
    }

    @Test func pushIsVisibleToSkopeo() async throws {
        let registry = try Support.registry()
        let layoutPathRoot = try Support.temporaryDirectory("push")
        defer { try? FileManager.default.removeItem(atPath: layoutPathRoot) }
        let layoutPath = layoutPathRoot + "/image"
        try Support.makeUmociImage(layout: layoutPath, tag: "v1", files: ["etc/pushed": "pushed by the engine\n"])
        let source = LayoutImageSource(layout: try OCILayout.open(at: layoutPath), tag: "v1")
        let image = try await source.resolve(platform: .host)

        let client = RegistryClient()
        let repository = RegistryRepository(registry: registry, name: Support.repositoryName("push"))
        let destination = RegistryImageDestination(client: client, repository: repository)
        let report = try await copyMissingBlobs(from: source, to: destination, descriptors: image.layers + [image.manifest.config])
        #expect(report.copied.count == image.layers.count + 1)
        let pushed = try await destination.putManifest(image.manifestBytes, mediaType: .ociManifest, tag: "v1")
        #expect(pushed.digest == image.descriptor.digest)

        let target = "docker://\(registry)/\(repository.name):v1"
        let raw = try Support.skopeo(["inspect", "--raw", "--tls-verify=false", target])
        #expect(Digest.sha256(Array(raw)) == pushed.digest)
        let inspected = try Support.skopeoInspect(target, extra: ["--tls-verify=false"])
        #expect(inspected["Layers"] as? [String] == image.layers.map(\.digest.description))

        // Pushing again uploads nothing; pushing by digest works too.
        let again = try await copyMissingBlobs(from: source, to: destination, descriptors: image.layers + [image.manifest.config])
        #expect(again.skipped.count == image.layers.count + 1)
        let byDigest = try await destination.putManifest(image.manifestBytes, mediaType: .ociManifest, tag: nil)
        _ = try Support.skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(registry)/\(repository.name)@\(byDigest.digest)"])
        // skopeo can copy what the engine pushed back out into a layout.
        let roundTripRoot = try Support.temporaryDirectory("push-back")
        defer { try? FileManager.default.removeItem(atPath: roundTripRoot) }
        let roundTrip = roundTripRoot + "/image"
        try Support.skopeo(["copy", "--src-tls-verify=false", target, "oci:\(roundTrip):back"])
        #expect(try Support.skopeoInspect("oci:\(roundTrip):back")["Digest"] as? String == pushed.digest.description)
    }

    @Test func mountsBlobsWithinOneRegistry() async throws {
        let reference = try seed("mount-src")
        let client = RegistryClient()
        let source = RegistryImageSource(client: client, reference: reference)
        let image = try await source.resolve(platform: .host)
        let repository = RegistryRepository(registry: reference.registry, name: Support.repositoryName("mount-dst"))
        let destination = RegistryImageDestination(client: client, repository: repository)
        let blobs = image.layers + [image.manifest.config]
        for blob in blobs { #expect(try await !destination.hasBlob(blob)) }

        let report = try await copyMissingBlobs(from: source, to: destination, descriptors: blobs)
        #expect(report.mounted.count == blobs.count)
        #expect(report.copied.isEmpty)
        for blob in blobs { #expect(try await destination.hasBlob(blob)) }
        _ = try await destination.putManifest(image.manifestBytes, mediaType: image.descriptor.mediaType, tag: "mounted")
        let inspected = try Support.skopeoInspect("docker://\(repository):mounted", extra: ["--tls-verify=false"])
        #expect(inspected["Digest"] as? String == image.descriptor.digest.description)
    }

    @Test func copiesRegistryImageIntoALayout() async throws {
        let reference = try seed("to-layout")
        let source = RegistryImageSource(client: RegistryClient(), reference: reference)
        let image = try await source.resolve(platform: .host)
        let directoryRoot = try Support.temporaryDirectory("to-layout-out")
        defer { try? FileManager.default.removeItem(atPath: directoryRoot) }
        let directory = directoryRoot + "/out"
        let destination = LayoutImageDestination(layout: try OCILayout.create(at: directory))
        try await copyMissingBlobs(from: source, to: destination, descriptors: image.layers + [image.manifest.config])
        let written = try await destination.putManifest(image.manifestBytes, mediaType: image.descriptor.mediaType, tag: "copy")
        #expect(written.digest == image.descriptor.digest)
        #expect(try Support.skopeoInspect("oci:\(directory):copy")["Digest"] as? String == written.digest.description)
        let bundle = directory + "-bundle"
        try Support.run("/usr/bin/umoci", ["unpack", "--rootless", "--image", "\(directory):copy", bundle])
        #expect(try String(contentsOfFile: bundle + "/rootfs/etc/to-layout", encoding: .utf8) == "content of to-layout\n")
    }

    @Test func resolvesAnIndexToThePlatform() async throws {
        let registry = try Support.registry()
        let root = try Support.temporaryDirectory("index")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Support.makeUmociImage(layout: root + "/l", tag: "amd", files: ["arch": "amd64\n"], architecture: "amd64")
        try Support.makeUmociImage(layout: root + "/l", tag: "arm", files: ["arch": "arm64\n"], architecture: "arm64")
        let layout = try OCILayout.open(at: root + "/l")
        var entries: [Descriptor] = []
        for (tag, platform) in [("amd", "linux/amd64"), ("arm", "linux/arm64")] {
            var entry = try layout.entry(tag: tag)
            entry.refName = nil
            entry.platform = try Platform(parsing: platform)
            entries.append(entry)
        }
        let index = try layout.writeBlob(try ImageIndex(manifests: entries).canonicalBytes(), mediaType: .ociIndex)
        try layout.setManifest(index, tag: "multi")
        let reference = try RegistryReference(parsing: "\(registry)/\(Support.repositoryName("index")):multi")
        try Support.skopeo(["copy", "--all", "--dest-tls-verify=false", "oci:\(root)/l:multi", "docker://\(reference)"])

        let source = RegistryImageSource(client: RegistryClient(), reference: reference)
        let arm = try await source.resolve(platform: try Platform(parsing: "linux/arm64/v8"))
        #expect(arm.config.architecture == "arm64")
        #expect(arm.descriptor.digest == entries[1].digest)
        #expect(arm.index?.digest == index.digest)
        let amd = try await source.resolve(platform: try Platform(parsing: "linux/amd64"))
        #expect(amd.descriptor.digest == entries[0].digest)
        let raw = try Support.skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(reference)"])
        #expect(Digest.sha256(Array(raw)) == index.digest)
        do {
            _ = try await source.resolve(platform: try Platform(parsing: "linux/s390x"))
            Issue.record("resolving a platform the index lacks succeeded")
        } catch let error as EngineError {
            #expect(error.code == .imageNotFound)
            #expect(error.message.contains("linux/arm64"))
        }
    }

    @Test func missingImagesAndBlobsAreNotFound() async throws {
        let reference = try seed("missing")
        let client = RegistryClient()
        let absentTag = try reference.withTag("no-such-tag")
        do {
            _ = try await RegistryImageSource(client: client, reference: absentTag).resolve(platform: .host)
            Issue.record("a missing tag resolved")
        } catch let error as EngineError {
            #expect(error.code == .imageNotFound)
            #expect(error.message.contains("MANIFEST_UNKNOWN"))
        }
        let absentRepo = try RegistryReference(parsing: "\(reference.registry)/imageio/never-pushed-\(UInt32.random(in: 0 ... .max)):v1")
        await #expect(throws: EngineError.self) {
            _ = try await RegistryImageSource(client: client, reference: absentRepo).resolve(platform: .host)
        }
        let ghost = Descriptor(mediaType: .ociLayerGzip, digest: .sha256(Array("ghost".utf8)), size: 5)
        do {
            try await client.fetchBlob(ghost, from: reference.repositoryLocation, to: MemorySink())
            Issue.record("a missing blob was fetched")
        } catch let error as EngineError {
            #expect(error.code == .imageNotFound)
            #expect(error.message.contains("BLOB_UNKNOWN"))
        }
    }

    @Test func rejectsABlobThatDoesNotMatchItsDescriptor() async throws {
        let reference = try seed("verify")
        let source = RegistryImageSource(client: RegistryClient(), reference: reference)
        let image = try await source.resolve(platform: .host)
        guard let layer = image.layers.first else {
            Issue.record("the seeded image has no layer")
            return
        }
        var shorter = layer
        shorter.size -= 1
        let sink = FinishRecordingSink()
        do {
            try await source.fetchBlob(shorter, to: sink)
            Issue.record("a blob longer than its descriptor was accepted")
        } catch let error as EngineError {
            #expect(error.code == .verification)
        }
        #expect(!sink.finished)
    }

    @Test func followsRedirects() async throws {
        let reference = try seed("redirect")
        let registry = reference.registry
        // A front on another port that sends every request on to the registry,
        // as registries do with blobs kept in object storage.
        let front = try LoopbackHTTPServer { request in
            .init(status: "307 Temporary Redirect", headers: ["Location": "http://\(registry)\(request.target)"])
        }
        defer { front.stop() }
        let viaFront = try RegistryReference(parsing: "127.0.0.1:\(front.port)/\(reference.repository):v1")
        let source = RegistryImageSource(client: RegistryClient(), reference: viaFront)
        let image = try await source.resolve(platform: .host)
        let raw = try Support.skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(reference)"])
        #expect(image.descriptor.digest == Digest.sha256(Array(raw)))
        for layer in image.layers {
            #expect(Digest.sha256(try await Support.fetch(layer, from: source)) == layer.digest)
        }
        #expect(front.requests.contains { $0.target.contains("/blobs/") })
        #expect(front.requests.contains { $0.target.contains("/manifests/v1") })
    }

    /// A port whose accept queue is full: connections to it hang in the SYN
    /// stage, as to a host that drops packets.
    final class Blackhole {
        let port: Int
        private let listener: Int32
        private let filler: Int32

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
            guard listen(listener, 0) == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) } }
            self.listener = listener
            self.filler = filler
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit {
            close(filler)
            close(listener)
        }
    }

    /// A registry that never completes the TCP handshake fails within the
    /// connect timeout (10 s), not the 90 s of a browser-like client. The
    /// deadline only tells "within seconds" from "after a minute and a half".
    @Test func anUnreachableRegistryFailsWithinTheConnectTimeout() async throws {
        let hole = try Blackhole()
        let source = RegistryImageSource(client: RegistryClient(), reference: try RegistryReference(parsing: "127.0.0.1:\(hole.port)/app:1"))
        let started = ContinuousClock.now
        let error = await #expect(throws: EngineError.self) { _ = try await source.resolve(platform: .host) }
        // The connect timeout is 10 s; AsyncHTTPClient's default took 90 s.
        // The bound is loose because a loaded test run can delay this task
        // itself by tens of seconds: it only has to tell the two apart.
        #expect(ContinuousClock.now - started < .seconds(80), "took \(ContinuousClock.now - started)")
        #expect(error?.message.contains("127.0.0.1:\(hole.port)") == true)
    }

    /// Something that is not a registry answering 200 with a web page: the
    /// error names the URL and says what came back.
    @Test func anHTMLAnswerIsNamedWithItsURL() async throws {
        let page = try LoopbackHTTPServer { _ in
            .init(status: "200 OK", headers: ["Content-Type": "text/html"], body: "<html><body>Welcome to nginx!</body></html>")
        }
        defer { page.stop() }
        let source = RegistryImageSource(client: RegistryClient(), reference: try RegistryReference(parsing: "127.0.0.1:\(page.port)/app:1"))
        let error = await #expect(throws: EngineError.self) { _ = try await source.resolve(platform: .host) }
        #expect(error?.code == .registry)
        #expect(error?.message.contains("http://127.0.0.1:\(page.port)/v2/app/manifests/1") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("text/html") == true)
    }

    @Test func chooseSchemeByHost() {
        let client = RegistryClient(configuration: .init(insecureRegistries: ["registry.internal:5000", "plain.example"]))
        #expect(client.baseURL(for: "127.0.0.1:5055") == "http://127.0.0.1:5055")
        #expect(client.baseURL(for: "127.9.8.7") == "http://127.9.8.7")
        #expect(client.baseURL(for: "localhost:5000") == "http://localhost:5000")
        #expect(client.baseURL(for: "[::1]:5000") == "http://[::1]:5000")
        #expect(client.baseURL(for: "registry.internal:5000") == "http://registry.internal:5000")
        #expect(client.baseURL(for: "plain.example:8080") == "http://plain.example:8080")
        #expect(client.baseURL(for: "registry.internal:5001") == "https://registry.internal:5001")
        #expect(client.baseURL(for: "127.0.0.1.example.com") == "https://127.0.0.1.example.com")
        #expect(client.baseURL(for: "docker.io") == "https://registry-1.docker.io")
        #expect(client.baseURL(for: "ghcr.io") == "https://ghcr.io")
    }
}

/// Records whether `finish()` was called, to check a bad blob never completes.
final class FinishRecordingSink: ByteSink {
    private(set) var finished = false
    func write(_ bytes: UnsafeRawBufferPointer) throws {}
    func finish() throws { finished = true }
}

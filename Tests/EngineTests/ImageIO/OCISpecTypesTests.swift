import Foundation
import Testing
@testable import Engine

@Suite struct OCISpecTypesTests {
    static let manifestJSON = #"""
    {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
     "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7","size":7023},
     "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0","size":32654,
                "annotations":{"com.example.key":"value"}},
               {"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":"sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736","size":73109,
                "urls":["https://example.com/layer.tar.gz"]}],
     "subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270","size":1234},
     "annotations":{"com.example.key1":"value1"}}
    """#

    @Test func manifestRoundTripsFieldForField() throws {
        let manifest = try ImageManifest(bytes: Array(Self.manifestJSON.utf8))
        #expect(manifest.config.size == 7023)
        #expect(manifest.layers.count == 2)
        #expect(manifest.layers[1].mediaType.isForeignLayer)
        #expect(manifest.layers[1].urls == ["https://example.com/layer.tar.gz"])
        #expect(manifest.layers[0].mediaType.layerCompression == .gzip)
        #expect(manifest.subject?.size == 1234)
        let reparsed = try JSONValue(parsing: try manifest.canonicalBytes())
        let original = try JSONValue(parsing: Array(Self.manifestJSON.utf8))
        #expect(reparsed.canonicalBytes() == original.canonicalBytes())
        // Optional fields that are absent stay absent.
        #expect(reparsed["layers"]?.arrayValue?[0]["urls"] == nil)
        #expect(reparsed["artifactType"] == nil)
    }

    @Test func indexSelectsPlatformAndSkipsAttestations() throws {
        func entry(_ byte: UInt8, _ platform: String) throws -> Descriptor {
            Descriptor(mediaType: .ociManifest, digest: .sha256([byte]), size: 10, platform: try Platform(parsing: platform))
        }
        let index = ImageIndex(manifests: [
            try entry(1, "unknown/unknown"), try entry(2, "linux/amd64"), try entry(3, "linux/arm64/v8"),
        ])
        #expect(index.manifest(for: try Platform(parsing: "linux/arm64"))?.digest == .sha256([3]))
        #expect(index.manifest(for: try Platform(parsing: "linux/amd64"))?.digest == .sha256([2]))
        #expect(index.manifest(for: try Platform(parsing: "linux/s390x")) == nil)
        let bytes = try index.canonicalBytes()
        #expect(try ImageIndex(bytes: bytes) == index)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("\\/"))
    }

    @Test func rejectsWrongSchemaAndBadDescriptors() {
        #expect(throws: EngineError.self) {
            try ImageManifest(bytes: Array(Self.manifestJSON.replacingOccurrences(of: "\"schemaVersion\":2", with: "\"schemaVersion\":1").utf8))
        }
        #expect(throws: EngineError.self) {
            try ImageManifest(bytes: Array(Self.manifestJSON.replacingOccurrences(of: "\"size\":7023", with: "\"size\":-1").utf8))
        }
        #expect(throws: EngineError.self) {
            try ImageManifest(bytes: Array(Self.manifestJSON.replacingOccurrences(of: "sha256:b5b2", with: "sha256:B5B2").utf8))
        }
        #expect(throws: EngineError.self) { try ImageIndex(bytes: Array("{\"schemaVersion\":2}".utf8)) }
    }

    @Test func mediaTypeFamilies() {
        #expect(MediaTypeFamily(manifestType: .dockerManifest) == .docker)
        #expect(MediaTypeFamily(manifestType: .ociIndex) == .oci)
        #expect(MediaTypeFamily.docker.layer(.gzip) == .dockerLayerGzip)
        #expect(MediaTypeFamily.oci.config == .ociConfig)
        #expect(MediaType.dockerForeignLayerGzip.isLayer)
        #expect(MediaType.ociLayerZstd.layerCompression == .zstd)
        #expect(MediaType.ociConfig.layerCompression == nil)
    }
}

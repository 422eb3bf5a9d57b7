import Foundation
import Testing
@testable import Engine

@Suite struct DigestTests {
    @Test func acceptsWellFormedDigests() throws {
        let hex = String(repeating: "ab", count: 32)
        let digest = try Digest("sha256:\(hex)")
        #expect(digest.algorithm == .sha256)
        #expect(digest.encoded == hex)
        #expect(digest.description == "sha256:\(hex)")
        #expect(try Digest("sha512:" + String(repeating: "0f", count: 64)).algorithm == .sha512)
    }

    @Test(arguments: [
        "", "sha256", "sha256:", "sha256:abc",
        "sha256:" + String(repeating: "AB", count: 32),
        "sha256:" + String(repeating: "a", count: 65),
        "sha256:" + String(repeating: "g", count: 64),
        "md5:" + String(repeating: "a", count: 32),
        "sha256:" + String(repeating: "a", count: 63) + "/",
        "sha512:" + String(repeating: "a", count: 64),
    ])
    func rejectsMalformedDigests(_ text: String) {
        #expect(throws: EngineError.self) { try Digest(text) }
    }

    @Test func sha256MatchesSha256sum() throws {
        let bytes = Array("the quick brown fox\n".utf8)
        let pathRoot = try ImageIOTestSupport.temporaryDirectory("digest")
        defer { try? FileManager.default.removeItem(atPath: pathRoot) }
        let path = pathRoot + "/data"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let output = String(decoding: try ImageIOTestSupport.run("/usr/bin/sha256sum", [path]), as: UTF8.self)
        let expected = String(output.prefix(64))
        #expect(Digest.sha256(bytes).description == "sha256:\(expected)")
    }

    @Test func codableAsAString() throws {
        let digest = Digest.sha256(Array("x".utf8))
        let encoded = try JSONEncoder().encode([digest])
        #expect(String(decoding: encoded, as: UTF8.self) == "[\"\(digest)\"]")
        #expect(try JSONDecoder().decode([Digest].self, from: encoded) == [digest])
        #expect(throws: (any Error).self) { try JSONDecoder().decode([Digest].self, from: Data("[\"sha256:12\"]".utf8)) }
    }

    @Test func sinkHashesCountsAndForwards() throws {
        let downstream = MemorySink()
        let sink = SHA256Sink(downstream: downstream)
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try MemorySource(data).copy(to: sink, chunkSize: 4096)
        try sink.finish()
        let (digest, size) = sink.finalize()
        #expect(size == Int64(data.count))
        #expect(digest == Digest.sha256(data))
        #expect(downstream.bytes == data)
        try sink.verify(Descriptor(mediaType: .ociLayer, digest: digest, size: size))
        #expect(throws: EngineError.self) {
            try sink.verify(Descriptor(mediaType: .ociLayer, digest: digest, size: size + 1))
        }
        #expect(throws: EngineError.self) {
            try sink.verify(Descriptor(mediaType: .ociLayer, digest: .sha256([1]), size: size))
        }
    }
}

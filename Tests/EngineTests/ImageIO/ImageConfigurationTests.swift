import Foundation
import Testing
@testable import Engine

@Suite struct ImageConfigurationTests {
    /// A Docker-built config with fields the OCI spec does not define.
    static let dockerConfig = #"""
    {"architecture":"amd64","config":{"Env":["PATH=/usr/local/sbin:/usr/bin"],"Cmd":["bash"],"Labels":{"org.example/é":"ünïcode \"quoted\"\n"}},
     "container_config":{"Hostname":"abc","Image":"sha256:00"},"created":"2024-01-02T03:04:05.123456789Z","docker_version":"20.10.23",
     "history":[{"created":"2024-01-02T03:04:05Z","created_by":"/bin/sh -c #(nop) ADD file:abc in / ","x-extra":{"keep":true}},
                {"created":"2024-01-02T03:04:06Z","created_by":"/bin/sh -c #(nop)  CMD [\"bash\"]","empty_layer":true}],
     "os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},
     "weights":[1e3,-0.50,0,12345678901234567890]}
    """#

    @Test func canonicalBytesMatchPythonSortedCompactDump() throws {
        let config = try ImageConfiguration(bytes: Array(Self.dockerConfig.utf8))
        let directory = try ImageIOTestSupport.temporaryDirectory("config")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = directory + "/config.json"
        try Data(Self.dockerConfig.utf8).write(to: URL(fileURLWithPath: input))
        // Python re-prints floats, so compare on a document without them.
        var withoutFloats = config
        withoutFloats.setField("weights", nil)
        let script = """
        import json, sys
        doc = json.load(open(sys.argv[1], encoding="utf-8"))
        del doc["weights"]
        sys.stdout.write(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        """
        let expected = try ImageIOTestSupport.run("/usr/bin/env", ["python3", "-c", script, input])
        #expect(withoutFloats.canonicalBytes() == Array(expected))
    }

    @Test func readModifyWriteKeepsEveryOtherField() throws {
        var config = try ImageConfiguration(bytes: Array(Self.dockerConfig.utf8))
        #expect(config.architecture == "amd64")
        #expect(config.os == "linux")
        #expect(config.created == "2024-01-02T03:04:05.123456789Z")
        let history = try config.history()
        #expect(history.count == 2)
        #expect(history[1].emptyLayer == true)
        #expect(history[0].createdBy?.hasPrefix("/bin/sh -c #(nop) ADD") == true)

        let newLayer = Digest.sha256(Array("layer".utf8))
        try config.appendDiffID(newLayer)
        try config.appendHistory(.init(created: "2025-05-05T00:00:00Z", createdBy: "copa patch", comment: "patched"))
        config.created = "2025-05-05T00:00:00Z"

        let reread = try ImageConfiguration(bytes: config.canonicalBytes())
        #expect(try reread.diffIDs().last == newLayer)
        #expect(try reread.diffIDs().count == 2)
        #expect(try reread.history().count == 3)
        #expect(try reread.history().last?.comment == "patched")
        #expect(reread.created == "2025-05-05T00:00:00Z")
        // Unknown fields and exact number text survive.
        #expect(reread.json["docker_version"] == .string("20.10.23"))
        #expect(reread.json["container_config"]?["Hostname"] == .string("abc"))
        #expect(reread.json["history"]?.arrayValue?.first?["x-extra"]?["keep"] == .bool(true))
        #expect(reread.json["weights"] == .array([.number("1e3"), .number("-0.50"), .number("0"), .number("12345678901234567890")]))
        #expect(reread.json["config"]?["Labels"]?["org.example/é"] == .string("ünïcode \"quoted\"\n"))
    }

    @Test func sameContentGivesSameDigestWhateverTheKeyOrder() throws {
        let a = try ImageConfiguration(bytes: Array(#"{"os":"linux","architecture":"arm64","rootfs":{"diff_ids":[],"type":"layers"}}"#.utf8))
        let b = try ImageConfiguration(bytes: Array(#"  {"rootfs":{"type":"layers","diff_ids":[]},"architecture":"arm64","os":"linux"}"#.utf8))
        #expect(Digest.sha256(a.canonicalBytes()) == Digest.sha256(b.canonicalBytes()))
        #expect(String(decoding: a.canonicalBytes(), as: UTF8.self) == #"{"architecture":"arm64","os":"linux","rootfs":{"diff_ids":[],"type":"layers"}}"#)
    }

    @Test func setDiffIDsCreatesRootfs() throws {
        var config = try ImageConfiguration(bytes: Array("{}".utf8))
        #expect(try config.diffIDs().isEmpty)
        try config.appendDiffID(.sha256([1]))
        #expect(config.json["rootfs"]?["type"] == .string("layers"))
        #expect(try config.diffIDs() == [.sha256([1])])
    }

    @Test func duplicateKeysKeepTheLastValue() throws {
        let value = try JSONValue(parsing: Array(#"{"a":1,"b":2,"a":3}"#.utf8))
        #expect(String(decoding: value.canonicalBytes(), as: UTF8.self) == #"{"a":3,"b":2}"#)
    }

    @Test(arguments: [
        "", "{", #"{"a":}"#, #"{"a":1,}"#, "[1,]", "01", "1.", "-", "1e", #""\u12""#, #""\ud800""#,
        "{} x", #"{"a" 1}"#, "tru", "nul", "\"\u{01}\"", #"{"a":[1 2]}"#, "NaN",
    ])
    func rejectsMalformedJSON(_ text: String) {
        #expect(throws: EngineError.self) { try JSONValue(parsing: Array(text.utf8)) }
    }

    @Test func rejectsHostileDocuments() {
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        #expect(throws: EngineError.self) { try JSONValue(parsing: deep) }
        let invalidUTF8: [UInt8] = [0x22, 0xff, 0xfe, 0x22]
        #expect(throws: EngineError.self) { try JSONValue(parsing: invalidUTF8) }
        #expect(throws: EngineError.self) { try ImageConfiguration(bytes: Array("[1,2]".utf8)) }
        #expect(throws: EngineError.self) {
            try ImageConfiguration(bytes: Array(#"{"rootfs":{"diff_ids":[5]}}"#.utf8)).diffIDs()
        }
        #expect(throws: EngineError.self) {
            try ImageConfiguration(bytes: Array(#"{"rootfs":{"diff_ids":["sha256:zz"]}}"#.utf8)).diffIDs()
        }
        #expect(throws: EngineError.self) {
            try ImageConfiguration(bytes: Array(#"{"history":{}}"#.utf8)).history()
        }
    }

    @Test func parsesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue(parsing: Array(#"["\u00e9\ud83d\ude00\/\b\f\t", -0, 1E+2]"#.utf8))
        #expect(value == .array([.string("é😀/\u{08}\u{0C}\t"), .number("-0"), .number("1E+2")]))
        #expect(String(decoding: value.canonicalBytes(), as: UTF8.self) == "[\"é😀/\\u0008\\u000c\\t\",-0,1E+2]")
    }
}

import BuildKitAPI
import Crypto
import Foundation
import SwiftProtobuf
import Testing
@testable import Engine

@Suite struct BuildKitAddressTests {
    @Test func parsesTheThreeKindsOfAddress() throws {
        #expect(try BuildKitAddress(parsing: "unix:///run/buildkit/buildkitd.sock") == .unix(path: "/run/buildkit/buildkitd.sock"))
        #expect(try BuildKitAddress(parsing: "tcp://buildkit.internal:1234") == .tcp(host: "buildkit.internal", port: 1234))
        #expect(try BuildKitAddress(parsing: "tcp://[::1]:1234") == .tcp(host: "::1", port: 1234))
        #expect(try BuildKitAddress(parsing: "docker://") == .docker(socket: "/var/run/docker.sock"))
        #expect(try BuildKitAddress(parsing: "docker://unix:///tmp/d.sock") == .docker(socket: "/tmp/d.sock"))
        #expect(try BuildKitAddress(parsing: "docker://unix:///tmp/d.sock").description == "docker://unix:///tmp/d.sock")
    }

    @Test(arguments: ["unix://relative.sock", "tcp://host", "tcp://host:0", "tcp://:1234", "docker://tcp://h:2375", "http://x:1", ""])
    func rejectsWhatItCannotReach(_ text: String) {
        #expect(throws: EngineError.self) { try BuildKitAddress(parsing: text) }
    }

    @Test func engineThatRefusesTheUpgradeIsAClearError() throws {
        // A unix socket that answers like an engine without /grpc.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("copa-bk-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let socket = directory + "/engine.sock"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
            c, _ = s.accept(); c.recv(4096)
            c.sendall(b"HTTP/1.1 404 Not Found\\r\\nContent-Length: 0\\r\\n\\r\\n"); c.close()
            """, socket]
        try server.run()
        defer { server.terminate() }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { Thread.sleep(forTimeInterval: 0.05) }
        do {
            _ = try DockerGRPCBridge(engineSocket: socket, directory: directory)
            Issue.record("the bridge accepted an engine that refused the upgrade")
        } catch let error as EngineError {
            #expect(error.code == .executor)
            #expect(error.message.contains("HTTP/1.1 404 Not Found"), "\(error.message)")
        }
    }
}

@Suite struct LLBDefinitionTests {
    /// Ops are named by the SHA-256 of their bytes, as BuildKit names vertices;
    /// map fields are written in a fixed order so the bytes (and BuildKit's
    /// cache keys) are the same from one job to the next.
    @Test func opsAreDeterministicAndNamedByTheirDigest() throws {
        func build() throws -> Pb_Definition {
            var llb = LLBDefinition()
            var source = Pb_SourceOp()
            source.identifier = "docker-image://127.0.0.1:5000/app@sha256:" + String(repeating: "a", count: 64)
            for key in ["z", "a", "m", "b", "y"] { source.attrs[key] = key }
            var op = Pb_Op()
            op.source = source
            let image = try llb.add(op, name: "image", caps: ["source.image"])
            let again = try llb.add(op, name: "image", caps: ["source.image"])
            #expect(image == again)
            let changed = try llb.exec(args: ["true"], env: [], mounts: [.init(dest: "/", kind: .layer(image, keep: true))],
                                       platform: Platform(os: "linux", architecture: "amd64"), network: .host, name: "exec")[0]
            let diff = try llb.diff(lower: image, upper: changed, name: "diff")
            let merged = try llb.merge([image, diff], name: "merge")
            return try llb.definition(result: merged)
        }
        let first = try build()
        let second = try build()
        #expect(first.def == second.def)
        #expect(first.def.count == 5, "image, exec, diff, merge and the terminal op; the repeated op is added once")
        for bytes in first.def.dropLast() {
            let digest = "sha256:" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
            #expect(first.metadata[digest] != nil)
        }
        let terminal = try Pb_Op(serializedBytes: first.def.last!)
        let merge = try Pb_Op(serializedBytes: first.def[3])
        #expect(terminal.op == nil && terminal.inputs.count == 1)
        #expect(terminal.inputs[0].digest == "sha256:" + SHA256.hash(data: first.def[3]).map { String(format: "%02x", $0) }.joined())
        #expect(merge.merge.inputs.map(\.input) == [0, 1])
        let mergeDigest = terminal.inputs[0].digest
        #expect(first.metadata[mergeDigest]?.caps["mergeop"] == true)
    }

    /// Report fields are arguments, never shell text: a package name with
    /// shell syntax in it stays one argv entry after the constant script.
    @Test func execArgumentsAreAnArray() throws {
        var llb = LLBDefinition()
        var source = Pb_SourceOp()
        source.identifier = "docker-image://127.0.0.1:5000/app:1"
        var op = Pb_Op()
        op.source = source
        let image = try llb.add(op, name: "image", caps: [])
        let hostile = "x=1;rm -rf /"
        _ = try llb.exec(args: ["/bin/sh", "-c", PatchGraph.aptScript, "copa-apt", hostile], env: PatchGraph.environment,
                         mounts: [.init(dest: "/", kind: .layer(image, keep: true)), .init(dest: "/var/cache/apt", kind: .cache(id: "c"))],
                         platform: Platform(os: "linux", architecture: "amd64"), network: .host, name: "exec")
        let exec = try Pb_Op(serializedBytes: llb.ops[1]).exec
        #expect(exec.meta.args.last == hostile)
        #expect(exec.meta.args[2] == PatchGraph.aptScript)
        #expect(!PatchGraph.aptScript.contains("x=1"))
        #expect(exec.network == .host)
        #expect(exec.mounts[1].mountType == .cache && exec.mounts[1].output == -1 && exec.mounts[1].cacheOpt.sharing == .locked)
    }

    @Test func toolingImageFollowsTheRelease() throws {
        let bookworm = try OSRelease(parsing: "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n")
        #expect(try PatchGraph.toolingImage(template: nil, osRelease: bookworm) == "docker.io/library/debian:bookworm-slim")
        #expect(try PatchGraph.toolingImage(template: "127.0.0.1:5000/{id}:{codename}", osRelease: bookworm) == "127.0.0.1:5000/debian:bookworm")
        let jammy = try OSRelease(parsing: "ID=ubuntu\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n")
        #expect(try PatchGraph.toolingImage(template: nil, osRelease: jammy) == "docker.io/library/ubuntu:22.04")
        let bare = try OSRelease(parsing: "ID=debian\n")
        #expect(throws: EngineError.self) { try PatchGraph.toolingImage(template: nil, osRelease: bare) }
    }
}

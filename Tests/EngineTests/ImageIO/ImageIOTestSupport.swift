import Foundation
import Testing
@testable import Engine

/// Helpers shared by the image I/O tests: real tools (umoci, skopeo,
/// docker-registry) run with argument arrays, real files in temp dirs.
enum ImageIOTestSupport {
    struct ToolFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a tool and returns its stdout; throws with its stderr when it fails.
    /// stderr goes to a file so a chatty tool can never block on a full pipe.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Data {
        let errorPath = FileManager.default.temporaryDirectory.path + "/copa-imageio-stderr-\(UInt32.random(in: .min ... .max))"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorPath) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try process.run()
        let output = stdout.fileHandleForReading.readAllRetryingInterrupts()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let errorOutput = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            throw ToolFailure(description: "\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(errorOutput)")
        }
        return output
    }

    static func temporaryDirectory(_ label: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/copa-imageio-\(label)-\(UInt32.random(in: .min ... .max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The test registry (`host:port`) from `COPA_TEST_REGISTRY`.
    static func registry() throws -> String {
        guard let value = ProcessInfo.processInfo.environment["COPA_TEST_REGISTRY"], !value.isEmpty else {
            throw ToolFailure(description:
                "COPA_TEST_REGISTRY is not set: start a registry on loopback (e.g. docker-registry serve CONFIG with http.addr 127.0.0.1:5055) and set COPA_TEST_REGISTRY=127.0.0.1:5055")
        }
        return value
    }

    /// A unique repository name under `imageio/`.
    static func repositoryName(_ label: String) -> String {
        "imageio/\(label)-\(UInt32.random(in: .min ... .max))"
    }

    /// Builds an image with umoci in `layout` under `tag`, holding `files`
    /// (path → content) in one layer, for `architecture`.
    static func makeUmociImage(layout: String, tag: String, files: [String: String], architecture: String? = nil) throws {
        if !FileManager.default.fileExists(atPath: layout + "/oci-layout") {
            try run("/usr/bin/umoci", ["init", "--layout", layout])
        }
        try run("/usr/bin/umoci", ["new", "--image", "\(layout):\(tag)"])
        let bundle = try temporaryDirectory("bundle")
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try FileManager.default.removeItem(atPath: bundle)
        try run("/usr/bin/umoci", ["unpack", "--rootless", "--image", "\(layout):\(tag)", bundle])
        for (path, content) in files {
            let full = "\(bundle)/rootfs/\(path)"
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: full))
        }
        try run("/usr/bin/umoci", ["repack", "--image", "\(layout):\(tag)", bundle])
        if let architecture {
            try run("/usr/bin/umoci", ["config", "--image", "\(layout):\(tag)", "--architecture", architecture])
        }
    }

    @discardableResult
    static func skopeo(_ arguments: [String]) throws -> Data {
        try run("/usr/bin/skopeo", arguments)
    }

    /// `skopeo inspect` (not --raw) output as JSON.
    static func skopeoInspect(_ image: String, global: [String] = [], extra: [String] = []) throws -> [String: Any] {
        let data = try skopeo(global + ["inspect"] + extra + [image])
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// Collects a blob into memory through an `ImageSource`.
    static func fetch(_ descriptor: Descriptor, from source: any ImageSource) async throws -> [UInt8] {
        let sink = MemorySink()
        try await source.fetchBlob(descriptor, to: sink)
        return sink.bytes
    }
}

import Foundation
import Testing
@testable import Engine

/// Helpers for the dpkg and apt metadata tests: the real tools (dpkg,
/// dpkg-query, gpg, lz4, sh) run with argument arrays, the machine's own
/// database and apt lists, and the shared fixtures.
enum DpkgTestSupport {
    struct ToolFailure: Error, CustomStringConvertible {
        let description: String
    }

    struct Outcome {
        let status: Int32
        let stdout: Data
        let stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs a tool and returns its exit status and output, whatever the status.
    /// stdin comes from a file and stderr goes to one, so neither side can
    /// block on a full pipe while the other is being drained.
    static func run(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> Outcome {
        let base = FileManager.default.temporaryDirectory.path + "/copa-dpkg-\(UInt32.random(in: .min ... .max))"
        let errorPath = base + ".stderr", inputPath = base + ".stdin"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        _ = FileManager.default.createFile(atPath: inputPath, contents: input ?? Data())
        defer {
            try? FileManager.default.removeItem(atPath: errorPath)
            try? FileManager.default.removeItem(atPath: inputPath)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        process.standardInput = FileHandle(forReadingAtPath: inputPath)
        try process.run()
        let output = stdout.fileHandleForReading.readAllRetryingInterrupts()
        process.waitUntilExit()
        let errorOutput = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        return Outcome(status: process.terminationStatus, stdout: output, stderr: errorOutput)
    }

    /// Runs a tool that must succeed and returns its stdout as text.
    static func output(_ executable: String, _ arguments: [String]) throws -> String {
        let outcome = try run(executable, arguments)
        guard outcome.status == 0 else {
            throw ToolFailure(description: "\(executable) \(arguments.joined(separator: " ")) exited \(outcome.status): \(outcome.stderr)")
        }
        return outcome.text
    }

    static func hasTool(_ path: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: path)
    }

    static func readText(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }

    static func temporaryDirectory(_ label: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/copa-dpkg-\(label)-\(UInt32.random(in: .min ... .max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `<repository>/../shared/testdata`, found by walking up from this file.
    static func sharedTestData(filePath: String = #filePath) throws -> URL {
        var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("shared/testdata")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw ToolFailure(description: "no shared/testdata directory above \(filePath); link the shared fixtures at <repository>/../shared/testdata")
    }

    /// Files in /var/lib/apt/lists whose names end with `suffix`, sorted.
    static func aptLists(endingWith suffix: String) -> [String] {
        let directory = "/var/lib/apt/lists"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(suffix) }.sorted().map { "\(directory)/\($0)" }
    }

    /// A `Packages` index from /var/lib/apt/lists, decompressed with the real
    /// tool for its suffix. Prefers the smallest (the security suite), so
    /// unoptimized test builds stay quick. Nil when the machine has none.
    static func smallestPackagesIndex() throws -> (path: String, text: String)? {
        let candidates = aptLists(endingWith: "_Packages") + aptLists(endingWith: "_Packages.lz4")
            + aptLists(endingWith: "_Packages.xz") + aptLists(endingWith: "_Packages.gz")
        let sized = candidates.compactMap { path -> (String, Int)? in
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > 1000 else { return nil }
            return (path, size)
        }
        guard let path = sized.min(by: { $0.1 < $1.1 })?.0 else { return nil }
        let data: Data
        if path.hasSuffix(".lz4") {
            data = try run("/usr/bin/lz4", ["-dc", path]).stdout
        } else if path.hasSuffix(".xz") {
            data = try run("/usr/bin/xz", ["-dc", path]).stdout
        } else if path.hasSuffix(".gz") {
            data = try run("/bin/gzip", ["-dc", path]).stdout
        } else {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        return (path, String(decoding: data, as: UTF8.self))
    }

    /// dpkg's native architecture on this machine.
    static func nativeArchitecture() throws -> String {
        try output("/usr/bin/dpkg", ["--print-architecture"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

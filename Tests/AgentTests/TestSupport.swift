import Engine
import Foundation
import Protocol
import Testing

/// Paths and services the integration tests use. `scripts/test` builds the
/// fixtures, starts the registry and repository server and exports these.
enum TestEnvironment {
    static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw TestSetupError(message: "\(name) is not set: run the tests with scripts/test, which builds the fixtures and starts the services")
        }
        return value
    }

    static var fixtures: String { get throws { try variable("COPA_TEST_FIXTURES") } }
    static var registry: String { get throws { try variable("COPA_TEST_REGISTRY") } }
    static var repoURL: String { get throws { try variable("COPA_TEST_REPO_URL") } }

    /// A file of the scanner reports and package databases from other
    /// projects, kept in Tests/shared/testdata (a copy of the workspace's
    /// shared/testdata, so a bare clone has it too).
    static func sharedTestData(_ relativePath: String) -> String {
        repositoryRoot.appendingPathComponent("Tests/shared/testdata/" + relativePath).path
    }

    /// A binary built by `swift build` for this package.
    static func binary(_ name: String) -> String {
        repositoryRoot.appendingPathComponent(".build/debug/\(name)").path
    }

    /// A private copy of the fixture layout, so tests never change the shared one.
    static func copyFixtureLayout() throws -> String {
        let directory = try temporaryDirectory()
        let copy = directory + "/layout"
        try run("/bin/cp", ["-a", try fixtures + "/images/layout", copy]).check()
        return copy
    }

    /// A fresh agent workdir whose `layouts/fixture` is a copy of the fixture
    /// layout: where a remote agent's default policy lets clients read and write.
    static func workdirWithFixtureLayout() throws -> String {
        let workdir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: workdir + "/layouts", withIntermediateDirectories: true)
        try run("/bin/cp", ["-a", try fixtures + "/images/layout", workdir + "/layouts/fixture"]).check()
        return workdir
    }

    /// A `copa-agent serve --policy` file letting clients read and write
    /// layouts anywhere under the temporary directory (where the tests keep
    /// theirs) and name apt sources on `sourceHosts`, all else as the
    /// default policy.
    static func layoutPolicy(sourceHosts: [String] = []) throws -> String {
        let path = try temporaryDirectory() + "/policy.yaml"
        let root = FileManager.default.temporaryDirectory.path
        let hosts = sourceHosts.map { "\"\($0)\"" }.joined(separator: ", ")
        try "layouts:\n  read: [\"\(root)\"]\n  write: [\"\(root)\"]\nsources:\n  hosts: [\(hosts)]\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("copa-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A `copa-agent serve` process whose stderr goes to a file the test can read.
/// Its fields never change after init; Process may be asked from any thread.
final class AgentProcess: @unchecked Sendable {
    let process = Process()
    let log: String

    /// Starts `copa-agent serve ARGUMENTS` on `workdir` (default: a fresh one).
    /// Give `--listen tcp://127.0.0.1:0`: `endpoint()` reads the port the
    /// system chose from the agent's log.
    /// `prefix` runs the agent through another command (`ip netns exec NS`).
    init(_ arguments: [String], workdir: String? = nil, prefix: [String] = []) throws {
        let directory = try TestEnvironment.temporaryDirectory()
        log = directory + "/agent.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let command = [TestEnvironment.binary("copa-agent"), "serve", "--workdir", workdir ?? directory + "/work"] + arguments
        process.executableURL = URL(fileURLWithPath: prefix.first ?? command[0])
        process.arguments = Array((prefix + command).dropFirst())
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// The endpoint to connect to, once the agent says it listens.
    func endpoint() async throws -> String {
        for _ in 0..<600 {
            if let line = logText.split(separator: "\n").first(where: { $0.contains("agent listening") }),
               let field = line.split(separator: " ").first(where: { $0.hasPrefix("endpoint=") }),
               let port = field.split(separator: ":").last {
                // The address it bound, unless that is every address.
                let bound = field.dropFirst("endpoint=tcp://".count).split(separator: ":").first.map(String.init) ?? ""
                return "tcp://\(bound.isEmpty || bound == "0.0.0.0" || bound == "*" ? "127.0.0.1" : bound):\(port)"
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError(message: "copa-agent did not start listening:\n\(logText)")
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
    let command: String

    @discardableResult
    func check() throws -> CommandResult {
        guard status == 0 else {
            throw TestSetupError(message: "\(command) exited \(status)\nstdout: \(stdout)\nstderr: \(stderr)")
        }
        return self
    }
}

/// Runs a program with an argument array and collects its output.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    BrokenPipes.ignore()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readAllRetryingInterrupts()
        group.leave()
    }
    let outData = out.fileHandleForReading.readAllRetryingInterrupts()
    group.wait()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self),
                         command: ([executable] + arguments).joined(separator: " "))
}

/// Reads a patched image back with independent tools: umoci unpacks it and
/// dpkg reads its database.
struct UnpackedImage {
    let rootfs: String

    static func unpack(layout: String, tag: String) throws -> UnpackedImage {
        let bundle = try TestEnvironment.temporaryDirectory() + "/bundle"
        try run("/usr/bin/umoci", ["unpack", "--image", "\(layout):\(tag)", bundle]).check()
        return UnpackedImage(rootfs: bundle + "/rootfs")
    }

    /// `dpkg-query` over the image's database: package → version.
    func installedVersions() throws -> [String: String] {
        let result = try run("/usr/bin/dpkg-query", ["--admindir=\(rootfs)/var/lib/dpkg", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n"]).check()
        var versions: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count >= 3, words[2].hasPrefix("ii") else { continue }
            versions[String(words[0])] = String(words[1])
        }
        return versions
    }

    /// The fixture distroless image after trivy-distroless.json: the status.d
    /// entries and md5sums of the new versions, fx-drop's dropped file gone.
    func expectPatchedFixtureDistroless(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(contents("var/lib/dpkg/status.d/fx-drop")?.contains("Version: 1.0-2") == true, sourceLocation: sourceLocation)
        #expect(contents("var/lib/dpkg/status.d/fx-newdep")?.contains("Version: 1.0-1") == true, sourceLocation: sourceLocation)
        #expect(!exists("var/lib/dpkg/status"), sourceLocation: sourceLocation)
        #expect(!exists("usr/share/fx-drop/gone.txt"), sourceLocation: sourceLocation)
        #expect(contents("var/lib/dpkg/status.d/fx-drop.md5sums")?.contains("usr/share/fx-drop/gone.txt") == false, sourceLocation: sourceLocation)
        #expect(contents("usr/share/fx-drop/keep.txt")?.contains("1.0-2") == true, sourceLocation: sourceLocation)
    }

    func contents(_ path: String) -> String? {
        try? String(contentsOfFile: rootfs + "/" + path, encoding: .utf8)
    }

    func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: rootfs + "/" + path)
    }

    /// Paths below `directory`, relative to the root.
    func walk(_ directory: String) -> Set<String> {
        guard let enumerator = FileManager.default.enumerator(atPath: rootfs + "/" + directory) else { return [] }
        var paths: Set<String> = []
        while let next = enumerator.nextObject() as? String { paths.insert(directory + "/" + next) }
        return paths
    }

    /// Type, mode, owner, link target and content of one entry (nil when
    /// absent), as lstat and readlink see them.
    func entry(_ path: String) -> String? {
        var info = stat()
        let full = rootfs + "/" + path
        guard lstat(full, &info) == 0 else { return nil }
        let head = "mode \(String(info.st_mode, radix: 8)) owner \(info.st_uid):\(info.st_gid)"
        switch info.st_mode & S_IFMT {
        case S_IFLNK: return head + " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? "?")
        case S_IFREG: return head + " content " + (FileManager.default.contents(atPath: full)?.base64EncodedString() ?? "?")
        default: return head
        }
    }

    /// Every path dpkg lists for `package` (its `info/<package>[:arch].list`).
    func listedPaths(of package: String) -> [String] {
        let info = rootfs + "/var/lib/dpkg/info"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: info)) ?? []
        guard let list = names.first(where: { $0 == "\(package).list" || ($0.hasPrefix("\(package):") && $0.hasSuffix(".list")) }),
              let text = try? String(contentsOfFile: info + "/" + list, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").filter { $0 != "/." }.map { String($0.dropFirst()) }
    }
}

/// `skopeo inspect` of an image: its layer digests.
func skopeoLayers(_ reference: String) throws -> [String] {
    let result = try run("/usr/bin/skopeo", ["inspect", "--tls-verify=false", reference]).check()
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    return object?["Layers"] as? [String] ?? []
}

/// The sum of an image manifest's layer sizes, as skopeo reads it raw.
func skopeoInspectLayersSize(_ reference: String) throws -> Int64 {
    let result = try run("/usr/bin/skopeo", ["inspect", "--tls-verify=false", "--raw", reference]).check()
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    let layers = object?["layers"] as? [[String: Any]] ?? []
    return layers.reduce(0) { $0 + ((($1["size"] as? NSNumber)?.int64Value) ?? 0) }
}

/// The digest of an image's manifest as skopeo computes it.
func skopeoDigest(_ reference: String) throws -> String {
    let result = try run("/usr/bin/skopeo", ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", reference]).check()
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A file server (Python's http.server) that waits `delay` seconds before
/// each answer: a slow mirror, so that a real job runs for seconds while its
/// events flow.
final class SlowFileServer: @unchecked Sendable {
    let url: String
    private let process: Process

    private init(process: Process, host: String, port: Int) {
        self.process = process
        url = "http://\(host):\(port)"
    }

    /// `host`: the address to listen on (and to name in `url`).
    static func start(root: String, delay: Double, host: String = "127.0.0.1") async throws -> SlowFileServer {
        let directory = try TestEnvironment.temporaryDirectory()
        let portFile = directory + "/port"
        let script = """
            import functools, http.server, os, sys, time
            class Slow(http.server.SimpleHTTPRequestHandler):
                def do_GET(self):
                    time.sleep(float(sys.argv[2]))
                    super().do_GET()
                def log_message(self, *args):
                    pass
            server = http.server.ThreadingHTTPServer((sys.argv[4], 0), functools.partial(Slow, directory=sys.argv[1]))
            with open(sys.argv[3] + ".tmp", "w") as out:
                out.write(str(server.server_address[1]))
            os.rename(sys.argv[3] + ".tmp", sys.argv[3])
            server.serve_forever()
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, root, String(delay), portFile, host]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) {
                return SlowFileServer(process: process, host: host, port: port)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw TestSetupError(message: "the slow file server did not start")
    }

    /// SIGKILL: a child started from a test thread may have SIGTERM blocked
    /// (the thread's signal mask is inherited), and Python then never ends.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Runs a command without holding a thread of the test pool while it runs:
/// its output goes to files, and the process is polled with Task.sleep.
func runAsync(_ executable: String, _ arguments: [String]) async throws -> CommandResult {
    BrokenPipes.ignore()
    let directory = try TestEnvironment.temporaryDirectory()
    FileManager.default.createFile(atPath: directory + "/out", contents: nil)
    FileManager.default.createFile(atPath: directory + "/err", contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/out"))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/err"))
    try process.run()
    while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
    process.waitUntilExit()
    let read = { (name: String) in (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "" }
    return CommandResult(status: process.terminationStatus, stdout: read("out"), stderr: read("err"),
                         command: ([executable] + arguments).joined(separator: " "))
}

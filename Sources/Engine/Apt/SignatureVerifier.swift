import Foundation

/// Verifies a clear-signed InRelease file with `gpgv` against a set of
/// keyrings, as apt does (apt-key/gpgv; apt-secure(8)).
///
/// gpgv runs with an argument array and a private home directory; nothing from
/// the image or the network is ever interpreted by a shell.
struct SignatureVerifier: Sendable {
    /// Binary OpenPGP keyrings (armored ones are dearmored before they get here).
    let keyrings: [String]
    let scratch: String

    func verify(signedFiles: [String], what: String) throws {
        guard !keyrings.isEmpty else {
            throw EngineError(.verification, "no keyring is available to verify \(what); give the agent one with --keyring")
        }
        let home = scratch + "/gnupg-home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var arguments = ["--homedir", home]
        for keyring in keyrings { arguments += ["--keyring", keyring] }
        arguments += signedFiles
        let (status, output) = try ProcessRunner.run("/usr/bin/gpgv", arguments)
        guard status == 0 else {
            let reason = output.split(separator: "\n").filter { $0.contains("gpgv:") }.joined(separator: "; ")
            throw EngineError(.verification, "the signature of \(what) does not verify against the image's or agent's keyrings: \(reason.isEmpty ? "gpgv exit \(status)" : reason)")
        }
    }
}

/// Runs a program with an argument array (never a shell) and collects its output.
enum ProcessRunner {
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw EngineError(.io, "cannot run \(executable); is it installed?", underlying: error)
        }
        let data = pipe.fileHandleForReading.readAllRetryingInterrupts()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

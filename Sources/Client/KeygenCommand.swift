import ArgumentParser
import Foundation
import Protocol

/// Makes a CURVE key pair: an agent's (`copa-agent serve --curve-secret-key-file`,
/// its public key for clients' `--agent-key`) or a client's (`--client-key-file`,
/// its public key for the agent's `--authorized-keys`).
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate a CURVE key pair for an agent or a client.",
        discussion: """
            With --output PREFIX, writes PREFIX.key (the pair; mode 0600) and PREFIX.pub (one line, \
            "KEY NAME", ready for an agent's --authorized-keys). Without it, prints the pair.
            """)

    @Option(help: "Who the key belongs to, as agents will name the client (default: the file name of --output).")
    var name: String?

    @Option(name: [.short, .customLong("output")], help: "Write PREFIX.key and PREFIX.pub instead of printing.")
    var output: String?

    func validate() throws {
        if let name, !(1...64).contains(name.utf8.count) || name.contains(where: { !($0.isLetter || $0.isNumber || "._@-".contains($0)) || !$0.isASCII }) {
            throw ValidationError("--name must be 1–64 of A-Z a-z 0-9 . _ @ -")
        }
    }

    func run() throws {
        var pair = try CurveKey.generate()
        pair.name = name ?? output.map { URL(fileURLWithPath: $0).lastPathComponent }
        guard let output else {
            if let name = pair.name { print("name: \(name)") }
            print("public: \(pair.publicKey)")
            print("secret: \(pair.secretKey)")
            return
        }
        try write(pair.secretFileText, to: output + ".key", mode: 0o600)
        try write(pair.authorizedKeyLine + "\n", to: output + ".pub", mode: 0o644)
        print("wrote \(output).key (keep it private) and \(output).pub (for the agent's --authorized-keys)")
        print("public: \(pair.publicKey)")
    }

    /// Creates the file, refusing to replace one: a key overwritten by
    /// mistake locks its owner out of every agent that knew it.
    private func write(_ text: String, to path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Foundation.write(fd, bytes, bytes.count) == bytes.count else {
            throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

import ArgumentParser
import Protocol

/// Prints a CURVE key pair (Z85) for `--agent-key`/`--client-key` and the agent's `--curve-secret-key-file`.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate a CURVE key pair for encrypting client-agent traffic.")

    func run() throws {
        let pair = try SocketOwner.curveKeyPair()
        print("public: \(pair.publicKey)")
        print("secret: \(pair.secretKey)")
    }
}

import CZeroMQ
import Foundation

/// CURVE keys (RFC 26) as 40-character Z85 text (RFC 32), and the key files
/// `copa keygen` writes.
public enum CurveKey {
    /// True for 40 characters of Z85 that decode to a 32-byte key.
    public static func isValid(_ key: String) -> Bool {
        guard key.utf8.count == 40 else { return false }
        var bytes = [UInt8](repeating: 0, count: 32)
        return key.withCString { zmq_z85_decode(&bytes, $0) } != nil
    }

    /// The public key belonging to a secret key.
    public static func publicKey(secretKey: String) throws -> String {
        guard isValid(secretKey) else { throw KeyFileError("not a CURVE key (40 Z85 characters)") }
        var publicKey = [CChar](repeating: 0, count: 41)
        guard secretKey.withCString({ zmq_curve_public(&publicKey, $0) }) == 0 else {
            throw KeyFileError("cannot derive the public key: \(ZMQError.lastMessage())")
        }
        return String(cString: publicKey)
    }

    /// Generates a key pair.
    public static func generate() throws -> CurveKeyPair {
        let pair = try SocketOwner.curveKeyPair()
        return CurveKeyPair(name: nil, publicKey: pair.publicKey, secretKey: pair.secretKey)
    }

    static func z85(_ bytes: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        _ = zmq_z85_encode(&text, bytes, bytes.count)
        return String(cString: text)
    }
}

/// A CURVE key pair with the name its owner is known by.
public struct CurveKeyPair: Sendable, Equatable {
    public var name: String?
    public let publicKey: String
    public let secretKey: String

    public init(name: String?, publicKey: String, secretKey: String) {
        self.name = name
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Reads a key file: `copa keygen`'s (`name:`, `public:`, `secret:` lines),
    /// a CZMQ certificate (`public-key = "…"`, `secret-key = "…"`), or a bare
    /// secret key. The public key, when absent, is derived from the secret one.
    public static func load(path: String) throws -> CurveKeyPair {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KeyFileError("cannot read the key file \(path): \(error.localizedDescription)")
        }
        do {
            return try parse(text)
        } catch let error as KeyFileError {
            throw KeyFileError("\(path): \(error.message)")
        }
    }

    public static func parse(_ text: String) throws -> CurveKeyPair {
        var fields: [String: String] = [:]
        var bare: [String] = []
        // Z85 has both ':' and '=' in its alphabet, so a line is split on the
        // separator after a known field name, never on the first one found.
        let names = ["secret-key", "public-key", "secret", "public", "name"]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if CurveKey.isValid(line) {
                bare.append(line)
                continue
            }
            guard let name = names.first(where: { line.lowercased().hasPrefix($0) }) else { continue }
            let rest = line.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
            guard let separator = rest.first, separator == ":" || separator == "=" else { continue }
            fields[name] = rest.dropFirst().trimmingCharacters(in: .whitespaces)
                .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        let secret = fields["secret"] ?? fields["secret-key"] ?? (bare.count == 1 ? bare[0] : nil)
        guard let secret else { throw KeyFileError("no secret key in it (a `secret: KEY` line, as `copa keygen` writes)") }
        guard CurveKey.isValid(secret) else { throw KeyFileError("the secret key is not 40 Z85 characters") }
        let derived = try CurveKey.publicKey(secretKey: secret)
        if let stated = fields["public"] ?? fields["public-key"], stated != derived {
            throw KeyFileError("its public key does not belong to its secret key")
        }
        return CurveKeyPair(name: fields["name"].flatMap { $0.isEmpty ? nil : $0 }, publicKey: derived, secretKey: secret)
    }

    /// The secret file's text (keep it private).
    public var secretFileText: String {
        var text = "# copa CURVE key pair (Z85). Keep this file private; give the agent's owner the .pub file.\n"
        if let name { text += "name: \(name)\n" }
        text += "public: \(publicKey)\nsecret: \(secretKey)\n"
        return text
    }

    /// The line for an agent's authorized keys: `KEY NAME`.
    public var authorizedKeyLine: String {
        name.map { "\(publicKey) \($0)" } ?? publicKey
    }
}

public struct KeyFileError: Error, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

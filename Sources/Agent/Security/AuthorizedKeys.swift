import Foundation
import Logging
import Protocol
import Synchronization

/// The client keys an agent accepts (`--authorized-keys`), like sshd's
/// authorized_keys: one CURVE public key (Z85) per line, then the client's
/// name; blank lines and `#` comments are skipped. A directory holds one
/// such file per client (hidden files are skipped); a key without a name in
/// it is named after its file (`alice.pub` → alice).
///
/// The name is who the client is to the agent: its jobs are scheduled,
/// limited and logged under it, and it is the User-Id the ZAP handler gives
/// the connection.
public struct AuthorizedKeys: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let publicKey: String
        public let name: String
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Reads a file or a directory of files.
    public static func load(path: String) throws -> AuthorizedKeys {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw AuthorizedKeysError("\(path) does not exist")
        }
        guard isDirectory.boolValue else {
            return AuthorizedKeys(entries: try parse(try read(path), source: path, fileName: nil))
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted()
        var entries: [Entry] = []
        for name in names {
            let file = path + "/" + name
            var isSubdirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isSubdirectory), !isSubdirectory.boolValue else { continue }
            entries += try parse(try read(file), source: file, fileName: name)
        }
        return try AuthorizedKeys(entries: entries).checked()
    }

    public static func parse(_ text: String, source: String, fileName: String?) throws -> [Entry] {
        var entries: [Entry] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            // Split on any Unicode whitespace; a line of only such characters
            // (a vertical tab, say) has no words at all (found by fuzz-policy).
            let words = line.split(whereSeparator: \.isWhitespace)
            guard let first = words.first else { continue }
            let key = String(first)
            guard CurveKey.isValid(key) else {
                throw AuthorizedKeysError("\(source):\(number + 1): not a CURVE public key (40 Z85 characters, as `copa keygen` prints)")
            }
            let name = words.count > 1 ? String(words[1]) : fileName.map(Self.stem) ?? Self.anonymousName(key)
            guard isValidName(name) else {
                throw AuthorizedKeysError("\(source):\(number + 1): the name \(name.prefix(80)) is not 1–64 of A-Z a-z 0-9 . _ @ -")
            }
            entries.append(Entry(publicKey: key, name: name))
        }
        return try AuthorizedKeys(entries: entries).checked().entries
    }

    /// Refuses a key listed twice: it could only be one client.
    private func checked() throws -> AuthorizedKeys {
        var seen: [String: String] = [:]
        for entry in entries {
            if let other = seen[entry.publicKey], other != entry.name {
                throw AuthorizedKeysError("the key \(entry.publicKey) is listed for both \(other) and \(entry.name)")
            }
            seen[entry.publicKey] = entry.name
        }
        return self
    }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x40 || byte == 0x2D
        }
    }

    /// The name of a key listed without one: Z85 uses characters that do
    /// not belong in a name, so it is the hex of the key's first characters.
    static func anonymousName(_ key: String) -> String {
        "key-" + key.utf8.prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    private static func stem(_ fileName: String) -> String {
        let url = URL(fileURLWithPath: fileName)
        return ["pub", "key", "txt"].contains(url.pathExtension) ? url.deletingPathExtension().lastPathComponent : fileName
    }

    private static func read(_ path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw AuthorizedKeysError("cannot read \(path): \(error.localizedDescription)")
        }
    }
}

public struct AuthorizedKeysError: Error, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The authorized keys in force, as the ZAP handler asks about them; reloaded
/// from their file on SIGHUP. A reload that fails keeps the keys in force
/// (a typo must not lock every client out) and says why.
public final class AuthorizedKeyRing: ClientAuthorizer {
    public let path: String
    private let logger: Logger
    private let keys: Mutex<[String: String]>
    /// When each refused key was last logged: a refused client reconnects
    /// every 100 ms, and one line per minute says as much.
    private let lastRefusalLog = Mutex<[String: ContinuousClock.Instant]>([:])

    public init(path: String, logger: Logger) throws {
        self.path = path
        self.logger = logger
        keys = Mutex(Self.table(try AuthorizedKeys.load(path: path)))
    }

    /// Rereads the file; returns how many keys are now accepted.
    @discardableResult
    public func reload() throws -> Int {
        let table = Self.table(try AuthorizedKeys.load(path: path))
        keys.withLock { $0 = table }
        return table.count
    }

    public var count: Int { keys.withLock { $0.count } }

    public func authorize(publicKey: String, address: String) -> String? {
        if let name = keys.withLock({ $0[publicKey] }) { return name }
        let now = ContinuousClock.now
        let log = lastRefusalLog.withLock { last -> Bool in
            if let previous = last[publicKey], now - previous < .seconds(60) { return false }
            if last.count > 10_000 { last.removeAll() }
            last[publicKey] = now
            return true
        }
        if log {
            logger.warning("refused a client: its key is not in the authorized keys", metadata: [
                "key": "\(publicKey)", "address": "\(address)", "authorized_keys": "\(path)"])
        }
        return nil
    }

    private static func table(_ keys: AuthorizedKeys) -> [String: String] {
        Dictionary(keys.entries.map { ($0.publicKey, $0.name) }, uniquingKeysWith: { first, _ in first })
    }
}

/// A content digest, `algorithm:encoded`.
///
/// OCI image-spec descriptor.md "Digests": `digest ::= algorithm ":" encoded`.
/// Only the registered algorithms are accepted, with their exact encodings:
/// `sha256` (64 lowercase hex characters) and `sha512` (128). Anything else is
/// rejected at creation, so a `Digest` in hand is always safe to put in a path
/// (`blobs/<alg>/<encoded>`) or a URL.
public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case sha256
        case sha512

        /// Length of the lowercase hex encoding (image-spec descriptor.md "Registered algorithms").
        public var encodedLength: Int {
            switch self {
            case .sha256: return 64
            case .sha512: return 128
            }
        }
    }

    public let algorithm: Algorithm
    /// The lowercase hex part after the colon.
    public let encoded: String

    public init(_ string: String) throws {
        guard let colon = string.firstIndex(of: ":") else {
            throw EngineError(.invalidInput, "'\(string)' is not a digest: expected 'sha256:' followed by 64 hex characters")
        }
        let name = String(string[..<colon])
        let hex = String(string[string.index(after: colon)...])
        guard let algorithm = Algorithm(rawValue: name) else {
            throw EngineError(.invalidInput, "digest '\(string)' uses the unsupported algorithm '\(name)': use sha256 or sha512")
        }
        try self.init(algorithm: algorithm, encoded: hex)
    }

    public init(algorithm: Algorithm, encoded: String) throws {
        let isLowerHex = encoded.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        guard encoded.utf8.count == algorithm.encodedLength, isLowerHex else {
            throw EngineError(.invalidInput,
                "digest '\(algorithm.rawValue):\(encoded)' is malformed: expected \(algorithm.encodedLength) lowercase hex characters")
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// Builds a digest from a hash just computed (always well-formed, so no
    /// validation). Computing one is the engine's (`Digest.sha256`).
    public init(trusted algorithm: Algorithm, hash: some Sequence<UInt8>) {
        self.algorithm = algorithm
        self.encoded = Digest.lowerHex(hash)
    }

    public var description: String { "\(algorithm.rawValue):\(encoded)" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(try container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    static func lowerHex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

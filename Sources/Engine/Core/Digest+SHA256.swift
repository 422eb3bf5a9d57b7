import Crypto
@_exported import CopaCore

extension CopaCore.Digest {
    /// The SHA-256 digest of `bytes`.
    public static func sha256(_ bytes: some Sequence<UInt8>) -> CopaCore.Digest {
        CopaCore.Digest(trusted: .sha256, hash: SHA256.hash(data: Array(bytes)))
    }
}

/// The one error type of the engine. Every failure a user can hit carries a
/// `Code` (mapped to an exit code by the CLI and to a `Failure.code` on the
/// wire), a message that says what went wrong and how to fix it, and, where
/// there is one, the underlying cause.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// A report, manifest, reference or flag the engine cannot use.
        case invalidInput = "INVALID_INPUT"
        /// The image's OS family or release is one the engine does not patch.
        case unsupportedOS = "UNSUPPORTED_OS"
        /// The image (or a blob of it) does not exist at the given reference.
        case imageNotFound = "IMAGE_NOT_FOUND"
        /// A registry answered with an error or refused the request.
        case registry = "REGISTRY"
        /// A repository signature or checksum did not verify.
        case verification = "VERIFICATION"
        /// A package (or a version of it) is not in any configured repository.
        case packageNotFound = "PACKAGE_NOT_FOUND"
        /// Dependencies of the requested updates cannot be met.
        case dependency = "DEPENDENCY"
        /// An archive (tar, ar, .deb, compressed stream) is malformed or hostile.
        case archive = "ARCHIVE"
        /// A local file or network I/O failed.
        case io = "IO"
        /// The patched image does not hold the versions the manifest asked for.
        case validation = "VALIDATION"
        /// The job was cancelled or timed out.
        case cancelled = "CANCELLED"
        /// The executor failed: BuildKit unreachable or too old, or a solve step failed.
        case executor = "EXECUTOR"
        /// The agent's policy does not allow what the job asked for (a
        /// source URL, a redirect, an address).
        case forbidden = "FORBIDDEN"
        /// A bug: something the engine assumed did not hold.
        case `internal` = "INTERNAL"
    }

    public let code: Code
    public let message: String
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        guard let underlying else { return message }
        return "\(message): \(underlying)"
    }
}

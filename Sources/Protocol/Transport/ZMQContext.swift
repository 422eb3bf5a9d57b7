import CZeroMQ

/// The process-wide ZeroMQ context.
///
/// `inproc://` endpoints only connect sockets of the same context, and the
/// embedded agent talks to the client over `inproc://`, so both use this one.
/// A ZeroMQ context is thread-safe by design (zmq(7): "contexts are thread
/// safe"), which is why the raw handle may be shared; sockets are not, and
/// each one is owned by a single `SocketOwner` thread.
public final class ZMQContext: Sendable {
    public static let shared = ZMQContext()

    // Safe to share: see the type comment; the pointer never changes after init.
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer

    private init() {
        guard let context = zmq_ctx_new() else {
            fatalError("zmq_ctx_new failed: \(ZMQError.lastMessage())")
        }
        handle = context
    }
}

/// Errors from libzmq calls, with errno's text.
public struct ZMQError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let errno: Int32
    public var description: String {
        "\(operation): \(String(cString: zmq_strerror(errno)))"
    }

    static func last(_ operation: String) -> ZMQError {
        ZMQError(operation: operation, errno: zmq_errno())
    }

    static func lastMessage() -> String {
        String(cString: zmq_strerror(zmq_errno()))
    }
}

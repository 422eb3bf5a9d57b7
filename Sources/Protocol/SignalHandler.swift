import Dispatch
import Foundation

/// Runs an action each time the process gets a signal (the agent's SIGHUP
/// reload, the client's SIGINT), on a dispatch queue rather than in the
/// signal handler itself.
/// (`@unchecked`: a dispatch source may be cancelled from any thread.)
public final class SignalHandler: @unchecked Sendable {
    private let source: any DispatchSourceSignal

    public init(_ signalNumber: Int32, _ action: @escaping @Sendable () -> Void) {
        signal(signalNumber, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler(handler: action)
        source.resume()
    }

    public func cancel() { source.cancel() }
}

/// A peer that closes a socket or pipe mid-write (a metrics scrape, the
/// Docker /grpc bridge, a child process) must give the writer EPIPE, not kill
/// the process: both executables and the tests call this first.
public enum BrokenPipes {
    public static func ignore() { signal(SIGPIPE, SIG_IGN) }
}

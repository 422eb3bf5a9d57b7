import Dispatch
import Foundation

/// Runs an action each time the process gets a signal (SIGHUP: reload),
/// on a dispatch queue rather than in the signal handler itself.
final class SignalHandler {
    private let source: any DispatchSourceSignal

    init(_ signalNumber: Int32, _ action: @escaping @Sendable () -> Void) {
        signal(signalNumber, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler(handler: action)
        source.resume()
    }

    func cancel() { source.cancel() }
}

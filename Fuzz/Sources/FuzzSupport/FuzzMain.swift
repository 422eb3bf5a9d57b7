import CFuzzer
import Foundation

/// The one fuzz target of this process; libFuzzer takes a C function
/// pointer, which cannot capture, so the trampoline below reads it from here.
/// Set once, before the driver starts, and only read afterwards.
nonisolated(unsafe) private var target: ((UnsafeBufferPointer<UInt8>) -> Void)?

/// Runs libFuzzer's driver (flags from the command line) with `body` as the
/// target, and exits with the driver's status. Errors thrown inside `body`
/// are expected and ignored by the harnesses; crashes, hangs and unbounded
/// memory are what is looked for.
public func fuzzMain(_ body: @escaping (UnsafeBufferPointer<UInt8>) -> Void) -> Never {
    target = body
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        target?(UnsafeBufferPointer(start: data, count: size))
        return 0
    })
}

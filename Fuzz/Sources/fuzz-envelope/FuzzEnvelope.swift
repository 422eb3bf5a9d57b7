import CFuzzer
import Foundation
import Protocol

/// Frames on the wire: every message a hostile peer can send, and key files.
@main enum Harness {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
    }
}

func fuzzOne(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data = pointer else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = Envelope.decode(frame: bytes)
    _ = try? CurveKeyPair.parse(String(decoding: bytes, as: UTF8.self))
    return 0
}

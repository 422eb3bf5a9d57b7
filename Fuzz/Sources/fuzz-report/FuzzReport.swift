import CFuzzer
import Foundation
import Client

/// Scanner reports in every format `copa` reads (detected, and forced).
@main enum Harness {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
    }
}

func fuzzOne(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data = pointer else { return 0 }
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    _ = try? ReportFormat.parse(bytes, source: "fuzz")
    for format in ReportFormat.allCases {
        _ = try? ReportFormat.parse(bytes, source: "fuzz", as: format)
    }
    return 0
}

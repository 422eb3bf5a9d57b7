import CFuzzer
import Foundation
import Engine

/// Debian's text formats: control files (dpkg status, status.d), Packages
/// indexes, InRelease/Release, apt sources (one-line and deb822), os-release.
@main enum Harness {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
    }
}

func fuzzOne(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data = pointer else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? ControlFile.parse(text)
    _ = try? ControlFile.parse(text, syntax: .allowingComments)
    _ = try? PackagesIndex(parsing: text)
    _ = try? ReleaseFile(parsing: text)
    _ = try? AptSource.parseOneLine(text)
    _ = try? AptSource.parseDeb822(text)
    _ = try? OSRelease(parsing: text)
    return 0
}

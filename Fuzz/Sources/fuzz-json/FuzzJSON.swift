import CFuzzer
import Foundation
import Engine

/// JSON from registries and layouts: the JSON parser itself, OCI/Docker
/// manifests, indexes and image configs.
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
    _ = try? JSONValue(parsing: bytes)
    _ = try? ImageManifest(bytes: bytes)
    _ = try? ImageIndex(bytes: bytes)
    _ = try? ImageConfiguration(bytes: bytes)
    return 0
}

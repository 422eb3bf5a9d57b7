import CFuzzer
import Foundation
import Agent

/// The agent's policy file and authorized keys, as an owner may mistype them.
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
    _ = try? AgentPolicy.parse(text, workdir: "/var/lib/copa-agent")
    _ = try? AuthorizedKeys.parse(text, source: "fuzz", fileName: nil)
    return 0
}

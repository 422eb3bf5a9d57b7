// swift-tools-version:6.0
// libFuzzer targets for the parsers that take outside input. Built apart from
// the main package because every module they use must be compiled with
// -sanitize=fuzzer; run them with scripts/fuzz TARGET SECONDS.
import Foundation
import PackageDescription

/// compiler-rt's libFuzzer without its main; scripts/fuzz finds it in the toolchain.
let fuzzerLibrary = ProcessInfo.processInfo.environment["COPA_FUZZER_LIB"] ?? "libclang_rt.fuzzer_no_main-x86_64.a"

/// Each harness's main hands its target to libFuzzer's driver (FuzzSupport); the
/// instrumentation comes from scripts/fuzz's -Xswiftc -sanitize=fuzzer, which
/// applies to every module the harness uses.
func fuzzTarget(_ name: String, _ product: String) -> Target {
    .executableTarget(
        name: name, dependencies: ["FuzzSupport", .product(name: product, package: "copa")],
        linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", fuzzerLibrary, "-lstdc++"])])
}

let package = Package(
    name: "copa-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "copa", path: "..")],
    targets: [
        .target(name: "CFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzer"]),
        fuzzTarget("fuzz-archive", "Engine"),
        fuzzTarget("fuzz-dpkg", "Engine"),
        fuzzTarget("fuzz-json", "Engine"),
        fuzzTarget("fuzz-envelope", "Protocol"),
        fuzzTarget("fuzz-report", "Client"),
        fuzzTarget("fuzz-policy", "Agent"),
    ]
)

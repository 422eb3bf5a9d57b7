// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "copa",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "copa", targets: ["copa"]),
        .executable(name: "copa-agent", targets: ["copa-agent"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Protocol", targets: ["Protocol"]),
        // For the fuzz targets in Fuzz/, which build apart with -sanitize=fuzzer.
        .library(name: "Agent", targets: ["Agent"]),
        .library(name: "Client", targets: ["Client"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries (Debian: libzmq3-dev, zlib1g-dev, liblzma-dev, libzstd-dev).
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib"),
        .systemLibrary(name: "CLzma", pkgConfig: "liblzma"),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd"),

        .target(
            name: "Protocol",
            dependencies: [
                "CZeroMQ",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["copa.proto"]
        ),
        // BuildKit's LLB and control API: our .proto subsets and their committed
        // generated Swift (scripts/gen-proto).
        .target(
            name: "BuildKitAPI",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ],
            exclude: ["ops.proto", "worker.proto", "control.proto"]
        ),
        // What the client and the engine share: platforms, references,
        // digests, the update manifest and its wire form, Debian versions.
        // No NIO, gRPC or HTTP client.
        .target(name: "CopaCore", dependencies: ["Protocol"]),
        .target(
            name: "Engine",
            dependencies: [
                "CopaCore", "CZlib", "CLzma", "CZstd", "BuildKitAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Agent",
            dependencies: [
                "Engine", "Protocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "Client",
            dependencies: [
                "CopaCore", "Protocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The client with the embedded agent wired in.
        .executableTarget(name: "copa", dependencies: ["Client", "Agent", "Engine", "Protocol"]),
        .executableTarget(
            name: "copa-agent",
            dependencies: [
                "Agent", "Protocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Helpers the test targets share: hostile peers, deadlines.
        .target(name: "TestSupport", dependencies: ["CZeroMQ", "Protocol"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "BuildKitAPI", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol", "TestSupport"]),
        .testTarget(name: "ClientTests", dependencies: ["Client", "Agent", "Engine", "Protocol"]),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "Client", "Engine", "Protocol", "BuildKitAPI", "TestSupport"]),
    ]
)

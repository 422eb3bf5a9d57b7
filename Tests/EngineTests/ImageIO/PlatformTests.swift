import Foundation
import Testing
@testable import Engine

@Suite struct PlatformTests {
    @Test func parsesOsArchitectureVariant() throws {
        let platform = try Platform(parsing: "linux/arm64/v8")
        #expect(platform.os == "linux")
        #expect(platform.architecture == "arm64")
        #expect(platform.variant == "v8")
        #expect(platform.description == "linux/arm64/v8")
        #expect(try Platform(parsing: "linux/x86_64").architecture == "amd64")
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            #expect(throws: EngineError.self) { try Platform(parsing: bad) }
        }
    }

    @Test func hostMatchesUname() throws {
        let machine = String(decoding: try ImageIOTestSupport.run("/usr/bin/uname", ["-m"]), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = ["x86_64": "amd64", "aarch64": "arm64"][machine] ?? machine
        #expect(Platform.host.os == "linux")
        #expect(Platform.host.architecture == expected)
    }

    @Test func matchingTreatsDefaultVariants() throws {
        let arm64 = try Platform(parsing: "linux/arm64")
        #expect(arm64.matches(try Platform(parsing: "linux/arm64/v8")))
        #expect(try Platform(parsing: "linux/arm64/v8").matches(arm64))
        #expect(!arm64.matches(try Platform(parsing: "linux/amd64")))
        #expect(!(try Platform(parsing: "linux/arm/v7")).matches(try Platform(parsing: "linux/arm/v6")))
        #expect(try Platform(parsing: "linux/arm").matches(try Platform(parsing: "linux/arm/v6")))
    }

    /// OCI's variant normalisation, as containerd applies it.
    @Test func variantsAreNormalised() throws {
        func platform(_ text: String) throws -> Platform { try Platform(parsing: text) }
        #expect(try platform("linux/arm64/8").matches(try platform("linux/arm64")))
        #expect(try platform("linux/arm64").matches(try platform("linux/arm64/8")))
        #expect(!(try platform("linux/arm64")).matches(try platform("linux/arm64/v9")))
        #expect(try platform("linux/arm/7").matches(try platform("linux/arm/v7")))
        #expect(try platform("linux/amd64/v1").matches(try platform("linux/amd64")))
        #expect(try platform("linux/amd64").matches(try platform("linux/amd64/v1")))
        #expect(try platform("linux/amd64").matches(try platform("linux/amd64/v3")), "no variant wanted: any")
        #expect(!(try platform("linux/amd64/v3")).matches(try platform("linux/amd64")))
        #expect(!(try platform("windows/amd64")).matches(try platform("linux/amd64")))
    }

    @Test func codesSpecFieldNames() throws {
        let json = #"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1","os.features":["win32k"]}"#
        let platform = try JSONDecoder().decode(Platform.self, from: Data(json.utf8))
        #expect(platform.osVersion == "10.0.17763.1")
        #expect(platform.osFeatures == ["win32k"])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let sorted = #"{"architecture":"amd64","os":"windows","os.features":["win32k"],"os.version":"10.0.17763.1"}"#
        #expect(String(decoding: try encoder.encode(platform), as: UTF8.self) == sorted)
    }
}

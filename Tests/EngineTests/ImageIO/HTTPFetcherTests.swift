import AsyncHTTPClient
import Foundation
import Testing
@testable import Engine

/// Where apt fetches may go, tried against real loopback servers: the
/// server that must not be reached records every request it gets.
@Suite struct HTTPFetcherTests {
    let fetcher = HTTPFetcher(client: HTTPFetcher.sourcesClient, allowPrivateAddresses: false)

    @Test func aRedirectToAnotherHostIsRefusedWithoutReachingIt() async throws {
        let other = try LoopbackHTTPServer { _ in .init(status: "200 OK", body: "internal secret") }
        defer { other.stop() }
        let front = try LoopbackHTTPServer { _ in
            .init(status: "302 Found", headers: ["Location": "http://localhost:\(other.port)/latest/meta-data"])
        }
        defer { front.stop() }
        let error = await #expect(throws: EngineError.self) {
            _ = try await fetcher.fetch("http://127.0.0.1:\(front.port)/debian/dists/bookworm/InRelease")
        }
        #expect(error?.code == .forbidden)
        #expect(error?.message.contains("localhost:\(other.port)") == true)
        #expect(front.requests.count == 1)
        #expect(other.requests.isEmpty, "the other host must not be contacted")
    }

    @Test func aRedirectWithinTheHostIsFollowed() async throws {
        let server = try LoopbackHTTPServer { request in
            request.target == "/final" ? .init(status: "200 OK", body: "index") : .init(status: "301 Moved", headers: ["Location": "/final"])
        }
        defer { server.stop() }
        let bytes = try await fetcher.fetch("http://127.0.0.1:\(server.port)/start")
        #expect(bytes.map { String(decoding: $0, as: UTF8.self) } == "index")
        #expect(server.requests.map(\.target) == ["/start", "/final"])
    }

    @Test func aRedirectLoopEnds() async throws {
        let server = try LoopbackHTTPServer { request in .init(status: "302 Found", headers: ["Location": request.target + "x"]) }
        defer { server.stop() }
        await #expect(throws: EngineError.self) { _ = try await fetcher.fetch("http://127.0.0.1:\(server.port)/a") }
        #expect(server.requests.count == HTTPFetcher.maxRedirects + 1)
    }

    @Test(arguments: ["http+unix://%2Frun%2Fdocker.sock/containers/json", "file:///etc/passwd", "ftp://deb.example/debian", "http:///nohost"])
    func schemesOtherThanHTTPAreRefused(url: String) async throws {
        let error = await #expect(throws: EngineError.self) { _ = try await fetcher.fetch(url) }
        #expect(error?.code == .forbidden)
    }

    @Test func linkLocalAndMetadataAddressesAreRefusedUnlessAllowed() async throws {
        let error = await #expect(throws: EngineError.self) { _ = try await fetcher.fetch("http://169.254.169.254/latest/meta-data/") }
        #expect(error?.code == .forbidden)
        for address in ["169.254.169.254", "::ffff:169.254.1.1", "fe80::1", "fd00:ec2::254", "100.100.100.200"] {
            #expect(HTTPFetcher.isPrivate(address), "\(address)")
        }
        for address in ["127.0.0.1", "10.1.2.3", "::1", "151.101.2.132", "2a04:4e42::644"] {
            #expect(!HTTPFetcher.isPrivate(address), "\(address)")
        }
    }
}

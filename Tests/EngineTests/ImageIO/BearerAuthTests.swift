import Foundation
import Synchronization
import Testing
@testable import Engine

/// Bearer token authentication end to end: docker-registry configured for
/// token auth, and a token service of the test's own that signs ES256 JWTs
/// (with openssl) for the registry's trusted key, checks Basic credentials,
/// and records the scopes it was asked for.
@Suite struct BearerAuthTests {
    typealias Support = ImageIOTestSupport

    @Test func pushPullAndMountWithTokens() async throws {
        let directory = try Support.temporaryDirectory("bearer")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tokens = try TokenService.start(directory: directory)
        defer { tokens.stop() }
        let registry = try AuthRegistry.start(auth: """
              token:
                realm: http://127.0.0.1:\(tokens.port)/token
                service: copa-test
                issuer: copa-issuer
                rootcertbundle: \(directory)/cert.pem
            """)
        defer { registry.stop() }

        let layoutRoot = try Support.temporaryDirectory("bearer-image")
        defer { try? FileManager.default.removeItem(atPath: layoutRoot) }
        let layout = layoutRoot + "/image"
        try Support.makeUmociImage(layout: layout, tag: "v1", files: ["etc/token": "behind a token\n"])
        let source = LayoutImageSource(layout: try OCILayout.open(at: layout), tag: "v1")
        let image = try await source.resolve(platform: .host)
        let blobs = image.layers + [image.manifest.config]

        let credentials = StaticCredentials([registry.address: .init(username: AuthRegistry.user, password: AuthRegistry.password)])
        let client = RegistryClient(configuration: .init(credentials: credentials))
        let first = RegistryRepository(registry: registry.address, name: "imageio/bearer-a")
        let destination = RegistryImageDestination(client: client, repository: first)
        try await copyMissingBlobs(from: source, to: destination, descriptors: blobs)
        let pushed = try await destination.putManifest(image.manifestBytes, mediaType: .ociManifest, tag: "v1")
        #expect(tokens.requests.contains { $0.scopes.contains("repository:imageio/bearer-a:pull,push") && $0.authenticated })

        // Mounting into another repository asks for pull on the source too.
        let pulled = RegistryImageSource(client: client, reference: try RegistryReference(parsing: "\(first):v1"))
        let second = RegistryImageDestination(client: client, repository: .init(registry: registry.address, name: "imageio/bearer-b"))
        let report = try await copyMissingBlobs(from: pulled, to: second, descriptors: blobs)
        #expect(report.mounted.count == blobs.count)
        #expect(tokens.requests.contains {
            $0.scopes.contains("repository:imageio/bearer-b:pull,push") && $0.scopes.contains("repository:imageio/bearer-a:pull")
        })
        let resolved = try await pulled.resolve(platform: .host)
        #expect(resolved.descriptor.digest == pushed.digest)

        // Anonymous clients get a token too, but one without access: the registry refuses.
        let anonymous = RegistryImageSource(client: RegistryClient(), reference: try RegistryReference(parsing: "\(first):v1"))
        await #expect(throws: EngineError.self) { _ = try await anonymous.resolve(platform: .host) }
        #expect(tokens.requests.contains { !$0.authenticated })
    }
}

/// A token service: signs ES256 JWTs (with openssl) for the key the
/// registry trusts, checks Basic credentials, and records the scopes asked for.
final class TokenService: Sendable {
    struct Request: Sendable {
        var authenticated: Bool
        var scopes: [String]
    }

    private let directory: String
    private let keyID: String
    private let server = Mutex<LoopbackHTTPServer?>(nil)

    var port: Int { server.withLock { $0?.port ?? 0 } }

    /// Every token request so far.
    var requests: [Request] {
        (server.withLock { $0?.requests } ?? []).map { request in
            let scopes = URLComponents(string: "http://token" + request.target)?.queryItems?
                .filter { $0.name == "scope" }.compactMap(\.value) ?? []
            return Request(authenticated: Self.isAuthenticated(request), scopes: scopes)
        }
    }

    private init(directory: String, keyID: String) {
        self.directory = directory
        self.keyID = keyID
    }

    /// Makes the signing key and certificate in `directory` and starts serving.
    static func start(directory: String) throws -> TokenService {
        let openssl = "/usr/bin/openssl"
        try ImageIOTestSupport.run(openssl, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", directory + "/key.pem"])
        try ImageIOTestSupport.run(openssl, ["req", "-x509", "-new", "-key", directory + "/key.pem", "-subj", "/CN=copa-issuer",
                                             "-days", "2", "-out", directory + "/cert.pem"])
        let publicKey = try ImageIOTestSupport.run(openssl, ["pkey", "-in", directory + "/key.pem", "-pubout", "-outform", "DER"])
        let service = TokenService(directory: directory, keyID: libtrustKeyID(Array(publicKey)))
        let server = try LoopbackHTTPServer { request in service.answer(request) }
        service.server.withLock { $0 = server }
        return service
    }

    func stop() {
        server.withLock { $0?.stop() }
    }

    private static func isAuthenticated(_ request: LoopbackHTTPServer.Request) -> Bool {
        let expected = "Basic " + Data("\(AuthRegistry.user):\(AuthRegistry.password)".utf8).base64EncodedString()
        return request.header("Authorization") == expected
    }

    private func answer(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        let authenticated = Self.isAuthenticated(request)
        if request.header("Authorization") != nil && !authenticated {
            return .init(status: "401 Unauthorized")
        }
        let scopes = URLComponents(string: "http://token" + request.target)?.queryItems?
            .filter { $0.name == "scope" }.compactMap(\.value) ?? []
        guard let token = try? token(scopes: authenticated ? scopes : []) else {
            return .init(status: "500 Internal Server Error")
        }
        return .init(status: "200 OK", headers: ["Content-Type": "application/json"],
                     body: "{\"token\":\"\(token)\",\"expires_in\":300}")
    }

    /// An ES256 JWT in the shape docker-registry's token auth verifies
    /// (distribution docs/spec/auth/jwt.md): issuer, audience = service, access list.
    private func token(scopes: [String]) throws -> String {
        let now = Int(Date().timeIntervalSince1970)
        let access = scopes.compactMap { scope -> String? in
            let parts = scope.split(separator: ":")
            guard parts.count == 3 else { return nil }
            let actions = parts[2].split(separator: ",").map { "\"\($0)\"" }.joined(separator: ",")
            return "{\"type\":\"\(parts[0])\",\"name\":\"\(parts[1])\",\"actions\":[\(actions)]}"
        }.joined(separator: ",")
        let header = "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"\(keyID)\"}"
        let claims = "{\"iss\":\"copa-issuer\",\"sub\":\"\(AuthRegistry.user)\",\"aud\":\"copa-test\",\"exp\":\(now + 300),"
            + "\"nbf\":\(now - 30),\"iat\":\(now),\"jti\":\"\(UInt64.random(in: 0 ... .max))\",\"access\":[\(access)]}"
        let signingInput = Self.base64URL(Array(header.utf8)) + "." + Self.base64URL(Array(claims.utf8))
        let inputPath = directory + "/jwt-\(UInt32.random(in: 0 ... .max))"
        try Data(signingInput.utf8).write(to: URL(fileURLWithPath: inputPath))
        defer { try? FileManager.default.removeItem(atPath: inputPath) }
        let der = try ImageIOTestSupport.run("/usr/bin/openssl", ["dgst", "-sha256", "-sign", directory + "/key.pem", inputPath])
        return signingInput + "." + Self.base64URL(try Self.rawSignature(fromDER: Array(der)))
    }

    /// JWS ES256 wants r‖s, 32 bytes each; openssl writes an ASN.1 SEQUENCE of two INTEGERs.
    static func rawSignature(fromDER der: [UInt8]) throws -> [UInt8] {
        var index = 2
        if der.count > 1, der[1] & 0x80 != 0 { index += Int(der[1] & 0x7f) }
        var out: [UInt8] = []
        for _ in 0..<2 {
            guard index + 2 <= der.count, der[index] == 0x02 else { throw ImageIOTestSupport.ToolFailure(description: "bad DER signature") }
            let length = Int(der[index + 1])
            guard index + 2 + length <= der.count else { throw ImageIOTestSupport.ToolFailure(description: "bad DER signature") }
            var integer = Array(der[(index + 2)..<(index + 2 + length)])
            while integer.count > 32, integer.first == 0 { integer.removeFirst() }
            out += Array(repeating: 0, count: 32 - integer.count) + integer
            index += 2 + length
        }
        return out
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// docker/libtrust key ID: base32 of the first 240 bits of SHA-256 of the
    /// DER public key, in 12 groups of 4 joined by ':'.
    static func libtrustKeyID(_ publicKeyDER: [UInt8]) -> String {
        let hash = Array(Digest.sha256(publicKeyDER).encoded.utf8)
        var bytes: [UInt8] = []
        for offset in stride(from: 0, to: 60, by: 2) {
            bytes.append(UInt8(String(decoding: hash[offset..<offset + 2], as: UTF8.self), radix: 16) ?? 0)
        }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits = 0
        var value = 0
        var text = ""
        for byte in bytes {
            value = value << 8 | Int(byte)
            bits += 8
            while bits >= 5 {
                text.append(alphabet[(value >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        var groups: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            groups.append(String(rest.prefix(4)))
            rest = rest.dropFirst(4)
        }
        return groups.joined(separator: ":")
    }
}

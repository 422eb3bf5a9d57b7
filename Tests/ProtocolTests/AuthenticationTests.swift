import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Protocol

/// CURVE clients are authenticated by the ZAP handler (RFC 27): only keys an
/// authorizer accepts complete the handshake, and their messages carry the
/// name it gave them.
@Suite struct AuthenticationTests {
    /// Accepts the keys it was given, and remembers which keys it refused.
    final class ListAuthorizer: ClientAuthorizer {
        let accepted: [String: String]
        let refused = Mutex<[String]>([])
        init(_ accepted: [String: String]) { self.accepted = accepted }
        func authorize(publicKey: String, address: String) -> String? {
            if let name = accepted[publicKey] { return name }
            refused.withLock { $0.append(publicKey) }
            return nil
        }
    }

    struct Server {
        let socket: AgentSocket
        let publicKey: String
    }

    static func server(_ authorizer: (any ClientAuthorizer)?) async throws -> Server {
        let keys = try CurveKey.generate()
        var options = SocketOptions()
        options.curve = .server(secretKey: keys.secretKey)
        options.authorizer = authorizer
        return Server(socket: try await AgentSocket.bind("tcp://127.0.0.1:0", options: options), publicKey: keys.publicKey)
    }

    static func client(_ server: Server, _ keys: CurveKeyPair) async throws -> ClientSocket {
        var options = SocketOptions()
        options.curve = .client(serverPublicKey: server.publicKey, publicKey: keys.publicKey, secretKey: keys.secretKey)
        return try await ClientSocket.connect(server.socket.endpoint, options: options)
    }

    static func hello(_ name: String) -> Envelope {
        var hello = Copa_Protocol_V1_Hello()
        hello.clientName = name
        return Envelope(.hello(hello))
    }

    @Test func anAuthorizedKeyConnectsAndItsMessagesCarryItsName() async throws {
        let alice = try CurveKey.generate()
        let server = try await Self.server(ListAuthorizer([alice.publicKey: "alice"]))
        defer { server.socket.close() }
        let client = try await Self.client(server, alice)
        defer { client.close() }
        try await client.send(Self.hello("from-alice"))
        let inbound = try await withDeadline(.seconds(10), "the authorized client's Hello") {
            var inbox = server.socket.messages.makeAsyncIterator()
            return try #require(await inbox.next())
        }
        #expect(try inbound.envelope.get().hello.clientName == "from-alice")
        #expect(inbound.userID == "alice")
    }

    @Test func anUnknownKeyIsRefusedAtTheHandshakeAndNothingArrives() async throws {
        let alice = try CurveKey.generate()
        let mallory = try CurveKey.generate()
        let authorizer = ListAuthorizer([alice.publicKey: "alice"])
        let server = try await Self.server(authorizer)
        defer { server.socket.close() }
        let intruder = try await Self.client(server, mallory)
        defer { intruder.close() }
        // Posted, not sent: a refused DEALER may never get a pipe to send on.
        intruder.post(Self.hello("from-mallory"))
        let failure = try await withDeadline(.seconds(10), "the refused handshake") {
            var failures = intruder.handshakeFailures.makeAsyncIterator()
            return try #require(await failures.next())
        }
        #expect(failure.kind == .authentication(status: 400))
        #expect(authorizer.refused.withLock { $0 }.contains(mallory.publicKey))

        // Then alice's Hello is the first message the agent sees: mallory's never arrived.
        let client = try await Self.client(server, alice)
        defer { client.close() }
        try await client.send(Self.hello("from-alice"))
        let first = try await withDeadline(.seconds(10), "the authorized client's Hello") {
            var inbox = server.socket.messages.makeAsyncIterator()
            return try #require(await inbox.next())
        }
        #expect(try first.envelope.get().hello.clientName == "from-alice")
    }

    @Test func eachServerSocketAsksOnlyItsOwnAuthorizer() async throws {
        let alice = try CurveKey.generate()
        let bob = try CurveKey.generate()
        let first = try await Self.server(ListAuthorizer([alice.publicKey: "alice"]))
        defer { first.socket.close() }
        let second = try await Self.server(ListAuthorizer([bob.publicKey: "bob"]))
        defer { second.socket.close() }
        let client = try await Self.client(second, alice)
        defer { client.close() }
        client.post(Self.hello("alice-at-the-wrong-agent"))
        let failure = try await withDeadline(.seconds(10), "the refused handshake") {
            var failures = client.handshakeFailures.makeAsyncIterator()
            return try #require(await failures.next())
        }
        #expect(failure.kind == .authentication(status: 400))
    }

    @Test func aCurveServerWithoutAnAuthorizerIsRefused() async throws {
        await #expect(throws: TransportError.self) {
            let server = try await Self.server(nil)
            server.socket.close()
        }
    }

    @Test func keyFilesRoundTripAndDeriveTheirPublicKey() throws {
        var pair = try CurveKey.generate()
        pair.name = "ci-runner"
        let parsed = try CurveKeyPair.parse(pair.secretFileText)
        #expect(parsed == pair)
        #expect(try CurveKeyPair.parse(pair.secretKey).publicKey == pair.publicKey)
        let czmq = """
            metadata
                name = "ci-runner"
            curve
                public-key = "\(pair.publicKey)"
                secret-key = "\(pair.secretKey)"
            """
        #expect(try CurveKeyPair.parse(czmq) == pair)
        let other = try CurveKey.generate()
        #expect(throws: KeyFileError.self) {
            try CurveKeyPair.parse("public: \(other.publicKey)\nsecret: \(pair.secretKey)\n")
        }
        #expect(throws: KeyFileError.self) { try CurveKeyPair.parse("public: \(pair.publicKey)\n") }
    }
}

import Foundation
import Testing
import TestSupport
@testable import Protocol

/// Round trips over real ZeroMQ sockets on every transport the agent supports.
@Suite struct TransportTests {
    static func endpoints() -> [String] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("copa-ipc-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return [
            "tcp://127.0.0.1:0",
            "ipc://\(dir.path)/agent.sock",
            "inproc://transport-test-\(UUID().uuidString)",
        ]
    }

    @Test(arguments: endpoints())
    func helloWelcomeRoundTrip(endpoint: String) async throws {
        let agent = try await AgentSocket.bind(endpoint)
        defer { agent.close() }
        let client = try await ClientSocket.connect(agent.endpoint)
        defer { client.close() }

        var hello = Copa_Protocol_V1_Hello()
        hello.clientName = "test"
        try await client.send(Envelope(.hello(hello)))

        var agentInbox = agent.messages.makeAsyncIterator()
        let inbound = try #require(await agentInbox.next())
        let received = try inbound.envelope.get()
        #expect(received.hello.clientName == "test")

        var welcome = Copa_Protocol_V1_Welcome()
        welcome.maxJobs = 3
        try await agent.send(Envelope(.welcome(welcome)), to: inbound.peer)
        var clientInbox = client.messages.makeAsyncIterator()
        let answer = try #require(await clientInbox.next()).get()
        #expect(answer.welcome.maxJobs == 3)
        #expect(answer.protocolVersion == ProtocolVersion.current)
    }

    @Test func garbageFrameIsReportedNotFatal() async throws {
        let agent = try await AgentSocket.bind("inproc://garbage-\(UUID().uuidString)")
        defer { agent.close() }
        let client = try await ClientSocket.connect(agent.endpoint)
        defer { client.close() }
        try await client.sendRaw([[0xff, 0x00, 0x13, 0x37]])
        try await client.sendRaw([[0x01], [0x02]])
        var inbox = agent.messages.makeAsyncIterator()
        let first = try #require(await inbox.next())
        guard case .failure(let error) = first.envelope else {
            Issue.record("garbage decoded as an envelope")
            return
        }
        #expect(error.code == .protocol)
        let second = try #require(await inbox.next())
        guard case .failure(let shapeError) = second.envelope else {
            Issue.record("two-frame message accepted")
            return
        }
        #expect(shapeError.message.contains("one frame"))
    }

    @Test func wrongVersionIsRejected() async throws {
        var envelope = Envelope(.hello(Copa_Protocol_V1_Hello()))
        envelope.protocolVersion = 99
        guard case .failure(let error) = Envelope.decode(frame: envelope.frame()) else {
            Issue.record("version 99 accepted")
            return
        }
        #expect(error.code == .protocolVersion)
    }

    @Test func sendToVanishedPeerFails() async throws {
        let agent = try await AgentSocket.bind("tcp://127.0.0.1:0")
        defer { agent.close() }
        let client = try await ClientSocket.connect(agent.endpoint)
        try await client.send(Envelope(.hello(Copa_Protocol_V1_Hello())))
        var inbox = agent.messages.makeAsyncIterator()
        let peer = try #require(await inbox.next()).peer
        client.close()
        // The ROUTER drops the peer once the TCP connection closes; sends then fail.
        var failure: TransportError?
        for _ in 0..<100 {
            do {
                try await agent.send(Envelope(.welcome(Copa_Protocol_V1_Welcome())), to: peer)
                try await Task.sleep(for: .milliseconds(50))
            } catch let error as TransportError {
                failure = error
                break
            }
        }
        #expect(failure == .unreachable)
    }

    @Test func curveEncryptedRoundTrip() async throws {
        let server = try SocketOwner.curveKeyPair()
        let clientKeys = try SocketOwner.curveKeyPair()
        var agentOptions = SocketOptions()
        agentOptions.curve = .server(secretKey: server.secretKey)
        agentOptions.authorizer = AuthenticationTests.ListAuthorizer([clientKeys.publicKey: "curve"])
        var clientOptions = SocketOptions()
        clientOptions.curve = .client(
            serverPublicKey: server.publicKey, publicKey: clientKeys.publicKey, secretKey: clientKeys.secretKey)
        let agent = try await AgentSocket.bind("tcp://127.0.0.1:0", options: agentOptions)
        defer { agent.close() }
        let client = try await ClientSocket.connect(agent.endpoint, options: clientOptions)
        defer { client.close() }
        var hello = Copa_Protocol_V1_Hello()
        hello.clientName = "curve"
        try await client.send(Envelope(.hello(hello)))
        var inbox = agent.messages.makeAsyncIterator()
        let inbound = try #require(await inbox.next())
        #expect(try inbound.envelope.get().hello.clientName == "curve")
    }

    @Test func oversizedMessageIsDroppedAndAgentKeepsServing() async throws {
        var options = SocketOptions()
        options.maxMessageSize = 1024
        let agent = try await AgentSocket.bind("tcp://127.0.0.1:0", options: options)
        defer { agent.close() }
        let big = try await ClientSocket.connect(agent.endpoint)
        defer { big.close() }
        try await big.sendRaw([[UInt8](repeating: 7, count: 4096)])
        try await Task.sleep(for: .milliseconds(200))
        let small = try await ClientSocket.connect(agent.endpoint)
        defer { small.close() }
        var hello = Copa_Protocol_V1_Hello()
        hello.clientName = "small"
        try await small.send(Envelope(.hello(hello)))
        var inbox = agent.messages.makeAsyncIterator()
        let first = try #require(await inbox.next())
        // libzmq drops the 4 KiB message (and its connection) before it reaches us.
        #expect(try first.envelope.get().hello.clientName == "small")
    }
}

/// A ROUTER's answers to many peers: one that stops reading is dropped, the
/// others are not held up.
@Suite struct FairTransportTests {
    @Test func aPeerThatStopsReadingIsDroppedAndOthersAreServed() async throws {
        var options = SocketOptions()
        options.peerQueueMessages = 64
        let agent = try await AgentSocket.bind("tcp://127.0.0.1:0", options: options)
        defer { agent.close() }
        let flood = FloodingDealer(endpoint: agent.endpoint)
        defer { flood.stop() }
        let normal = try await ClientSocket.connect(agent.endpoint)
        defer { normal.close() }

        // Answer every message at once, as the agent does, and collect drops.
        let answering = Task {
            for await inbound in agent.messages {
                agent.post(Envelope(.welcome(Copa_Protocol_V1_Welcome())), to: inbound.peer)
            }
        }
        defer { answering.cancel() }
        let dropped = try await withDeadline(.seconds(30), "dropping the peer that never reads") {
            var drops = agent.droppedPeers.makeAsyncIterator()
            return await drops.next()
        }
        #expect(dropped?.reason == .overflow)

        // The normal client, connected all along, is still answered at once.
        let answered = try await withDeadline(.seconds(60), "20 answers to the normal client") {
            var normalInbox = normal.messages.makeAsyncIterator()
            for _ in 0..<20 {
                normal.post(Envelope(.hello(Copa_Protocol_V1_Hello())))
                let answer = try #require(await normalInbox.next()).get()
                guard case .welcome = answer.body else { return false }
            }
            return true
        }
        #expect(answered)
        // Nothing the dropped peer sends reaches the agent any more.
        #expect(agent.post(Envelope(.welcome(Copa_Protocol_V1_Welcome())), to: try #require(dropped?.peer)) == false)
    }
}

/// Heartbeat silence is judged only while the socket reads: a consumer that
/// falls behind (its window full, messages waiting in ZeroMQ) must not take a
/// peer that keeps sending for a dead one.
@Suite struct HeartbeatTests {
    @Test func aSlowConsumerDoesNotMakeABusyPeerLookSilent() async throws {
        var options = SocketOptions()
        options.heartbeatInterval = .milliseconds(100)
        let agent = try await AgentSocket.bind("tcp://127.0.0.1:0", options: options)
        defer { agent.close() }
        let client = try await ClientSocket.connect(agent.endpoint, options: options)
        defer { client.close() }
        client.post(Envelope(.hello(Copa_Protocol_V1_Hello())))
        let peer = try await withDeadline(.seconds(10), "the client's Hello") {
            var inbox = agent.messages.makeAsyncIterator()
            return try #require(await inbox.next()).peer
        }
        agent.watch(peer)
        client.watch(interval: .milliseconds(100))
        // More than the client's inbound window, which nobody reads for ten intervals.
        for _ in 0..<200 { agent.post(Envelope(.welcome(Copa_Protocol_V1_Welcome())), to: peer) }
        let silences = Task {
            var count = 0
            for await _ in client.silences { count += 1 }
            return count
        }
        try await Task.sleep(for: .seconds(1))
        client.close()
        #expect(await silences.value == 0, "the agent kept sending; the client only read slowly")
    }
}

import Foundation
import Logging
import Protocol
import Testing
@testable import Agent

@Suite struct AuthorizedKeysTests {
    @Test func aFileListsKeysWithNamesAndComments() throws {
        let alice = try CurveKey.generate()
        let bob = try CurveKey.generate()
        let text = """
            # build farm clients
            \(alice.publicKey) alice laptop of alice

            \(bob.publicKey)
            \u{0B}
            """
        let entries = try AuthorizedKeys.parse(text, source: "keys", fileName: nil)
        #expect(entries.map(\.publicKey) == [alice.publicKey, bob.publicKey])
        #expect(entries.first?.name == "alice")
        // A key without a name gets one that is safe in logs (Z85 is not).
        let unnamed = try #require(entries.last?.name)
        #expect(unnamed.hasPrefix("key-") && AuthorizedKeys.isValidName(unnamed))
    }

    @Test func aDirectoryNamesKeysAfterTheirFiles() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let carol = try CurveKey.generate()
        let dave = try CurveKey.generate()
        try "\(carol.publicKey)\n".write(toFile: directory + "/carol.pub", atomically: true, encoding: .utf8)
        try "\(dave.publicKey) dave-ci\n".write(toFile: directory + "/dave.pub", atomically: true, encoding: .utf8)
        try "not a key\n".write(toFile: directory + "/.hidden", atomically: true, encoding: .utf8)
        let keys = try AuthorizedKeys.load(path: directory)
        #expect(Set(keys.entries.map(\.name)) == ["carol", "dave-ci"])
    }

    @Test func aBadLineIsNamedByFileAndLine() throws {
        let alice = try CurveKey.generate()
        let error = #expect(throws: AuthorizedKeysError.self) {
            try AuthorizedKeys.parse("\(alice.publicKey) alice\nssh-ed25519 AAAA bob\n", source: "clients", fileName: nil)
        }
        #expect(error?.message.hasPrefix("clients:2:") == true)
        #expect(throws: AuthorizedKeysError.self) {
            try AuthorizedKeys.parse("\(alice.publicKey) al/ice\n", source: "clients", fileName: nil)
        }
        #expect(throws: AuthorizedKeysError.self) {
            try AuthorizedKeys.parse("\(alice.publicKey) alice\n\(alice.publicKey) mallory\n", source: "clients", fileName: nil)
        }
    }

    @Test func aFailedReloadKeepsTheKeysInForce() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let file = directory + "/authorized_keys"
        let alice = try CurveKey.generate()
        let bob = try CurveKey.generate()
        try "\(alice.publicKey) alice\n".write(toFile: file, atomically: true, encoding: .utf8)
        let ring = try AuthorizedKeyRing(path: file, logger: Logger(label: "test"))
        #expect(ring.authorize(publicKey: alice.publicKey, address: "127.0.0.1") == "alice")
        #expect(ring.authorize(publicKey: bob.publicKey, address: "127.0.0.1") == nil)

        try "\(bob.publicKey) bob\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try ring.reload() == 1)
        #expect(ring.authorize(publicKey: bob.publicKey, address: "127.0.0.1") == "bob")
        #expect(ring.authorize(publicKey: alice.publicKey, address: "127.0.0.1") == nil)

        try "garbage\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: AuthorizedKeysError.self) { try ring.reload() }
        #expect(ring.authorize(publicKey: bob.publicKey, address: "127.0.0.1") == "bob")
    }

    @Test(arguments: [
        ("tcp://127.0.0.1:7800", true), ("tcp://127.3.4.5:1", true), ("tcp://[::1]:7800", true),
        ("tcp://localhost:7800", true), ("ipc:///run/copa.sock", true), ("inproc://x", true),
        ("tcp://0.0.0.0:7800", false), ("tcp://*:7800", false), ("tcp://[::]:7800", false),
        ("tcp://10.0.0.1:7800", false), ("tcp://eth0:7800", false), ("tcp://127.0.0.1.example.com:1", false),
    ])
    func listenAddressesThatOnlyThisMachineReaches(endpoint: String, local: Bool) {
        #expect(ListenAddress.isLocal(endpoint) == local)
    }
}

@testable import Client
import Foundation
import Testing

/// The selector and inventory syntax `copa` takes for a pool of agents.
@Suite struct FleetOptionsTests {
    @Test func selectorsFollowKubernetesSyntax() throws {
        let labels = ["region": "eu-west", "pool": "prod", "gpu": "true"]
        let holds: [String: Bool] = [
            "region=eu-west": true, "region==eu-west": true, "region=us-east": false,
            "pool!=canary": true, "pool!=prod": false,
            "region in (eu-west,eu-north)": true, "region in (us-east)": false,
            "region notin (us-east, us-west)": true, "pool notin (prod)": false,
            "gpu": true, "!gpu": false, "!spot": true, "spot": false,
            "region=eu-west,pool!=canary": true, "region=eu-west,pool=canary": false,
            "region in (eu-west,eu-north),gpu": true, "": true,
            "example.com/tier=gold": false,
        ]
        for (text, expected) in holds {
            #expect(try LabelSelector(parsing: text).matches(labels) == expected, "\(text)")
        }
        #expect(try LabelSelector(parsing: "missing!=x").matches(labels), "a label that is not there is != any value")
    }

    @Test func badSelectorsAreErrorsThatNameThePart() {
        for text in ["region=", "=eu", "region in eu-west", "region in (eu-west", "region in ()", "a,,b",
                     "region ~ eu", "re gion=eu", "-bad=x", "region in ((a))", "pool=prod)"] {
            if text == "region=" {
                // An empty value is a valid label value.
                #expect(throws: Never.self) { try LabelSelector(parsing: text) }
                continue
            }
            #expect(throws: LabelSelector.SyntaxError.self, "\(text)") { try LabelSelector(parsing: text) }
        }
        #expect {
            try LabelSelector(parsing: "region=eu,pool ~ prod")
        } throws: { error in
            "\(error)".contains("'pool ~ prod'")
        }
    }

    @Test func anInventoryListsEndpointsKeysAndLabels() throws {
        let directory = NSTemporaryDirectory() + "inventory-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
        try "\(key) build-us\n".write(toFile: directory + "/us.pub", atomically: true, encoding: .utf8)
        let inventory = try AgentInventory.parse("""
            agents:
              - endpoint: tcp://build-eu-1.example:7800
                key: "\(key)"
                labels: {region: eu-west, pool: prod}
              - endpoint: tcp://10.0.0.7:7800
                key: us.pub
              - endpoint: ipc:///run/copa/agent.sock
            """, source: "test.yaml", directory: directory)
        #expect(inventory.entries.map(\.endpoint) == ["tcp://build-eu-1.example:7800", "tcp://10.0.0.7:7800", "ipc:///run/copa/agent.sock"])
        #expect(inventory.entries[0].key == key)
        #expect(inventory.entries[1].key == key)
        #expect(inventory.entries[2].key == nil)
        #expect(inventory.entries[0].labels == ["region": "eu-west", "pool": "prod"])
    }

    @Test func badInventoriesAreClearErrors() {
        let cases: [(String, String)] = [
            ("agents:\n  - endpoint: http://x:1\n", "endpoint must be tcp://HOST:PORT"),
            ("agents:\n  - endpoint: tcp://x\n", "endpoint must be tcp://HOST:PORT"),
            ("agents:\n  - endpoint: tcp://x:1\n    key: not-a-key\n", "key is neither a CURVE public key"),
            ("agents:\n  - endpoint: tcp://x:1\n    lables: {a: b}\n", "unknown key 'lables'"),
            ("agents:\n  - endpoint: tcp://x:1\n    labels: {\"bad key\": b}\n", "invalid label"),
            ("agents:\n  - key: abc\n", "key is neither"),
            ("agents:\n  - labels: {a: b}\n", "has no endpoint"),
            ("agents: []\n", "lists no agents"),
            ("agnets: []\n", "unknown key 'agnets'"),
            ("agents:\n  - endpoint: tcp://x:1\n  - endpoint: tcp://x:1\n", "listed twice"),
            ("[unclosed", "not YAML"),
        ]
        for (text, message) in cases {
            #expect("\(String(describing: Result { try AgentInventory.parse(text, source: "t.yaml", directory: "/nonexistent") }))".contains(message),
                    "\(text) → \(message)")
        }
    }
}

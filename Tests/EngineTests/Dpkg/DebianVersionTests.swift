import Foundation
import Testing
@testable import Engine

/// A pair of versions whose order the real `dpkg --compare-versions` decides.
struct VersionPair: Sendable, CustomTestStringConvertible {
    let lhs: String
    let rhs: String
    init(_ lhs: String, _ rhs: String) {
        self.lhs = lhs
        self.rhs = rhs
    }
    var testDescription: String { "\(lhs) vs \(rhs)" }

    /// Tricky cases: tildes, letters against punctuation, leading zeros,
    /// digit runs far past 64 bits, epochs, empty and zero revisions.
    static let table: [VersionPair] = [
        .init("1.0", "1.0"), .init("1.0", "0:1.0"), .init("1.0", "1.0-0"), .init("1.0", "1.00"),
        .init("1.0", "1.0.0"), .init("1.0~rc1", "1.0"), .init("1.0~rc1", "1.0~rc1~"), .init("1.0~", "1.0"),
        .init("1.0~~", "1.0~"), .init("1.0~~a", "1.0~~"), .init("1.0~~a", "1.0~"), .init("1.0a", "1.0"),
        .init("1.0a", "1.0+"), .init("1.0+", "1.0."), .init("1.0.", "1.0-1"), .init("1:0.1", "2.0"),
        .init("2:1.0", "10:0.1"), .init("0:1.0", "1.0-1"), .init("1.0-1", "1.0-2"), .init("1.0-10", "1.0-9"),
        .init("1.0-1ubuntu1", "1.0-1"), .init("1.0-1ubuntu1", "1.0-1+deb12u1"), .init("1.0-1+b1", "1.0-1.1"),
        .init("1.0-1~bpo1", "1.0-1"), .init("2.36-9+deb12u4", "2.36-9+deb12u10"),
        .init("10.3+deb10u13", "10.3+deb10u9"), .init("1.8.2.3", "1.8.2"), .init("1.8.10", "1.8.9"),
        .init("3.0.11-1~deb12u2", "3.0.11-1~deb12u1"), .init("1.2.3-1", "1.2.3-1build1"),
        .init("7.88.1-10+deb12u5", "7.88.1-10"), .init("1a", "1a0"), .init("1a", "1b"), .init("1A", "1a"),
        .init("1a", "1."), .init("1Z", "1a"), .init("1.0-a", "1.0-0"), .init("1.0-1", "1.0-a"),
        .init("0", "00"), .init("1", "0001"), .init("1.010", "1.9"), .init("1.001", "1.1"),
        .init("1.18446744073709551616", "1.18446744073709551615"),
        .init("1.99999999999999999999999999999999999999", "1.100000000000000000000000000000000000000"),
        .init("1.000000000000000000000000000000000000001", "1.1"),
        .init("2:1", "1:99999999999999999999999"), .init("1.0+dfsg1-1", "1.0-1"), .init("1.0+dfsg", "1.0~dfsg"),
        .init("1.0~beta", "1.0~alpha"), .init("1.0~~~", "1.0~~"), .init("1:1.0-1", "1:1.0"),
        .init("4.19.0-1", "4.19-1"), .init("1.2.3", "1.2.3a"), .init("1.2.3a", "1.2.3+"),
        .init("1.2-3-4", "1.2-3"), .init("1:2:3", "1:2.3"), .init("1.0-1-1", "1.0-1.1"), .init("9", "10"),
        .init("1.0b", "1.0a1"), .init("1.0a1", "1.0a"), .init("1.0.a", "1.0a"), .init("2~", "1"),
        .init("1~", "1~~"), .init("1.2+~", "1.2+"), .init("1.0-0.1", "1.0-0"), .init("1.0-00", "1.0"),
        .init("1:1.0", "1:1.0-0"), .init("001:1", "1:1"), .init("0:0", "0"), .init("1.0+1", "1.0~1"),
        .init("1.2.3~rc1+dfsg", "1.2.3~rc1"), .init("5.2.15-2+b8", "5.2.15-2+b10"), .init("1.1~", "1.0+"),
        .init("1.0ubuntu", "1.0-ubuntu"), .init(" 1.0 ", "1.0"),
    ]
}

@Suite("DebianVersion")
struct DebianVersionTests {
    /// dpkg's verdict: -1, 0 or 1.
    static func dpkgOrder(_ pair: VersionPair) throws -> Int {
        func holds(_ relation: String) throws -> Bool {
            let outcome = try DpkgTestSupport.run("/usr/bin/dpkg", ["--compare-versions", pair.lhs, relation, pair.rhs])
            guard outcome.status == 0 || outcome.status == 1 else {
                throw DpkgTestSupport.ToolFailure(description: "dpkg --compare-versions \(pair.lhs) \(relation) \(pair.rhs) failed: \(outcome.stderr)")
            }
            return outcome.status == 0
        }
        if try holds("lt") { return -1 }
        return try holds("eq") ? 0 : 1
    }

    @Test("orders like dpkg --compare-versions", arguments: VersionPair.table)
    func ordersLikeDpkg(_ pair: VersionPair) throws {
        let expected = try Self.dpkgOrder(pair)
        let lhs = try DebianVersion(pair.lhs)
        let rhs = try DebianVersion(pair.rhs)
        let actual = DebianVersion.compare(lhs, rhs).signum()
        #expect(actual == expected, "dpkg says \(expected)")
        #expect((lhs < rhs) == (expected < 0))
        #expect((lhs == rhs) == (expected == 0))
        #expect((rhs < lhs) == (expected > 0))
        #expect(DebianVersion.compare(rhs, lhs).signum() == -expected, "antisymmetric")
        if expected == 0 {
            #expect(lhs.hashValue == rhs.hashValue, "versions dpkg calls equal must hash alike")
            #expect(Set([lhs, rhs]).count == 1)
        }
    }

    @Test func tableIsLargeAndCoversEveryOutcome() throws {
        #expect(VersionPair.table.count >= 60)
        let outcomes = Set(try VersionPair.table.prefix(20).map(Self.dpkgOrder))
        #expect(outcomes == [-1, 0, 1])
    }

    @Test func splitsEpochUpstreamAndRevision() throws {
        let full = try DebianVersion("2:1.2-3-4ubuntu1")
        #expect(full.epoch == 2)
        #expect(full.upstream == "1.2-3")
        #expect(full.revision == "4ubuntu1")
        #expect(full.description == "2:1.2-3-4ubuntu1")
        let plain = try DebianVersion("10.3+deb10u13")
        #expect(plain.epoch == 0 && plain.upstream == "10.3+deb10u13" && plain.revision.isEmpty)
        let colons = try DebianVersion("1:2:3")
        #expect(colons.epoch == 1 && colons.upstream == "2:3")
        let parts = try DebianVersion(epoch: 1, upstream: "2.0", revision: "1")
        #expect(parts.description == "1:2.0-1")
        #expect(throws: EngineError.self) { try DebianVersion(epoch: 0, upstream: "1.0-1", revision: "") }
    }

    @Test func sortsAListAsDpkgWould() throws {
        let texts = ["1.0", "1.0~rc1", "1.0+b1", "0:0.9", "1:0.1", "1.0-1", "1.0a", "1.0~~"]
        let sorted = try texts.map(DebianVersion.init).sorted().map(\.description)
        #expect(sorted == ["0:0.9", "1.0~~", "1.0~rc1", "1.0", "1.0-1", "1.0a", "1.0+b1", "1:0.1"])
        for (lower, higher) in zip(sorted, sorted.dropFirst()) {
            let outcome = try DpkgTestSupport.run("/usr/bin/dpkg", ["--compare-versions", lower, "lt", higher])
            #expect(outcome.status == 0, "dpkg disagrees that \(lower) < \(higher)")
        }
    }

    static let invalid = [
        "", "   ", "a1.0", "1.0-", ":1.0", "a:1.0", "-1:1.0", "1:", "1.0 1", "1_0", "1.0-a_b", "1.0-1-",
        "99999999999:1", "1:-1", "é1", "1.0-1/2", "~1",
    ]

    @Test("rejects what Policy 5.6.12 forbids", arguments: invalid)
    func rejectsInvalid(_ text: String) throws {
        #expect {
            try DebianVersion(text)
        } throws: { error in
            (error as? EngineError)?.code == .invalidInput
                && (error as? EngineError)?.message.contains("Policy 5.6.12") == true
        }
    }

    /// dpkg flags the same strings (as an error, or a "bad syntax" warning
    /// for the ones it tolerates), so the rejections are not our invention.
    @Test("dpkg also objects to the rejected strings", arguments: invalid.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
    func dpkgObjects(_ text: String) throws {
        let outcome = try DpkgTestSupport.run("/usr/bin/dpkg", ["--compare-versions", text, "eq", text])
        #expect(outcome.status == 2 || outcome.stderr.contains("bad syntax"), "dpkg accepted '\(text)' silently")
    }
}

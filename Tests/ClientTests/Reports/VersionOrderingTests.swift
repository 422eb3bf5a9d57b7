import Engine
import Foundation
import Testing
@testable import Client

@Suite struct VersionOrderingTests {
    private func order<Ordering: VersionOrdering>(_ ordering: Ordering, _ a: String, _ b: String) throws -> String {
        let x = try ordering.version(a), y = try ordering.version(b)
        return x < y ? "<" : (y < x ? ">" : "=")
    }

    @Test func schemeFollowsTheOSFamily() {
        #expect(VersionScheme(osFamily: "debian") == .dpkg)
        #expect(VersionScheme(osFamily: "Ubuntu") == .dpkg)
        #expect(VersionScheme(osFamily: "alpine") == .apk)
        #expect(VersionScheme(osFamily: "wolfi") == .apk)
        #expect(VersionScheme(osFamily: "redhat") == .rpm)
        #expect(VersionScheme(osFamily: "centos") == .rpm)
        #expect(VersionScheme(osFamily: "cbl-mariner") == .rpm)
        #expect(VersionScheme(osFamily: "amazon") == .rpm)
        #expect(VersionScheme(osFamily: "arch") == .natural)
        #expect(VersionScheme(osFamily: "") == .natural)
    }

    /// Cases from apk-tools' test/version.data, plus commit hashes.
    @Test(arguments: [
        ("2.34", ">", "0.1.0_alpha"), ("0.1.0_alpha2", ">", "0.1.0_alpha"), ("1.0.4-r3", "<", "1.0.4-r4"),
        ("1.1", ">", "1.1_alpha1"), ("1.2.1", ">", "1.2"), ("1.3_alpha", "<", "1.3_alpha2"),
        ("0.7.0", "<", "0.8_beta1"), ("3.10.18-r1", ">", "2.3.0b-r1"), ("0.1.0_alpha", "=", "0.1.0_alpha"),
        ("1.0_p1", ">", "1.0"), ("1.0_rc1", "<", "1.0"), ("1.0_rc1", ">", "1.0_pre1"), ("1.0_git1", "<", "1.0_p1"),
        ("1.1.1d-r10", ">", "1.1.1d-r9"), ("1.02", "<", "1.1"), ("1.10", ">", "1.9"), ("1.0a", ">", "1.0"),
        ("1.2.3_git20230101~abc123-r0", "<", "1.2.3_git20230101~abd-r0"), ("1.0~abc-r1", ">", "1.0-r1"),
    ])
    func apk(_ a: String, _ expected: String, _ b: String) throws {
        #expect(try order(ApkVersionOrdering(), a, b) == expected)
    }

    @Test(arguments: ["", "1.0bc", "23_foo", "1.0-x1", "1.0 ", "1.0-", "1.0_", "1.0-r", "1a2", "1.0~", "99999999999999999999.1"])
    func apkRejects(_ text: String) {
        expectInvalidInput("not a valid apk version") { _ = try ApkVersion(text) }
    }

    @Test(arguments: [
        ("1:1.0-1", ">", "2.0-1"), ("1.0~rc1-1", "<", "1.0-1"), ("1.0^git1-1", ">", "1.0-1"),
        ("1.0^git1-1", "<", "1.0.1-1"), ("1.0a", ">", "1.0"), ("1.0.10", ">", "1.0.9"),
        ("1.0-16.el7", "<", "1.0-19.el7"), ("1.0-1.el7_9", ">", "1.0-1.el7"), ("2.0", "<", "2.0-1"),
        ("001.2", "=", "1.2"), ("1.0a", "<", "1.0.1"), ("0:1.0-1", "=", "1.0-1"),
    ])
    func rpm(_ a: String, _ expected: String, _ b: String) throws {
        #expect(try order(RpmVersionOrdering(), a, b) == expected)
    }

    @Test(arguments: ["", ":1.0", "x:1.0", "1.0-", "1.0 -1", "1:2:3", "99999999999:1"])
    func rpmRejects(_ text: String) {
        expectInvalidInput("not a valid rpm version") { _ = try RpmVersion(text) }
    }

    @Test(arguments: [
        ("1.10", ">", "1.9"), ("1.0.1", ">", "1.0"), ("1.01", "=", "1.1"), ("2.0-beta", ">", "2.0"),
        ("v1.2", "<", "v1.10"), ("1.0.a", "<", "1.0.1"), ("1.0~rc1", "<", "1.0"), ("1_0", "=", "1.0"),
    ])
    func natural(_ a: String, _ expected: String, _ b: String) throws {
        #expect(try order(NaturalVersionOrdering(), a, b) == expected)
    }

    @Test func naturalRejectsEmptyAndWhitespace() {
        expectInvalidInput("is empty") { _ = try NaturalVersion("") }
        expectInvalidInput("whitespace") { _ = try NaturalVersion("1 2") }
    }

    /// The client's dpkg ordering agrees with dpkg itself on the kinds of
    /// versions Debian security updates use.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg")), arguments: [
        ("2.0.5-1", "2.0.5-1+deb10u1"), ("1.9-1", "1.10-1"), ("1.0~rc1-1", "1.0-1"), ("1:1.0-1", "2.0-1"),
        ("7.64.0-4+deb10u2", "7.64.0-4+deb10u10"), ("2.31-0ubuntu9.12", "2.31-0ubuntu9.13"), ("1.0-1", "1.0-1"),
    ])
    func dpkgAgreesWithDpkg(_ a: String, _ b: String) throws {
        let ours = try order(DpkgVersionOrdering(), a, b)
        var theirs = "="
        for (relation, symbol) in [("lt", "<"), ("gt", ">")] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/dpkg")
            process.arguments = ["--compare-versions", a, relation, b]
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus == 0 { theirs = symbol }
        }
        #expect(ours == theirs, "\(a) vs \(b)")
    }
}

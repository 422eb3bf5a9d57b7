import Foundation
import Testing
@testable import Engine

@Suite("OSRelease")
struct OSReleaseTests {
    static let keys = ["ID", "VERSION_ID", "VERSION_CODENAME", "ID_LIKE", "PRETTY_NAME", "NAME"]

    /// What `sh` itself makes of the file: the reference for the quoting rules.
    static func shellValues(of path: String) throws -> [String: String] {
        let script = ". \"$1\"; for k in " + keys.joined(separator: " ") + "; do eval \"printf '%s\\0' \\\"\\${$k-<unset>}\\\"\"; done"
        let output = try DpkgTestSupport.output("/bin/sh", ["-c", script, "sh", path])
        let values = output.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        var result: [String: String] = [:]
        for (key, value) in zip(keys, values) where value != "<unset>" { result[key] = value }
        return result
    }

    @Test func matchesTheShellOnThisMachine() throws {
        let path = "/etc/os-release"
        let release = try OSRelease(parsing: try DpkgTestSupport.readText(path))
        let shell = try Self.shellValues(of: path)
        for key in Self.keys {
            #expect(release.fields[key] == shell[key], "\(key)")
        }
        #expect(release.id == shell["ID"])
    }

    @Test func matchesTheShellOnQuotingFixtures() throws {
        let text = """
            # comment
            NAME="Example \\"Quoted\\" \\$HOME \\\\ \\q"
            ID=example
            ID_LIKE="ubuntu debian"
            PRETTY_NAME='Single $quoted "text"'
              VERSION_ID=22.04   # trailing comment
            VERSION_CODENAME=jam"my"'x'

            """
        let scratch = try DpkgTestSupport.temporaryDirectory("osrelease")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try text.write(toFile: scratch + "/os-release", atomically: true, encoding: .utf8)
        let release = try OSRelease(parsing: text)
        let shell = try Self.shellValues(of: scratch + "/os-release")
        for key in Self.keys {
            #expect(release.fields[key] == shell[key], "\(key)")
        }
        #expect(release.idLike == ["ubuntu", "debian"])
        #expect(release.isLike("debian") && release.isLike("example") && !release.isLike("fedora"))
        #expect(release.versionID == "22.04" && release.versionCodename == "jammyx")
    }

    @Test func defaultsAndErrors() throws {
        let empty = try OSRelease(parsing: "")
        #expect(empty.id == "linux" && empty.prettyName == "Linux" && empty.versionID == nil)
        #expect(throws: EngineError.self) { try OSRelease(parsing: "ID=debian\nnot an assignment\n") }
        #expect(throws: EngineError.self) { try OSRelease(parsing: "NAME=\"unterminated\n") }
        #expect(throws: EngineError.self) { try OSRelease(parsing: "NAME=two words\n") }
    }
}

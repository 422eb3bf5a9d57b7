import Foundation
import Testing
@testable import Engine

@Suite("DpkgDatabase")
struct DpkgDatabaseTests {
    static let fixture = """
        Package: aaa
        Status: install ok installed
        Architecture: all
        Version: 1.0

        Package: gone
        Status: deinstall ok config-files
        Architecture: amd64
        Version: 0.9

        Package: half
        Status: install reinstreq half-installed
        Architecture: amd64
        Version: 2.0

        Package: libx
        Status: install ok installed
        Architecture: amd64
        Multi-Arch: same
        Source: x-src (1:3.0-1)
        Version: 3.0-1+b1

        Package: libx
        Status: install ok installed
        Architecture: i386
        Multi-Arch: same
        Source: x-src (1:3.0-1)
        Version: 3.0-1+b1

        Package: tool
        Status: hold ok installed
        Architecture: amd64
        Multi-Arch: foreign
        Source: tool-src
        Version: 5


        """

    @Test func readsTheSharedDpkgQueryListing() throws {
        let url = try DpkgTestSupport.sharedTestData().appendingPathComponent("copa/pkgdb/dpkg_valid.txt")
        let database = try DpkgDatabase(queryListing: try String(contentsOf: url, encoding: .utf8))
        #expect(database.layout == .queryListing)
        #expect(database.installed.map { "\($0.name) \($0.version)" } == ["apt-get 1.8.2.3", "base-files 10.3+deb10u13"])
        #expect(database.package("base-files")?.version == (try DebianVersion("10.3+deb10u13")))
    }

    @Test func rejectsTheSharedInvalidListingClearly() throws {
        let url = try DpkgTestSupport.sharedTestData().appendingPathComponent("copa/pkgdb/dpkg_invalid.txt")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect {
            try DpkgDatabase(queryListing: text)
        } throws: { error in
            let message = (error as? EngineError)?.message ?? ""
            return message.contains("line 2") && message.contains("a.b.c.d") && message.contains("start with a digit")
        }
    }

    /// A listing straight from dpkg-query (no blank lines, folded
    /// descriptions) reads the same as the status file it came from.
    @Test func readsARealDpkgQueryListing() throws {
        let listing = try DpkgTestSupport.output("/usr/bin/dpkg-query", [
            "-W", "-f",
            "Package: ${Package}\nArchitecture: ${Architecture}\nMulti-Arch: ${Multi-Arch}\nVersion: ${Version}\nStatus: ${Status}\nDescription: ${Description}\n",
        ])
        let fromListing = try DpkgDatabase(queryListing: listing)
        let fromStatus = try DpkgDatabase(statusFile: try DpkgTestSupport.readText("/var/lib/dpkg/status"))
        #expect(fromListing.installed.map(\.qualifiedName) == fromStatus.installed.map(\.qualifiedName))
        #expect(fromListing.installed.map(\.version) == fromStatus.installed.map(\.version))
        // dpkg-query drops blanks at line ends; the folded lines are otherwise the same.
        func lines(_ package: InstalledPackage) -> [String] {
            (package.paragraph["Description"] ?? "").split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        #expect(fromListing.installed.map(lines) == fromStatus.installed.map(lines))
        #expect {
            try DpkgDatabase(queryListing: "Package: a\nVersion: 1\nVersion: 2\n")
        } throws: { error in
            (error as? EngineError)?.message.contains("line 3") == true
        }
    }

    /// The installed set, architectures and versions agree with dpkg-query.
    @Test func agreesWithDpkgQueryOnThisMachine() throws {
        let database = try DpkgDatabase(statusFile: try DpkgTestSupport.readText("/var/lib/dpkg/status"))
        let listing = try DpkgTestSupport.output(
            "/usr/bin/dpkg-query", ["-W", "-f", "${db:Status-Status} ${Package} ${Architecture} ${Version}\n"])
        let expected = Set(listing.split(separator: "\n").filter { $0.hasPrefix("installed ") }.map { $0.dropFirst("installed ".count) })
        let actual = Set(database.installed.map { Substring("\($0.name) \($0.architecture) \($0.version)") })
        #expect(!expected.isEmpty)
        #expect(actual == expected)
        #expect(database.installed.count == expected.count)
    }

    /// dpkg writes `info/<basename>.list` for every installed package, so the
    /// basename rule can be checked against the real directory.
    @Test func infoFileBasenamesExistOnThisMachine() throws {
        let database = try DpkgDatabase(statusFile: try DpkgTestSupport.readText("/var/lib/dpkg/status"))
        var qualified = 0
        for package in database.installed {
            let path = "/var/lib/dpkg/info/\(package.infoFileBasename).list"
            #expect(FileManager.default.fileExists(atPath: path), "\(path) is missing")
            if package.infoFileBasename.contains(":") { qualified += 1 }
        }
        #expect(qualified == database.installed.filter { $0.multiArch == .same }.count)
    }

    @Test func onlyInstalledStateCountsAndLookupsFollowMultiArch() throws {
        let database = try DpkgDatabase(statusFile: Self.fixture)
        #expect(database.installed.map(\.qualifiedName) == ["aaa", "libx:amd64", "libx:i386", "tool"])
        #expect(database.package("gone") == nil)
        #expect(database.package("half") == nil)
        #expect(database.package("libx") == nil, "ambiguous between two architectures")
        #expect(database.package("libx:i386")?.architecture == "i386")
        #expect(database.package("tool:amd64")?.name == "tool")
        #expect(database.package("tool")?.status == PackageStatus(want: .hold, flag: .ok, state: .installed))
        let libx = try #require(database.package("libx:amd64"))
        #expect(libx.source == "x-src")
        #expect(libx.sourceVersion == (try DebianVersion("1:3.0-1")))
        #expect(libx.infoFileBasename == "libx:amd64")
        #expect(database.package("tool")?.source == "tool-src")
        #expect(database.package("aaa")?.source == "aaa")
        #expect(database.serializedStatusFile() == Self.fixture)
    }

    @Test func replacingKeepsEveryOtherParagraphByteIdentical() throws {
        let original = try DpkgTestSupport.readText("/var/lib/dpkg/status")
        let database = try DpkgDatabase(statusFile: original)
        var bash = try #require(database.package("bash")).paragraph
        try bash.set("Version", to: "99:9.9-1")
        let added = try ControlParagraph([
            ControlField(name: "Package", value: "copa-test-added"),
            ControlField(name: "Status", value: "install ok installed"),
            ControlField(name: "Architecture", value: "all"),
            ControlField(name: "Version", value: "1.0"),
            ControlField(name: "Description", value: "added by a test\n fixture"),
        ])
        let updated = try database.replacing([bash, added])
        let text = updated.serializedStatusFile()
        let before = original.components(separatedBy: "\n\n")
        let after = text.components(separatedBy: "\n\n")
        #expect(after.count == before.count + 1)
        #expect(Set(before).subtracting(after).count == 1, "only bash's paragraph changes")
        #expect(Set(after).subtracting(before).count == 2, "bash's new paragraph and the added one")
        // dpkg-query reads the result, sees both changes, and the order stays sorted.
        let admin = try DpkgTestSupport.temporaryDirectory("replace")
        defer { try? FileManager.default.removeItem(atPath: admin) }
        try text.write(toFile: admin + "/status", atomically: true, encoding: .utf8)
        let listing = try DpkgTestSupport.output("/usr/bin/dpkg-query", ["--admindir=\(admin)", "-W", "-f", "${Package} ${Version}\n", "bash", "copa-test-added"])
        #expect(listing == "bash 99:9.9-1\ncopa-test-added 1.0\n")
        let names = text.split(separator: "\n").filter { $0.hasPrefix("Package: ") }.map { Array($0.utf8) }
        #expect(names == names.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(updated.package("bash")?.version == (try DebianVersion("99:9.9-1")))
    }

    @Test func replacingMultiArchSameTouchesOneArchitecture() throws {
        let database = try DpkgDatabase(statusFile: Self.fixture)
        var libx = try #require(database.package("libx:i386")).paragraph
        try libx.set("Version", to: "3.0-2")
        let updated = try database.replacing([libx])
        #expect(updated.packages(named: "libx").map { "\($0.architecture) \($0.version)" } == ["amd64 3.0-1+b1", "i386 3.0-2"])
        var tool = try #require(database.package("tool")).paragraph
        try tool.set("Architecture", to: "arm64")
        #expect(try database.replacing([tool]).packages(named: "tool").map(\.architecture) == ["arm64"])
    }

    @Test func readsAndWritesADistrolessStatusDirectory() throws {
        let host = try ControlFile.parse(try DpkgTestSupport.readText("/var/lib/dpkg/status"))
        let root = try DpkgTestSupport.temporaryDirectory("distroless")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/var/lib/dpkg/status.d"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Like `dpkg-deb --field`: the control paragraph without Status.
        var expected: [String: String] = [:]
        for name in ["base-files", "libc6", "tzdata"] {
            var paragraph = try #require(host.first { $0["Package"] == name })
            paragraph.remove("Status")
            try paragraph.serialized.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
            expected[name] = paragraph["Version"]
        }
        try "d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/libc6/copyright\n"
            .write(toFile: directory + "/libc6.md5sums", atomically: true, encoding: .utf8)

        let database = try DpkgDatabase(root: URL(fileURLWithPath: root))
        #expect(database.layout == .statusDirectory)
        #expect(Dictionary(uniqueKeysWithValues: database.installed.map { ($0.name, $0.version.description) }) == expected)
        #expect(database.otherFiles == ["libc6.md5sums"])

        var base = try #require(database.package("base-files")).paragraph
        try base.set("Version", to: "99")
        let added = try ControlParagraph([ControlField(name: "Package", value: "newpkg"), ControlField(name: "Version", value: "1")])
        let files = try database.replacing([base, added]).serializedStatusDirectory()
        #expect(files.map(\.name) == ["base-files", "libc6", "newpkg", "tzdata"])
        for file in files where file.name == "libc6" || file.name == "tzdata" {
            #expect(file.text == (try DpkgTestSupport.readText("\(directory)/\(file.name)")), "untouched files stay byte-identical")
        }
        #expect(files.first { $0.name == "base-files" }?.text.contains("Version: 99\n") == true)
        #expect(files.first { $0.name == "newpkg" }?.text == "Package: newpkg\nVersion: 1\n\n")
    }

    @Test func reportsBrokenDatabasesClearly() throws {
        let badVersion = "Package: p\nStatus: install ok installed\nVersion: x1\n"
        #expect {
            try DpkgDatabase(statusFile: badVersion)
        } throws: { error in
            let message = (error as? EngineError)?.message ?? ""
            return message.contains("'p'") && message.contains("x1")
        }
        #expect(throws: EngineError.self) { try DpkgDatabase(statusFile: "Package: p\nStatus: installed\nVersion: 1\n") }
        #expect(throws: EngineError.self) { try DpkgDatabase(statusFile: "Version: 1\n") }
        #expect(throws: EngineError.self) {
            try DpkgDatabase(statusDirectory: [.init(name: "p", text: "not a paragraph\n")])
        }
        let empty = try DpkgTestSupport.temporaryDirectory("empty-root")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect {
            try DpkgDatabase(root: URL(fileURLWithPath: empty))
        } throws: { error in
            (error as? EngineError)?.code == .unsupportedOS
        }
    }
}

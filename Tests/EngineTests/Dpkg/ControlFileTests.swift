import Foundation
import Testing
@testable import Engine

@Suite("ControlFile")
struct ControlFileTests {
    static let sample = """
        Package: demo
        Status: install ok installed
        Conffiles:
         /etc/demo.conf 0123456789abcdef0123456789abcdef
         /etc/demo.d/x 00000000000000000000000000000000 obsolete
        Description: a demo package\u{20}
         Long text, with a trailing blank on the first line kept.
         .
           indented line
        Version: 1.0-1

        Package: other
        Version: 2


        """

    @Test func roundTripsTheMachineStatusFileByteForByte() throws {
        let text = try DpkgTestSupport.readText("/var/lib/dpkg/status")
        let paragraphs = try ControlFile.parse(text)
        let packageLines = text.split(separator: "\n").filter { $0.hasPrefix("Package:") }.count
        #expect(paragraphs.count == packageLines)
        #expect(ControlFile.serialize(paragraphs) == text)
        // Rebuilt from the parsed fields alone (no remembered text), the
        // output must still be what dpkg wrote.
        let rebuilt = try paragraphs.map { try ControlParagraph($0.fields) }
        #expect(ControlFile.serialize(rebuilt) == text)
    }

    @Test func keepsContinuationLinesExactly() throws {
        let paragraphs = try ControlFile.parse(Self.sample)
        try #require(paragraphs.count == 2)
        let demo = paragraphs[0]
        #expect(demo["Conffiles"] == "\n /etc/demo.conf 0123456789abcdef0123456789abcdef\n /etc/demo.d/x 00000000000000000000000000000000 obsolete")
        #expect(demo["Description"] == "a demo package \n Long text, with a trailing blank on the first line kept.\n .\n   indented line")
        #expect(demo.fields.map(\.name) == ["Package", "Status", "Conffiles", "Description", "Version"])
        #expect(demo.fields[3].firstLine == "a demo package ")
        #expect(ControlFile.serialize(paragraphs) == Self.sample)
        #expect(ControlFile.serialize(try paragraphs.map { try ControlParagraph($0.fields) }) == Self.sample)
    }

    @Test func looksUpFieldsIgnoringCase() throws {
        let paragraph = try #require(try ControlFile.parse(Self.sample).first)
        #expect(paragraph["version"] == "1.0-1")
        #expect(paragraph["VERSION"] == "1.0-1")
        #expect(paragraph["Versio"] == nil)
        #expect(paragraph.contains("package"))
    }

    @Test func editsKeepOrderAndSpelling() throws {
        var paragraph = try #require(try ControlFile.parse(Self.sample).first)
        try paragraph.set("version", to: "1.0-2")
        try paragraph.set("Homepage", to: "https://example.org")
        paragraph.remove("STATUS")
        #expect(paragraph.fields.map(\.name) == ["Package", "Conffiles", "Description", "Version", "Homepage"])
        #expect(paragraph.serialized.hasSuffix("Version: 1.0-2\nHomepage: https://example.org\n"))
        #expect(throws: EngineError.self) { try paragraph.set("Bad Name", to: "x") }
        #expect(throws: EngineError.self) { try paragraph.set("Description", to: "x\nnot indented") }
        #expect(throws: EngineError.self) { try ControlParagraph([ControlField(name: "A", value: "1"), ControlField(name: "a", value: "2")]) }
    }

    /// dpkg-query reads what we write: the serialized edit is a valid status file.
    @Test func dpkgQueryReadsTheSerializedOutput() throws {
        let status = try DpkgTestSupport.readText("/var/lib/dpkg/status")
        var paragraphs = try ControlFile.parse(status)
        let index = try #require(paragraphs.firstIndex { $0["Package"] == "bash" })
        try paragraphs[index].set("Version", to: "99:1.0-test")
        let admin = try DpkgTestSupport.temporaryDirectory("admindir")
        defer { try? FileManager.default.removeItem(atPath: admin) }
        try ControlFile.serialize(paragraphs).write(toFile: admin + "/status", atomically: true, encoding: .utf8)
        let listed = try DpkgTestSupport.output("/usr/bin/dpkg-query", ["--admindir=\(admin)", "-W", "-f", "${Version}\n", "bash"])
        #expect(listed == "99:1.0-test\n")
    }

    @Test func rejectsCRLFNamingTheLine() throws {
        #expect {
            try ControlFile.parse("Package: a\nVersion: 1\r\nArchitecture: all\n")
        } throws: { error in
            let message = (error as? EngineError)?.message ?? ""
            return message.contains("line 2") && message.contains("CRLF")
        }
    }

    @Test func rejectsLinesWithoutAColonNamingTheLine() throws {
        #expect {
            try ControlFile.parse("Package: a\n\nPackage: b\nthis line is broken\n")
        } throws: { error in
            (error as? EngineError)?.message.contains("line 4") == true
        }
    }

    @Test func rejectsMalformedParagraphs() throws {
        let bad = [
            " leading continuation\n",
            "Package: a\npackage: b\n",
            "-Field: x\n",
            "Bad Field: x\n",
            ": empty name\n",
        ]
        for text in bad {
            #expect(throws: EngineError.self, "\(text.debugDescription)") { try ControlFile.parse(text) }
        }
    }

    @Test func commentsOnlyWhereTheSyntaxAllowsThem() throws {
        let text = "# header\nTypes: deb\n# between fields\nURIs: http://example.org\n #  not a comment: continuation\n"
        let paragraphs = try ControlFile.parse(text, syntax: .allowingComments)
        #expect(paragraphs.count == 1)
        #expect(paragraphs.first?["Types"] == "deb")
        #expect(paragraphs.first?["URIs"] == "http://example.org\n #  not a comment: continuation")
        #expect(throws: EngineError.self) { try ControlFile.parse(text) }
        // A comment between continuation lines does not break the value.
        let folded = try ControlFile.parse("A: one\n two\n# note\n three\n", syntax: .allowingComments)
        #expect(folded.first?["A"] == "one\n two\n three")
    }

    @Test func separatorsMayBeBlankOrRepeated() throws {
        let paragraphs = try ControlFile.parse("\n\nA: 1\n \t\nB: 2\n\n\n")
        #expect(paragraphs.map { $0.fields.map(\.name) } == [["A"], ["B"]])
        #expect(try ControlFile.parse("").isEmpty)
        #expect(try ControlFile.parse("A: no trailing newline").first?.serialized == "A: no trailing newline\n")
    }
}

import ArgumentParser
import CopaCore
import Foundation

extension ReportFormat: ExpressibleByArgument {}

/// Reads a report file and parses it in the given or detected format.
enum ReportLoader {
    /// Reports larger than this are refused before parsing (Trivy reports of
    /// huge images are a few tens of MB).
    static let sizeLimit = 512 << 20

    static func load(path: String, scanner: ReportFormat?) throws -> ParsedReport {
        let url = URL(fileURLWithPath: path)
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw EngineError(.invalidInput, "cannot read the report \(path): no such file")
        }
        if let size = attributes[.size] as? Int, size > sizeLimit {
            throw EngineError(.invalidInput, "the report \(path) is \(size) bytes; the limit is \(sizeLimit)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw EngineError(.invalidInput, "cannot read the report \(path): \(error.localizedDescription)")
        }
        return try ReportFormat.parse(data, source: path, as: scanner)
    }
}

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Print the UpdateManifest a report becomes (Copa v1alpha2 JSON), without patching.")

    @Option(name: [.short, .customLong("report")], help: "Scanner report (Trivy JSON) or Copa UpdateManifest JSON.")
    var report: String

    @Option(help: "Report format: trivy or native. Default: detect.")
    var scanner: ReportFormat?

    func run() throws {
        do {
            let parsed = try ReportLoader.load(path: report, scanner: scanner)
            let data = try NativeManifestEncoder().encode(parsed.manifest)
            FileHandle.standardOutput.write(data)
            if data.last != UInt8(ascii: "\n") { FileHandle.standardOutput.write(Data("\n".utf8)) }
            if !parsed.skipped.isEmpty {
                FileHandle.standardError.write(Data("\(parsed.skipped.count) vulnerabilities without a fixed version skipped\n".utf8))
            }
        } catch {
            printError("\(error)")
            throw ExitCode(ExitCodes.invalidInput)
        }
    }
}

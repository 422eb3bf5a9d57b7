import Engine
import Foundation
import Testing
@testable import Client

/// The shared fixtures in `<repository>/../shared/testdata`, found by walking
/// up from this file, so the tests run wherever the checkout is.
enum ReportTestData {
    struct Missing: Error, CustomStringConvertible {
        let start: String
        var description: String {
            "no shared/testdata directory in any parent of \(start); the report tests read the shared fixtures from <repository>/../shared/testdata — check out or link the shared data there"
        }
    }

    static func directory(filePath: String = #filePath) throws -> URL {
        var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("shared/testdata")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), isDirectory.boolValue {
                return candidate
            }
            directory = directory.deletingLastPathComponent()
        }
        throw Missing(start: filePath)
    }

    /// The bytes of `relativePath` (e.g. "copa/reports/trivy_valid.json").
    static func load(_ relativePath: String) throws -> Data {
        try Data(contentsOf: directory().appendingPathComponent(relativePath))
    }

    /// Parses a fixture with format detection, named by its relative path.
    static func parse(_ relativePath: String) throws -> ParsedReport {
        try ReportFormat.parse(load(relativePath), source: relativePath)
    }

    /// Every regular file under the directory, as sorted relative paths.
    static func allFiles() throws -> [String] {
        let root = try directory()
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
            return []
        }
        var files: [String] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let path = url.standardizedFileURL.path
            let prefix = root.standardizedFileURL.path + "/"
            if path.hasPrefix(prefix) { files.append(String(path.dropFirst(prefix.count))) }
        }
        return files.sorted()
    }
}

/// Runs `body`, which must fail with `EngineError.invalidInput` whose message
/// contains every fragment; returns the message.
@discardableResult
func expectInvalidInput(
    _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> String? {
    do {
        try body()
        Issue.record("expected an invalid-input error containing \(fragments), but it succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as EngineError {
        #expect(error.code == .invalidInput, "\(error)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(error.message.contains(fragment), "message '\(error.message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
        }
        return error.message
    } catch {
        Issue.record("expected EngineError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Builds Trivy SchemaVersion 2 JSON for synthetic tests.
enum TrivyJSON {
    /// One OS-package finding: (package, installed, fixed or nil, vulnerability ID).
    typealias Finding = (String, String, String?, String)

    static func report(family: String?, release: String = "1", arch: String = "amd64", findings: [Finding], extraResults: [[String: Any]] = []) throws -> Data {
        var metadata: [String: Any] = ["ImageConfig": ["architecture": arch]]
        if let family { metadata["OS"] = ["Family": family, "Name": release] }
        let vulnerabilities: [[String: Any]] = findings.map { name, installed, fixed, id in
            var entry: [String: Any] = ["PkgName": name, "InstalledVersion": installed, "VulnerabilityID": id]
            if let fixed { entry["FixedVersion"] = fixed }
            return entry
        }
        let results: [[String: Any]] = [["Target": "image", "Class": "os-pkgs", "Type": family ?? "", "Vulnerabilities": vulnerabilities]] + extraResults
        let root: [String: Any] = ["SchemaVersion": 2, "ArtifactName": "image", "Metadata": metadata, "Results": results]
        return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
    }

    static func parse(_ data: Data, source: String = "trivy.json") throws -> ParsedReport {
        try TrivyReportParser().parse(data, source: source)
    }
}

func update(_ name: String, _ installed: String, _ fixed: String, _ ids: [String]) -> UpdateManifest.Update {
    UpdateManifest.Update(name: name, installedVersion: installed, fixedVersion: fixed, vulnerabilityIDs: ids)
}

import Foundation

extension DpkgDatabase {
    /// A file of a `status.d` directory: its name and its text.
    public struct StatusDirectoryFile: Sendable, Hashable {
        public let name: String
        public let text: String

        public init(name: String, text: String) {
            self.name = name
            self.text = text
        }
    }

    /// Reads dpkg's `status` file.
    public init(statusFile text: String) throws {
        let paragraphs: [ControlParagraph]
        do {
            paragraphs = try ControlFile.parse(text)
        } catch let error as EngineError {
            throw EngineError(error.code, "the dpkg status file is malformed: \(error.message)")
        }
        // A status paragraph without Status is "not-installed" to dpkg.
        let entries = try paragraphs.map { try Self.entry($0, defaultStatus: nil, file: nil) }
        self.init(layout: .statusFile, entries: entries)
    }

    /// Reads the files of a distroless `status.d` directory. Files ending in
    /// `.md5sums` (and hidden files) are not paragraphs and are only listed in
    /// `otherFiles`; every other file must hold one or more paragraphs.
    public init(statusDirectory files: [StatusDirectoryFile]) throws {
        var entries: [Entry] = []
        var originals: [String: String] = [:]
        var others: [String] = []
        for file in files.sorted(by: { $0.name < $1.name }) {
            guard !Self.isNonParagraphFile(file.name) else {
                others.append(file.name)
                continue
            }
            let paragraphs: [ControlParagraph]
            do {
                paragraphs = try ControlFile.parse(file.text)
            } catch let error as EngineError {
                throw EngineError(error.code, "status.d file '\(file.name)' is malformed: \(error.message)")
            }
            guard !paragraphs.isEmpty else {
                throw EngineError(.invalidInput, "status.d file '\(file.name)' holds no package paragraph")
            }
            originals[file.name] = file.text
            // status.d holds only installed packages and is written from .deb
            // control files, which carry no Status field.
            for paragraph in paragraphs {
                entries.append(try Self.entry(paragraph, defaultStatus: .installed, file: file.name))
            }
        }
        self.init(layout: .statusDirectory, entries: entries, originalFiles: originals, otherFiles: others)
    }

    /// Reads a listing of `Package: x` / `Version: y` lines (as printed by
    /// `dpkg-query -W -f 'Package: ${Package}\nVersion: ${Version}\n'`), where
    /// every `Package` line starts a new record and blank lines are optional.
    /// Records count as installed, since dpkg-query printed them.
    public init(queryListing text: String) throws {
        var records: [[ControlField]] = []
        for (offset, line) in text.textLines.enumerated() {
            do {
                try Self.addListingLine(line, to: &records)
            } catch let error as EngineError {
                throw EngineError(.invalidInput, "dpkg-query listing, line \(offset + 1): \(error.message)")
            }
        }
        let entries = try records.map { fields in
            try Self.entry(try ControlParagraph(fields), defaultStatus: .installed, file: nil)
        }
        self.init(layout: .queryListing, entries: entries)
    }

    private static func addListingLine(_ line: Substring, to records: inout [[ControlField]]) throws {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        if let first = line.first, blank(first), line.contains(where: { !blank($0) }) {
            // A folded value (Policy 5.1), as `${Description}` or `${Conffiles}` print.
            guard let record = records.indices.last, let field = records[record].indices.last else {
                throw EngineError(.invalidInput, "a continuation line has no field before it")
            }
            records[record][field].value += "\n" + line
            return
        }
        let trimmed = String(line).trimmingDpkgSpace()
        if trimmed.isEmpty { return }
        guard let colon = trimmed.firstIndex(of: ":") else {
            throw EngineError(.invalidInput, "'\(trimmed)' is not a 'Field: value' line")
        }
        let name = String(trimmed[..<colon])
        let value = String(trimmed[trimmed.index(after: colon)...]).trimmingDpkgSpace()
        let field = try ControlField(name: name, value: value)
        if ControlParagraph.namesMatch(name, "Version") { _ = try DebianVersion(value) }
        if ControlParagraph.namesMatch(name, "Package") || records.isEmpty {
            records.append([])
        } else if records[records.count - 1].contains(where: { ControlParagraph.namesMatch($0.name, name) }) {
            throw EngineError(.invalidInput, "field '\(name)' appears twice in one record; each record must start with a Package line")
        }
        records[records.count - 1].append(field)
    }

    /// Reads `root/var/lib/dpkg/status`, or `root/var/lib/dpkg/status.d/` when
    /// there is no status file (a distroless image unpacked to disk).
    public init(root: URL) throws {
        let dpkg = root.appendingPathComponent("var/lib/dpkg")
        let status = dpkg.appendingPathComponent("status")
        let directory = dpkg.appendingPathComponent("status.d")
        let manager = FileManager.default
        if manager.fileExists(atPath: status.path) {
            try self.init(statusFile: try Self.readText(status))
            return
        }
        guard let names = try? manager.contentsOfDirectory(atPath: directory.path) else {
            throw EngineError(.unsupportedOS, "no dpkg database under \(root.path): neither var/lib/dpkg/status nor var/lib/dpkg/status.d exists")
        }
        let files = try names.map { name in
            StatusDirectoryFile(name: name, text: try Self.readText(directory.appendingPathComponent(name)))
        }
        try self.init(statusDirectory: files)
    }

    static func isNonParagraphFile(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasSuffix(".md5sums")
    }

    static func entry(_ paragraph: ControlParagraph, defaultStatus: PackageStatus?, file: String?) throws -> Entry {
        guard let name = paragraph["Package"], !name.isEmpty else {
            throw EngineError(.invalidInput, "a dpkg database paragraph has no Package field")
        }
        let state = try paragraph["Status"].map(PackageStatus.init) ?? defaultStatus
        var package: InstalledPackage?
        if state?.state == .installed {
            package = try InstalledPackage(paragraph: paragraph, defaultStatus: defaultStatus)
        }
        return Entry(
            paragraph: paragraph, package: package, name: name,
            architecture: paragraph["Architecture"] ?? "",
            multiArch: (try? MultiArch(field: paragraph["Multi-Arch"])) ?? .no, file: file)
    }

    private static func readText(_ url: URL) throws -> String {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw EngineError(.io, "cannot read \(url.path)", underlying: error)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw EngineError(.invalidInput, "\(url.path) is not valid UTF-8")
        }
        return text
    }
}

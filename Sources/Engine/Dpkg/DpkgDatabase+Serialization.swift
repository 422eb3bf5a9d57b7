extension DpkgDatabase {
    /// A new database where each paragraph in `paragraphs` (a complete status
    /// paragraph, normally with `Status: install ok installed`) replaces the
    /// record dpkg would replace: the same name, and for Multi-Arch: same the
    /// same architecture. Replaced records keep their position (and status.d
    /// file); new ones go where dpkg's sorted order puts them (by name, then
    /// architecture), or into a new status.d file named after the package.
    public func replacing(_ paragraphs: [ControlParagraph]) throws -> DpkgDatabase {
        var entries = self.entries
        var originals = originalFiles
        // Written databases hold explicit status; status.d implies installed.
        let defaultStatus: PackageStatus? = layout == .statusFile ? nil : .installed
        for paragraph in paragraphs {
            var entry = try Self.entry(paragraph, defaultStatus: defaultStatus, file: nil)
            let replaced = entries.indices.filter { Self.isReplaced(entries[$0], by: entry) }
            for position in replaced {
                if let file = entries[position].file { originals[file] = nil }
            }
            if let first = replaced.first {
                entry.file = entries[first].file
                entries[first] = entry
                for position in replaced.dropFirst().reversed() { entries.remove(at: position) }
                continue
            }
            if layout == .statusDirectory {
                entry.file = Self.newFileName(for: entry, taken: Set(entries.compactMap(\.file)))
            }
            let position = entries.firstIndex { Self.sortsBefore(entry, $0) } ?? entries.endIndex
            entries.insert(entry, at: position)
        }
        return DpkgDatabase(layout: layout, entries: entries, originalFiles: originals, otherFiles: otherFiles)
    }

    /// The database as a dpkg `status` file (for a status.d database, all
    /// paragraphs in file-name order; for a listing, its records as paragraphs).
    public func serializedStatusFile() -> String {
        ControlFile.serialize(entries.map(\.paragraph))
    }

    /// The database as `status.d` files, in name order. Files no replacement
    /// touched come back with their original text; files
    /// from other layouts are named after their packages (`name`, or
    /// `name:arch` when that is taken).
    public func serializedStatusDirectory() -> [StatusDirectoryFile] {
        var order: [String] = []
        var grouped: [String: [Entry]] = [:]
        var taken = Set(entries.compactMap(\.file))
        for entry in entries {
            var file = entry.file
            if file == nil {
                let name = Self.newFileName(for: entry, taken: taken)
                taken.insert(name)
                file = name
            }
            guard let name = file else { continue }
            if grouped[name] == nil { order.append(name) }
            grouped[name, default: []].append(entry)
        }
        return order.sorted().map { name in
            if let original = originalFiles[name] {
                return StatusDirectoryFile(name: name, text: original)
            }
            let group = grouped[name] ?? []
            return StatusDirectoryFile(name: name, text: ControlFile.serialize(group.map(\.paragraph)))
        }
    }

    /// dpkg keeps one instance per name unless both are Multi-Arch: same.
    private static func isReplaced(_ existing: Entry, by new: Entry) -> Bool {
        guard existing.name == new.name else { return false }
        guard existing.multiArch == .same, new.multiArch == .same else { return true }
        return existing.architecture == new.architecture
    }

    /// dpkg writes the status file sorted by package name, then architecture
    /// (`pkg_sorter_by_nonambig_name_arch`), comparing bytes.
    private static func sortsBefore(_ new: Entry, _ existing: Entry) -> Bool {
        let lhs = (Array(new.name.utf8), Array(new.architecture.utf8))
        let rhs = (Array(existing.name.utf8), Array(existing.architecture.utf8))
        if lhs.0 != rhs.0 { return lhs.0.lexicographicallyPrecedes(rhs.0) }
        return lhs.1.lexicographicallyPrecedes(rhs.1)
    }

    private static func newFileName(for entry: Entry, taken: Set<String>) -> String {
        taken.contains(entry.name) ? "\(entry.name):\(entry.architecture)" : entry.name
    }
}

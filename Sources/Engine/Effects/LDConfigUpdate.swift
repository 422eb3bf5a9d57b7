/// What the `ldconfig` trigger does to the file system, done as data (no
/// image code runs): `/etc/ld.so.cache` rewritten as glibc 2.36's ldconfig
/// writes it when the update adds or drops a soname in a directory ldconfig
/// searches, soname links ldconfig would create for new libraries, and
/// dangling soname links it would remove.
///
/// The cache is updated from the image's own: an entry stays while
/// `<directory>/<soname>` still resolves to a library with that soname, and
/// each library the patch layer writes into a searched directory adds its
/// soname. This is what ldconfig's full scan gives when the image's cache was
/// current, without reading every library of the image. Where that cannot be
/// decided (hwcap subdirectories, a library too large to read, a library
/// type suffix in ld.so.conf, a cache in another format) nothing is changed
/// and the reason is reported.
struct LDConfigUpdate {
    static let cache = "etc/ld.so.cache"
    static let configuration = "etc/ld.so.conf"
    static let configurationDirectory = "etc/ld.so.conf.d"
    static let program = "sbin/ldconfig"

    /// A file the patch layer wrote into a searched directory.
    enum LayerLibrary: Sendable, Equatable {
        case library(ELFLibrary)
        /// Not a library ldconfig takes (not ELF, not ET_DYN, another machine).
        case skipped
        /// Too large to read while streaming the layer.
        case unread
    }

    enum Outcome: Equatable {
        /// The image has no cache.
        case noCache
        case unchanged(entries: Int)
        case rewritten(added: [String], removed: [String], entries: Int)
        case notReproduced(String)
    }

    struct NotReproduced: Error {
        var reason: String
    }

    let reader: ELFLibrary.Reader
    let triplet: String
    /// Regular files the layer wrote in searched directories, by path.
    let libraries: [String: LayerLibrary]
    /// Symlinks the layer wrote with library names, by path.
    let links: [String]
    /// libc-bin's versions when the update upgrades it: the cache then names
    /// the new ldconfig as its generator, as the trigger runs the new one.
    var libcBin: (from: String, to: String)?

    init?(architecture: String, libraries: [String: LayerLibrary], links: [String], libcBin: (from: String, to: String)? = nil) {
        guard let reader = ELFLibrary.Reader(architecture: architecture),
              let triplet = Self.triplets[architecture] else { return nil }
        self.reader = reader
        self.triplet = triplet
        self.libraries = libraries
        self.links = links
        self.libcBin = libcBin
    }

    static let triplets = [
        "amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "i386": "i386-linux-gnu",
        "armhf": "arm-linux-gnueabihf", "armel": "arm-linux-gnueabi",
    ]

    func apply(to tree: inout PatchedTree) -> Outcome {
        guard case .regular(let content, _, _, _)? = tree.node(Self.cache) else {
            return tree.node(Self.cache) == nil ? .noCache : .notReproduced("/\(Self.cache) is not a regular file")
        }
        do {
            guard let content else { throw NotReproduced(reason: "the image's /\(Self.cache) was not read") }
            let old: LDSOCache
            do { old = try LDSOCache(parsing: content) } catch { throw NotReproduced(reason: "/\(Self.cache): \(error)") }
            guard !old.hasHWCapsSection, old.entries.allSatisfy({ $0.hwcap == 0 }) else {
                throw NotReproduced(reason: "/\(Self.cache) has hwcap entries")
            }
            let directories = try Self.searchedDirectories(in: tree, triplet: triplet)
            var new = try update(old, directories: directories, tree: &tree)
            if let libcBin { new.generator = Self.generator(old.generator, from: libcBin.from, to: libcBin.to) }
            let bytes = new.serialized()
            if bytes == content { return .unchanged(entries: new.entries.count) }
            tree.set(Self.cache, .regular(content: bytes, mode: 0o644, uid: 0, gid: 0))
            let before = Set(old.entries.map(\.value)), after = Set(new.entries.map(\.value))
            return .rewritten(added: after.subtracting(before).sorted(), removed: before.subtracting(after).sorted(),
                              entries: new.entries.count)
        } catch let error as NotReproduced {
            return .notReproduced(error.reason)
        } catch {
            return .notReproduced("\(error)")
        }
    }

    /// A directory ldconfig searches: as ld.so.conf spells it (the cache's
    /// paths use this) and where it is in the tree.
    struct Directory: Equatable {
        var spelled: String
        var real: String
    }

    /// ldconfig's directory list (elf/ldconfig.c `parse_conf`, then the
    /// built-in ones Debian's ldconfig adds): ld.so.conf with its `include`
    /// globs, then /lib/<triplet>, /usr/lib/<triplet>, /lib, /usr/lib; each
    /// directory once, the first spelling kept (ldconfig compares device and
    /// inode, here the path with symlinks followed); missing ones skipped.
    static func searchedDirectories(in tree: PatchedTree, triplet: String) throws -> [Directory] {
        var directories: [Directory] = []
        func add(_ line: String) throws {
            guard !line.contains("=") else { throw NotReproduced(reason: "ld.so.conf line \"\(line)\" has a library type") }
            var path = line
            while let last = path.last, last == " " || last == "\t" || last == "/" { path.removeLast() }
            guard !path.isEmpty else { return }
            let relative = String(path.drop { $0 == "/" })
            guard let real = tree.resolve(relative), tree.node(real) == .directory,
                  !directories.contains(where: { $0.real == real }) else { return }
            directories.append(Directory(spelled: path, real: real))
        }
        func parse(_ file: String, depth: Int) throws {
            guard depth < 8, let bytes = tree.content(file) else { return }
            for raw in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
                let line = String(raw.prefix { $0 != "#" }.drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" })
                guard !line.isEmpty else { continue }
                if line.hasPrefix("include"), let blank = line.dropFirst(7).first, blank == " " || blank == "\t" {
                    for pattern in line.dropFirst(8).split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                        let absolute = pattern.hasPrefix("/") ? String(pattern) : "/etc/" + pattern
                        for match in try glob(absolute, in: tree) { try parse(match, depth: depth + 1) }
                    }
                } else if line.lowercased().hasPrefix("hwcap"), let blank = line.dropFirst(5).first, blank == " " || blank == "\t" {
                    continue
                } else {
                    try add(line)
                }
            }
        }
        try parse(configuration, depth: 0)
        for builtin in ["/lib/\(triplet)", "/usr/lib/\(triplet)", "/lib", "/usr/lib"] { try add(builtin) }
        return directories
    }

    /// glob(3) for patterns whose wildcards (`*`, `?`) are in the last
    /// component only; matches in byte order, names starting with `.` only
    /// when the pattern's do. Returns tree paths (no leading slash).
    static func glob(_ pattern: String, in tree: PatchedTree) throws -> [String] {
        var components = pattern.split(separator: "/").map(String.init)
        guard let last = components.popLast() else { return [] }
        guard !components.contains(where: { $0.contains("*") || $0.contains("?") || $0.contains("[") }), !last.contains("[") else {
            throw NotReproduced(reason: "ld.so.conf includes \(pattern), a pattern this model does not expand")
        }
        let directory = components.joined(separator: "/")
        guard let real = tree.resolve(directory), tree.node(real) == .directory else { return [] }
        guard last.contains("*") || last.contains("?") else {
            return tree.node(directory + "/" + last) == nil ? [] : [directory + "/" + last]
        }
        return tree.children(real)
            .filter { !$0.hasPrefix(".") || last.hasPrefix(".") }
            .filter { matches(Array($0.utf8)[...], Array(last.utf8)[...]) }
            .map { directory + "/" + $0 }
    }

    private static func matches(_ name: ArraySlice<UInt8>, _ pattern: ArraySlice<UInt8>) -> Bool {
        guard let first = pattern.first else { return name.isEmpty }
        switch first {
        case UInt8(ascii: "*"):
            var rest = name
            while true {
                if matches(rest, pattern.dropFirst()) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        case UInt8(ascii: "?"):
            return !name.isEmpty && matches(name.dropFirst(), pattern.dropFirst())
        default:
            return name.first == first && matches(name.dropFirst(), pattern.dropFirst())
        }
    }

    /// The new entry list: kept, dropped and added entries, sorted as
    /// ldconfig's `add_to_cache` keeps them (ties in directory order).
    private func update(_ old: LDSOCache, directories: [Directory], tree: inout PatchedTree) throws -> LDSOCache {
        var ranked: [(entry: LDSOCache.Entry, directory: Int, index: Int)] = []
        var present = Set<String>()
        for (index, entry) in old.entries.enumerated() {
            let directory = Self.parent(entry.value)
            guard let rank = directories.firstIndex(where: { $0.spelled == directory }) else {
                throw NotReproduced(reason: "/\(Self.cache) lists \(entry.value), outside the directories ldconfig searches")
            }
            let real = directories[rank].real
            let path = real + "/" + entry.key
            if try soname(of: path, tree: tree) == entry.key {
                ranked.append((entry, rank, index))
                present.insert(path)
            } else if case .symlink? = tree.node(path), tree.resolve(path) == nil, entry.key.contains(".so.") {
                // ldconfig removes stale soname links.
                tree.set(path, nil)
            }
        }
        let candidates = (Array(libraries.keys) + links).sorted(by: PatchedTree.byteOrder)
        for (rank, directory) in directories.enumerated() {
            for path in candidates where Self.parent(path) == directory.real && ELFLibrary.looksLikeLibrary(Self.name(path)) {
                guard let soname = try soname(of: path, tree: tree),
                      let resolved = tree.resolve(path), case .library(let library)? = libraries[resolved] else { continue }
                let sonamePath = directory.real + "/" + soname
                guard present.insert(sonamePath).inserted else { continue }
                ranked.append((LDSOCache.Entry(flags: library.flags, key: soname, value: directory.spelled + "/" + soname),
                               rank, Int.max))
                // ldconfig links the soname to a library that lacks the link.
                let name = Self.name(path)
                if name != soname, tree.resolve(sonamePath) == nil { tree.set(sonamePath, .symlink(target: name)) }
            }
        }
        ranked.sort { left, right in
            if let order = LDSOCache.precedes(left.entry, right.entry) { return order }
            return (left.directory, left.index) < (right.directory, right.index)
        }
        var new = old
        new.entries = ranked.map(\.entry)
        return new
    }

    /// The soname ldconfig's `search_dir` files the directory entry at
    /// `path` under, or nil when it skips it. Libraries the layer did not
    /// write are taken to carry the soname the image's cache gives them.
    private func soname(of path: String, tree: PatchedTree) throws -> String? {
        let name = Self.name(path)
        guard let node = tree.node(path) else { return nil }
        let isLink: Bool
        switch node {
        case .symlink: isLink = true
        case .regular: isLink = false
        default: return nil
        }
        guard let resolved = tree.resolve(path), case .regular? = tree.node(resolved) else { return nil }
        switch libraries[resolved] {
        case nil:
            guard isLink, links.contains(path) else { return name }
            throw NotReproduced(reason: "/\(path) points to /\(resolved), which the patch did not write and was not read")
        case .skipped?:
            return nil
        case .unread?:
            throw NotReproduced(reason: "/\(resolved) is too large to read its soname")
        case .library(let library)?:
            let soname = library.soname ?? name
            guard isLink else { return soname }
            // A link is filed under its own name when that is the soname or
            // the `.so` link for ld(1) (`libfoo.so` → soname `libfoo.so.1`);
            // any other link counts as the file it points to.
            if name == soname || (name.hasSuffix(".so") && soname.hasPrefix(name)) { return name }
            return soname
        }
    }

    /// Debian's generator string, `ldconfig (Debian GLIBC <version>) stable
    /// release version <upstream>`, for another libc-bin version.
    static func generator(_ old: String, from: String, to: String) -> String {
        var new = old.replacingOccurrences(of: "GLIBC \(from))", with: "GLIBC \(to))")
        let upstream = { (version: String) in
            String((version.split(separator: ":", maxSplits: 1).last ?? "").split(separator: "-").first ?? "")
        }
        let (oldUpstream, newUpstream) = (upstream(from), upstream(to))
        if oldUpstream != newUpstream, new.hasSuffix(" release version " + oldUpstream) {
            new = String(new.dropLast(oldUpstream.count)) + newUpstream
        }
        return new
    }

    private static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    private static func name(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

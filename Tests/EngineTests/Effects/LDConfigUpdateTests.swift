@testable import Engine
import Foundation
import Testing

/// `LDSOCache`, `ELFLibrary` and `LDConfigUpdate` against glibc's own
/// ldconfig: the host's cache read and written back byte for byte, every
/// library it lists read as ldconfig read it, and a root updated once by
/// `ldconfig -r` and once by the data model, the caches compared byte for
/// byte. The host is Debian 12 on x86-64 (glibc 2.36, the release the images
/// carry); the byte comparisons cover amd64.
@Suite struct LDConfigUpdateTests {
    static let ldconfig = "/sbin/ldconfig"
    static let hostCachePath = "/etc/ld.so.cache"
    static let libraryDirectory = "usr/lib/x86_64-linux-gnu"
    static var hostCache: [UInt8]? { FileManager.default.contents(atPath: hostCachePath).map(Array.init) }
    static var isX8664: Bool {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } == "x86_64"
    }
    static var available: Bool {
        getuid() == 0 && isX8664 && FileManager.default.isExecutableFile(atPath: ldconfig) && hostCache != nil
    }

    @Test(.enabled(if: hostCache != nil, "needs the host's /etc/ld.so.cache"))
    func hostCacheIsWrittenBackByteForByte() throws {
        let bytes = try #require(Self.hostCache)
        let cache = try LDSOCache(parsing: bytes)
        #expect(cache.entries.count > 20)
        #expect(cache.generator.hasPrefix("ldconfig ") && cache.generator.contains(" release version "))
        #expect(cache.serialized() == bytes)
        // The entries' order is the one `precedes` gives (ties, the same
        // soname in two directories, keep their directory order).
        let shuffled = cache.entries.enumerated().shuffled()
        let sorted = shuffled.sorted { left, right in
            LDSOCache.precedes(left.element, right.element) ?? (left.offset < right.offset)
        }
        #expect(sorted.map(\.element) == cache.entries)
        print("LDConfigUpdateTests: host cache of \(cache.entries.count) entries, \(bytes.count) bytes, identical when written back")
    }

    /// Each library the host's ldconfig put in its cache, read by
    /// `ELFLibrary`: the same flags, and the soname it was filed under.
    @Test(.enabled(if: available, "needs an x86-64 host's ldconfig cache"))
    func librariesReadAsLdconfigReadThem() throws {
        let cache = try LDSOCache(parsing: try #require(Self.hostCache))
        var checked = 0
        for entry in cache.entries {
            let real = URL(fileURLWithPath: entry.value).resolvingSymlinksInPath().path
            guard let data = FileManager.default.contents(atPath: real) else { continue }
            let library = try #require(ELFLibrary.read(Array(data), reader: .x86), "\(entry.value)")
            #expect(library.flags == entry.flags, "\(entry.value)")
            // Links named as the `.so` for ld(1) are filed under their own name.
            let soname = library.soname ?? entry.key
            let filedUnderLinkName = entry.key.hasSuffix(".so") && soname.hasPrefix(entry.key)
            #expect(soname == entry.key || filedUnderLinkName, "\(entry.value): soname \(soname)")
            checked += 1
        }
        #expect(checked > 20)
        print("LDConfigUpdateTests: \(checked) host libraries read with ldconfig's flags and sonames")
    }

    @Test(.enabled(if: available, "needs root, an x86-64 host and its ldconfig"))
    func cacheMatchesLdconfigAfterSonamesChange() throws {
        let fixture = try makeRoot()
        let (real, model) = (fixture.root + "-real", fixture.root + "-model")
        for root in [real, model] { try copyTree(fixture.root, to: root) }
        let (added, fileOnly) = (fixture.spare[0], fixture.spare[1])
        let directory = Self.libraryDirectory
        var libraries: [String: LDConfigUpdate.LayerLibrary] = [:]
        for root in [real, model] {
            // The update: one library and its link go, one comes with its
            // link, one comes without (ldconfig makes it), one is rewritten
            // with its soname unchanged.
            try FileManager.default.removeItem(atPath: "\(root)/\(directory)/\(fixture.dropped.link)")
            try FileManager.default.removeItem(atPath: "\(root)/\(directory)/\(fixture.dropped.file)")
            try install(added, into: root, link: true)
            try install(fileOnly, into: root, link: false)
            try install(fixture.rewritten, into: root, link: false)
        }
        for library in [added, fileOnly, fixture.rewritten] {
            let path = "\(directory)/\(library.file)"
            let bytes = Array(try #require(FileManager.default.contents(atPath: model + "/" + path)))
            libraries[path] = .library(try #require(ELFLibrary.read(bytes, reader: .x86)))
        }
        try runLdconfig(real)
        var tree = DiskTree.tree(model)
        let update = try #require(LDConfigUpdate(architecture: "amd64", libraries: libraries,
                                                 links: ["\(directory)/\(added.link)"]))
        let outcome = update.apply(to: &tree)
        guard case .rewritten(let addedPaths, let removedPaths, let entries) = outcome else {
            Issue.record("expected a rewritten cache, got \(outcome)")
            return
        }
        #expect(Set(addedPaths) == ["/lib/x86_64-linux-gnu/\(added.link)", "/lib/x86_64-linux-gnu/\(fileOnly.link)"])
        #expect(removedPaths == ["/lib/x86_64-linux-gnu/\(fixture.dropped.link)"])
        try DiskTree.write(tree.changes, into: model)
        let realCache = FileManager.default.contents(atPath: real + "/etc/ld.so.cache")
        #expect(realCache != nil && realCache == FileManager.default.contents(atPath: model + "/etc/ld.so.cache"))
        #expect(try listing(real + "/" + directory) == listing(model + "/" + directory))
        print("LDConfigUpdateTests: cache of \(entries) entries identical to ldconfig's (\(realCache?.count ?? 0) bytes); added \(addedPaths), removed \(removedPaths)")
    }

    @Test(.enabled(if: available, "needs root, an x86-64 host and its ldconfig"))
    func cacheIsKeptWhenSonamesStay() throws {
        let fixture = try makeRoot()
        let before = try #require(FileManager.default.contents(atPath: fixture.root + "/etc/ld.so.cache"))
        try install(fixture.rewritten, into: fixture.root, link: true)
        let path = "\(Self.libraryDirectory)/\(fixture.rewritten.file)"
        let bytes = Array(try #require(FileManager.default.contents(atPath: fixture.root + "/" + path)))
        var tree = DiskTree.tree(fixture.root)
        let library = try #require(ELFLibrary.read(bytes, reader: .x86))
        let update = try #require(LDConfigUpdate(architecture: "amd64", libraries: [path: .library(library)],
                                                 links: ["\(Self.libraryDirectory)/\(fixture.rewritten.link)"]))
        let outcome = update.apply(to: &tree)
        guard case .unchanged = outcome else {
            Issue.record("expected the cache kept, got \(outcome)")
            return
        }
        #expect(tree.changes.isEmpty)
        try runLdconfig(fixture.root)
        #expect(FileManager.default.contents(atPath: fixture.root + "/etc/ld.so.cache") == before,
                "ldconfig writes the same cache again")
    }

    /// A new libc-bin names its own ldconfig in the cache.
    @Test(.enabled(if: hostCache != nil && DpkgTestSupport.hasTool("/usr/bin/dpkg-query"), "needs the host's cache and dpkg-query"))
    func generatorNamesTheNewLdconfig() throws {
        let generator = try LDSOCache(parsing: try #require(Self.hostCache)).generator
        let version = try DpkgTestSupport.output("/usr/bin/dpkg-query", ["-W", "-f", "${Version}", "libc-bin"])
        try #require(generator.contains("GLIBC \(version))"), "the host's cache was written by its libc-bin: \(generator)")
        let older = generator.replacingOccurrences(of: "GLIBC \(version))", with: "GLIBC 2.36-9+deb12u1)")
        #expect(LDConfigUpdate.generator(older, from: "2.36-9+deb12u1", to: version) == generator)
    }

    /// What the model cannot decide leaves the cache alone, with the reason.
    @Test(.enabled(if: available, "needs root, an x86-64 host and its ldconfig"))
    func unmodelledConfigurationIsReported() throws {
        let fixture = try makeRoot()
        try "/usr/local/lib=libc6\n".write(toFile: fixture.root + "/etc/ld.so.conf.d/typed.conf", atomically: true, encoding: .utf8)
        var tree = DiskTree.tree(fixture.root)
        let outcome = try #require(LDConfigUpdate(architecture: "amd64", libraries: [:], links: [])).apply(to: &tree)
        guard case .notReproduced(let reason) = outcome else {
            Issue.record("expected notReproduced, got \(outcome)")
            return
        }
        #expect(reason.contains("library type"))
        #expect(tree.changes.isEmpty)
    }

    // MARK: - Fixture

    struct Library {
        /// The soname (the link's name) and the file it names.
        var link: String
        var file: String
        var source: String
    }

    struct Fixture {
        var root: String
        var dropped: Library
        var rewritten: Library
        /// Host libraries not in the root.
        var spare: [Library]
    }

    /// A merged-/usr Debian root (/lib → usr/lib) with Debian's ld.so.conf
    /// and some of the host's libraries, one of them also in /usr/local/lib
    /// (the same soname in two directories), a linker script that ldconfig
    /// skips, and the cache `ldconfig -r` writes for it.
    private func makeRoot() throws -> Fixture {
        let root = try DpkgTestSupport.temporaryDirectory("ldconfig")
        let fm = FileManager.default
        for directory in [Self.libraryDirectory, "usr/lib64", "usr/local/lib", "etc/ld.so.conf.d"] {
            try fm.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try fm.createSymbolicLink(atPath: root + "/lib", withDestinationPath: "usr/lib")
        try fm.createSymbolicLink(atPath: root + "/lib64", withDestinationPath: "usr/lib64")
        try "include /etc/ld.so.conf.d/*.conf\n\n".write(toFile: root + "/etc/ld.so.conf", atomically: true, encoding: .utf8)
        try "# libc default configuration\n/usr/local/lib\n".write(toFile: root + "/etc/ld.so.conf.d/libc.conf", atomically: true, encoding: .utf8)
        try "# Multiarch support\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n"
            .write(toFile: root + "/etc/ld.so.conf.d/x86_64-linux-gnu.conf", atomically: true, encoding: .utf8)
        try "/* GNU ld script */\nGROUP ( libc.so.6 )\n".write(toFile: "\(root)/\(Self.libraryDirectory)/libc.so", atomically: true, encoding: .utf8)

        let hostCache = try LDSOCache(parsing: try #require(Self.hostCache))
        var libraries: [Library] = []
        for entry in hostCache.entries where entry.value.hasPrefix("/lib/x86_64-linux-gnu/") || entry.value.hasPrefix("/usr/lib/x86_64-linux-gnu/") {
            let real = URL(fileURLWithPath: entry.value).resolvingSymlinksInPath()
            guard let size = try? real.resourceValues(forKeys: [.fileSizeKey]).fileSize, size < 4 << 20,
                  (real.path as NSString).deletingLastPathComponent.hasSuffix("/x86_64-linux-gnu"),
                  !entry.key.hasSuffix(".so"), !libraries.contains(where: { $0.link == entry.key || $0.file == real.lastPathComponent }) else { continue }
            libraries.append(Library(link: entry.key, file: real.lastPathComponent, source: real.path))
        }
        libraries.sort { $0.link < $1.link }
        let distinct = libraries.filter { $0.link != $0.file }
        try #require(libraries.count >= 24 && distinct.count >= 4, "the host has \(libraries.count) small libraries")
        let dropped = distinct[0], rewritten = distinct[1]
        let spare = [distinct[2], distinct[3]]
        for library in libraries where library.link != spare[0].link && library.link != spare[1].link {
            try install(library, into: root, link: true)
        }
        try fm.copyItem(atPath: rewritten.source, toPath: "\(root)/usr/local/lib/\(rewritten.file)")
        try fm.createSymbolicLink(atPath: "\(root)/usr/local/lib/\(rewritten.link)", withDestinationPath: rewritten.file)
        try runLdconfig(root)
        return Fixture(root: root, dropped: dropped, rewritten: rewritten, spare: spare)
    }

    private func install(_ library: Library, into root: String, link: Bool) throws {
        let fm = FileManager.default
        let directory = "\(root)/\(Self.libraryDirectory)"
        let file = directory + "/" + library.file
        if fm.fileExists(atPath: file) { try fm.removeItem(atPath: file) }
        try fm.copyItem(atPath: library.source, toPath: file)
        let linkPath = directory + "/" + library.link
        if link, library.link != library.file, (try? fm.destinationOfSymbolicLink(atPath: linkPath)) == nil {
            try fm.createSymbolicLink(atPath: linkPath, withDestinationPath: library.file)
        }
    }

    private func runLdconfig(_ root: String) throws {
        let outcome = try DpkgTestSupport.run(Self.ldconfig, ["-r", root])
        try #require(outcome.status == 0, "ldconfig -r exited \(outcome.status): \(outcome.stderr)")
    }

    private func copyTree(_ source: String, to destination: String) throws {
        _ = try DpkgTestSupport.output("/bin/cp", ["-a", source, destination])
    }

    /// Names with their link targets ("-" for files).
    private func listing(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { name in
            "\(name) -> \((try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + name)) ?? "-")"
        }
    }
}

import Foundation
import Testing
@testable import Engine

@Suite struct LayerFileCollectorTests {
    /// The probe the dpkg patcher uses: os-release, the dpkg database, apt config.
    static func probe(_ path: String) -> Bool {
        path == "etc/os-release" || path.hasPrefix("var/lib/dpkg/") || path == "var/lib/dpkg"
            || path.hasPrefix("etc/apt/") || path == "etc/apt"
    }

    /// Packs `scratch/<name>` into a layer tar the way image builders do
    /// ("./"-prefixed names, sorted), optionally compressed. `withoutParent`
    /// names files added without an entry for their directory, as a layer
    /// diff holds files written through a symlinked directory.
    static func layer(
        _ scratch: ArchiveScratchDirectory, _ name: String, compress tool: String? = nil, withoutParent: [String] = []
    ) throws -> ByteSource {
        let archive = scratch.file("\(name).tar")
        let excluded = withoutParent.map { "--exclude=./" + ($0.split(separator: "/").first.map(String.init) ?? $0) }
        try ArchiveTool.run("tar", ["--format=posix", "--sort=name"] + excluded + ["-C", scratch.file(name), "-cf", archive, "."])
        if !withoutParent.isEmpty {
            try ArchiveTool.run("tar", ["--format=posix", "--no-recursion", "-C", scratch.file(name), "-rf", archive] + withoutParent.map { "./" + $0 })
        }
        guard let tool else { return try FileSource(path: archive) }
        return MemorySource(try ArchiveTool.run(tool, ["-c", archive]))
    }

    /// Three layers exercising file replacement, whiteouts of files and
    /// directories, an opaque directory, hard and symbolic links.
    static func buildImage(_ scratch: ArchiveScratchDirectory) throws -> [ByteSource] {
        // Layer 1: a base system.
        try scratch.write("l1/etc/os-release", "ID=debian\nVERSION_ID=\"11\"\n")
        try scratch.write("l1/etc/apt/sources.list", "deb http://deb.debian.org/debian bullseye main\n")
        try scratch.write("l1/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        try scratch.write("l1/var/lib/dpkg/status", "Package: base-files\n")
        try scratch.write("l1/var/lib/dpkg/info/a.list", "/a\n")
        try scratch.write("l1/var/lib/dpkg/info/b.list", "/b\n")
        try scratch.write("l1/var/lib/dpkg/info/c.list", "/c old\n")
        try scratch.makeDirectory("l1/var/lib/dpkg/updates")
        try scratch.write("l1/opt/old/file1", "1")
        try scratch.write("l1/opt/old/sub/file2", "2")
        try scratch.write("l1/usr/lib/libbase.so", "base")
        try scratch.write("l1/usr/share/doc/gone/copyright", "c")
        try ArchiveTool.run("ln", ["-s", "usr/lib", scratch.file("l1/lib")])
        try ArchiveTool.run("ln", ["-s", "/usr/lib/libbase.so", scratch.file("l1/etc/alternatives-base")])

        // Layer 2: an update, with whiteouts and an opaque directory.
        try scratch.write("l2/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
        try scratch.write("l2/var/lib/dpkg/status", "Package: base-files\nVersion: 12\n")
        try scratch.write("l2/var/lib/dpkg/info/.wh.b.list", [])
        // A whiteout and a new file of the same name in one layer: the new file stays.
        try scratch.write("l2/var/lib/dpkg/info/.wh.c.list", [])
        try scratch.write("l2/var/lib/dpkg/info/c.list", "/c new\n")
        // "-early" sorts before ".wh..wh..opq": same-layer entries survive the marker wherever they are.
        try scratch.write("l2/opt/old/-early", "e")
        try scratch.write("l2/opt/old/.wh..wh..opq", [])
        try scratch.write("l2/opt/old/late", "l")
        try scratch.write("l2/usr/share/doc/.wh.gone", [])
        // Written through the "lib" symlink of layer 1: lands in usr/lib.
        try scratch.write("l2/lib/libnew.so", "new")
        try scratch.write("l2/etc/ignored-by-probe.conf", "value=1\n")

        // Layer 3: apt configuration replaced wholesale, a hard link under etc/.
        try scratch.write("l3/etc/.wh.apt", [])
        try scratch.write("l3/etc/hostname", "box\n")
        try scratch.write("l3/var/lib/dpkg/available", "")
        try ArchiveTool.run("ln", [scratch.file("l3/etc/hostname"), scratch.file("l3/etc/hostname-link")])
        try scratch.write("l4/etc/apt/sources.list.d/debian.sources", "Types: deb\n")

        return [
            try layer(scratch, "l1", compress: "gzip"),
            try layer(scratch, "l2", compress: "zstd", withoutParent: ["lib/libnew.so"]),
            try layer(scratch, "l3"),
            try layer(scratch, "l4", compress: "xz"),
        ]
    }

    @Test func appliesWhiteoutsOpaqueDirectoriesAndReplacements() throws {
        let scratch = try ArchiveScratchDirectory()
        let files = try LayerFileCollector.collect(layers: try Self.buildImage(scratch), matching: Self.probe)

        #expect(files.content(of: "/etc/os-release") == Array("ID=debian\nVERSION_ID=\"12\"\n".utf8))
        #expect(files.content(of: "var/lib/dpkg/status") == Array("Package: base-files\nVersion: 12\n".utf8))
        #expect(files.content(of: "var/lib/dpkg/info/a.list") == Array("/a\n".utf8))
        #expect(files.entry(at: "var/lib/dpkg/info/b.list") == nil)
        #expect(files.content(of: "var/lib/dpkg/info/c.list") == Array("/c new\n".utf8))
        #expect(files.content(of: "var/lib/dpkg/available") == [])
        #expect(files.directories.contains("var/lib/dpkg/updates"))
        #expect(files.entry(at: "var/lib/dpkg/updates")?.header.type == .directory)

        // etc/apt was deleted in layer 3 and recreated by layer 4 with only the new file.
        #expect(files.entry(at: "etc/apt/sources.list") == nil)
        #expect(files.content(of: "etc/apt/sources.list.d/debian.sources") == Array("Types: deb\n".utf8))
        #expect(files.directories.contains("etc/apt"))

        // Files the probe does not select are not kept.
        #expect(files.entry(at: "etc/passwd") == nil)
        #expect(Set(files.entries.keys).allSatisfy(Self.probe))
        // Whiteout markers never show up as files.
        #expect(!files.existingPaths.contains { $0.contains(".wh.") })
    }

    @Test func recordsEveryExistingNonDirectoryPath() throws {
        let scratch = try ArchiveScratchDirectory()
        let files = try LayerFileCollector.collect(layers: try Self.buildImage(scratch), matching: Self.probe)
        let expected: Set<String> = [
            "etc/os-release", "etc/passwd", "etc/alternatives-base", "etc/ignored-by-probe.conf",
            "etc/hostname", "etc/hostname-link", "etc/apt/sources.list.d/debian.sources",
            "var/lib/dpkg/status", "var/lib/dpkg/available",
            "var/lib/dpkg/info/a.list", "var/lib/dpkg/info/c.list",
            "opt/old/-early", "opt/old/late",
            "usr/lib/libbase.so", "usr/lib/libnew.so", "lib",
        ]
        #expect(files.existingPaths == expected)
        #expect(!files.directories.contains("usr/share/doc/gone"))
    }

    @Test func hashesEveryRegularFileUnderEtcLikeMd5sum() throws {
        let scratch = try ArchiveScratchDirectory()
        let files = try LayerFileCollector.collect(layers: try Self.buildImage(scratch), matching: Self.probe)
        let sources = [
            "etc/os-release": "l2", "etc/passwd": "l1", "etc/ignored-by-probe.conf": "l2", "etc/hostname": "l3",
            "etc/hostname-link": "l3", "etc/apt/sources.list.d/debian.sources": "l4",
        ]
        #expect(Set(files.etcMD5.keys) == Set(sources.keys))
        for (path, layer) in sources {
            #expect(files.etcMD5[path] == (try ArchiveTool.md5sum(scratch.file("\(layer)/\(path)"))), "\(path)")
        }
        #expect(files.etcMD5["etc/alternatives-base"] == nil, "symlinks have no checksum")
    }

    @Test func keepsLinkTargetsAndHeaders() throws {
        let scratch = try ArchiveScratchDirectory()
        let files = try LayerFileCollector.collect(
            layers: try Self.buildImage(scratch),
            matching: { $0 == "etc/alternatives-base" || $0.hasPrefix("etc/hostname") || $0 == "lib/libnew.so" || Self.probe($0) })
        #expect(files.symlinkTarget(of: "etc/alternatives-base") == "/usr/lib/libbase.so")
        let link = try #require(files.entry(at: "etc/hostname-link"))
        // GNU tar stores the second name of a hard-linked pair as the link.
        let hardLinked = [link, try #require(files.entry(at: "etc/hostname"))].first { $0.header.type == .hardlink }
        #expect(hardLinked?.header.linkName.hasPrefix("etc/hostname") == true)
        #expect(link.content == Array("box\n".utf8))
        #expect(files.entry(at: "etc/os-release")?.header.path == "etc/os-release")
        // Written as lib/libnew.so through the "lib -> usr/lib" symlink: reported where it lives.
        #expect(files.entry(at: "usr/lib/libnew.so")?.header.path == "usr/lib/libnew.so")
        #expect(files.content(of: "usr/lib/libnew.so") == Array("new".utf8))
        #expect(files.entry(at: "lib/libnew.so") == nil)
    }

    @Test func selectedFilesOverTheSizeLimitFail() throws {
        let scratch = try ArchiveScratchDirectory()
        try scratch.write("big/var/lib/dpkg/status", ArchiveFixtures.randomBytes(count: 5000))
        try scratch.write("big/etc/large.bin", ArchiveFixtures.randomBytes(count: 5000, seed: 5))
        let error = ArchiveFixtures.thrownError {
            _ = try LayerFileCollector.collect(layers: [try Self.layer(scratch, "big")], matching: Self.probe, fileSizeLimit: 4096)
        }
        #expect(error?.code == .archive)
        #expect(error?.message.contains("/var/lib/dpkg/status") == true)
        // Unselected files under etc/ are only hashed, so the limit does not apply to them.
        let files = try LayerFileCollector.collect(layers: [try Self.layer(scratch, "big")], matching: { _ in false }, fileSizeLimit: 4096)
        #expect(files.etcMD5["etc/large.bin"] == (try ArchiveTool.md5sum(scratch.file("big/etc/large.bin"))))
    }

    @Test func layersEscapingTheRootFail() throws {
        let scratch = try ArchiveScratchDirectory()
        let evil = scratch.file("evil.tar")
        try PythonTarfile.build(evil, """
        tf = tarfile.open(out, 'w', format=tarfile.PAX_FORMAT)
        info = tarfile.TarInfo('../../etc/passwd'); info.size = 4
        tf.addfile(info, io.BytesIO(b'evil'))
        tf.close()
        """)
        let error = ArchiveFixtures.thrownError {
            _ = try LayerFileCollector.collect(layers: [try FileSource(path: evil)], matching: Self.probe)
        }
        #expect(error?.code == .archive)
        #expect(error?.message.contains("../../etc/passwd") == true)
    }
}

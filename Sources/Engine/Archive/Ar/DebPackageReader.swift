/// Reads a binary package (.deb) in one pass: the format version, then the
/// control archive, then the data archive, each as a decompressed tar stream.
///
/// Layout (deb(5)): an ar archive whose members are, in this order,
/// `debian-binary` ("2.0\n"), `control.tar[.gz|.xz|.zst]` and
/// `data.tar[.gz|.xz|.zst]`. Members whose names start with "_" may sit
/// between them and are skipped; members after data.tar are ignored.
public final class DebPackageReader {
    /// The format version line, "2.0" for every current package.
    public let formatVersion: String

    private enum Stage { case start, control, data }
    private let ar: ArReader
    private var stage = Stage.start

    /// Opens the package and checks its format version.
    public init(_ source: ByteSource) throws {
        ar = try ArReader(source)
        guard let first = try ar.next(), first.name == "debian-binary" else {
            throw EngineError(.archive, "not a Debian binary package: the first ar member is not \"debian-binary\"")
        }
        guard first.size <= 64 else {
            throw EngineError(.archive, "not a Debian binary package: \"debian-binary\" is \(first.size) bytes long")
        }
        let text = String(decoding: try ar.contentSource().readAll(limit: 64), as: UTF8.self)
        let version = String(text.prefix { $0 != "\n" })
        // dpkg-deb accepts any 2.x; the major number is what changes the layout.
        guard text.contains("\n"), version.split(separator: ".").first == "2" else {
            throw EngineError(.archive, "unsupported .deb format version \"\(version)\"; only version 2.x packages can be read")
        }
        formatVersion = version
    }

    /// The control archive (control, md5sums, maintainer scripts, conffiles).
    /// Must be called before `dataArchive()`; the reader is valid until then.
    public func controlArchive() throws -> TarReader {
        guard stage == .start else {
            throw EngineError(.internal, "the control archive of a .deb was requested twice or after its data archive")
        }
        stage = .control
        return try archive(named: "control.tar")
    }

    /// The data archive: the files the package installs. Skips the control
    /// archive if it was not requested.
    public func dataArchive() throws -> TarReader {
        switch stage {
        case .start:
            stage = .control
            _ = try archive(named: "control.tar")
        case .control:
            break
        case .data:
            throw EngineError(.internal, "the data archive of a .deb was requested twice")
        }
        stage = .data
        return try archive(named: "data.tar")
    }

    /// Moves to the member `base` (plus a compression suffix) and returns it
    /// as a tar reader.
    private func archive(named base: String) throws -> TarReader {
        var member = try ar.next()
        while let current = member, current.name.hasPrefix("_") {
            member = try ar.next()
        }
        guard let member else {
            throw EngineError(.archive, "the .deb has no \(base) member; the package is truncated or corrupt")
        }
        guard member.name.hasPrefix(base) else {
            throw EngineError(.archive, "the .deb has member \"\(member.name)\" where \(base) should be")
        }
        let format: CompressionFormat
        switch member.name.dropFirst(base.count) {
        case "": format = .none
        case ".gz": format = .gzip
        case ".xz": format = .xz
        case ".zst": format = .zstd
        default:
            throw EngineError(.archive, "the .deb member \"\(member.name)\" uses a compression that is not supported; gzip, xz and zstd are")
        }
        return TarReader(try decompressingSource(ar.contentSource(), format: format))
    }
}

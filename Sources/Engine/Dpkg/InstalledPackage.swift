/// The `Status` field of dpkg's database: "want flag state" (dpkg-query(1),
/// "Package status"), e.g. `install ok installed`.
public struct PackageStatus: Sendable, Hashable, CustomStringConvertible {
    public enum Want: String, Sendable, CaseIterable {
        case unknown, install, hold, deinstall, purge
    }

    public enum Flag: String, Sendable, CaseIterable {
        case ok, reinstreq
    }

    public enum State: String, Sendable, CaseIterable {
        case notInstalled = "not-installed"
        case configFiles = "config-files"
        case halfInstalled = "half-installed"
        case unpacked
        case halfConfigured = "half-configured"
        case triggersAwaited = "triggers-awaited"
        case triggersPending = "triggers-pending"
        case installed
    }

    public let want: Want
    public let flag: Flag
    public let state: State

    public static let installed = PackageStatus(want: .install, flag: .ok, state: .installed)

    public init(want: Want, flag: Flag, state: State) {
        self.want = want
        self.flag = flag
        self.state = state
    }

    public init(_ field: String) throws {
        let words = field.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count == 3,
              let want = Want(rawValue: String(words[0])),
              let flag = Flag(rawValue: String(words[1])),
              let state = State(rawValue: String(words[2]))
        else {
            throw EngineError(.invalidInput, "'\(field)' is not a dpkg status; expected three words such as 'install ok installed' (dpkg-query(1))")
        }
        self.init(want: want, flag: flag, state: state)
    }

    public var description: String { "\(want.rawValue) \(flag.rawValue) \(state.rawValue)" }
}

/// A package recorded in dpkg's database, with its whole paragraph.
public struct InstalledPackage: Sendable, Hashable {
    public let name: String
    /// The `Architecture` field; empty when the source of the record does not
    /// say (a `dpkg-query` listing without it).
    public let architecture: String
    public let version: DebianVersion
    public let multiArch: MultiArch
    public let status: PackageStatus
    /// The source package name: the `Source` field without its version, or the package name.
    public let source: String
    /// The source version when `Source: name (version)` gives one; else the package version.
    public let sourceVersion: DebianVersion
    public let paragraph: ControlParagraph

    /// Reads a database paragraph. `defaultStatus` applies when the paragraph
    /// has no `Status` field (distroless `status.d` entries are written from
    /// the .deb's control file, which has none).
    public init(paragraph: ControlParagraph, defaultStatus: PackageStatus? = nil) throws {
        guard let name = paragraph["Package"], !name.isEmpty else {
            throw EngineError(.invalidInput, "a dpkg database paragraph has no Package field")
        }
        do {
            guard let versionText = paragraph["Version"] else {
                throw EngineError(.invalidInput, "it has no Version field")
            }
            let statusText = paragraph["Status"]
            guard let status = try statusText.map(PackageStatus.init) ?? defaultStatus else {
                throw EngineError(.invalidInput, "it has no Status field")
            }
            self.name = name
            self.architecture = paragraph["Architecture"] ?? ""
            self.version = try DebianVersion(versionText)
            self.multiArch = try MultiArch(field: paragraph["Multi-Arch"])
            self.status = status
            (self.source, self.sourceVersion) = try Self.parseSource(paragraph["Source"], name: name, version: version)
            self.paragraph = paragraph
        } catch let error as EngineError {
            throw EngineError(error.code, "package '\(name)' in the dpkg database: \(error.message)")
        }
    }

    /// Only a package in state `installed` counts as installed; half-installed,
    /// unpacked or config-files records do not have a usable version on disk.
    public var isInstalled: Bool { status.state == .installed }

    /// `name:arch` for Multi-Arch: same packages, `name` otherwise: how dpkg
    /// names such a package unambiguously (`pkgbin_name(..., pnaw_same)`).
    public var qualifiedName: String {
        multiArch == .same ? "\(name):\(architecture)" : name
    }

    /// The basename of this package's files under `/var/lib/dpkg/info/`
    /// (`<basename>.list`, `.md5sums`, `.postinst`, ...). dpkg's multiarch
    /// database layout (info/format 1) qualifies it exactly as `qualifiedName`.
    public var infoFileBasename: String { qualifiedName }

    /// The package as relationship checks see it.
    public func universePackage() throws -> UniversePackage {
        try UniversePackage(paragraph: paragraph)
    }

    /// `Source: name (version)` (Policy 5.6.1): the version is given when it
    /// differs from the binary's.
    private static func parseSource(_ field: String?, name: String, version: DebianVersion) throws -> (String, DebianVersion) {
        guard let field, !field.isEmpty else { return (name, version) }
        guard let open = field.firstIndex(of: "(") else {
            return (String(field).trimmingDpkgSpace(), version)
        }
        let sourceName = String(field[..<open]).trimmingDpkgSpace()
        guard let close = field.lastIndex(of: ")"), close > open else {
            throw EngineError(.invalidInput, "the Source field '\(field)' has an unclosed '('")
        }
        let inner = String(field[field.index(after: open)..<close])
        return (sourceName, try DebianVersion(inner))
    }
}

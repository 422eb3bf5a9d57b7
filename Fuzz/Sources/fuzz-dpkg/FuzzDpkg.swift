import Engine
import FuzzSupport

/// Debian's text formats: control files (dpkg status, status.d), Packages
/// indexes, InRelease/Release, apt sources (one-line and deb822), os-release.
@main enum Harness {
    static func main() {
        fuzzMain { buffer in
            let text = String(decoding: buffer, as: UTF8.self)
            _ = try? ControlFile.parse(text)
            _ = try? ControlFile.parse(text, syntax: .allowingComments)
            _ = try? PackagesIndex(parsing: text)
            _ = try? ReleaseFile(parsing: text)
            _ = try? AptSource.parseOneLine(text)
            _ = try? AptSource.parseDeb822(text)
            _ = try? OSRelease(parsing: text)
        }
    }
}

import Engine
import FuzzSupport

/// Layer and package streams: gzip/xz/zstd (sniffed), then tar; and the same
/// bytes as an ar archive / .deb. Errors are expected; crashes, hangs and
/// unbounded memory are what is looked for.
@main enum Harness {
    static func main() {
        fuzzMain { buffer in
            let bytes = Array(buffer)
            if let source = try? decompressingSource(MemorySource(bytes)) {
                let tar = TarReader(source)
                var entries = 0
                while entries < 10_000, let header = try? tar.next() {
                    _ = header
                    entries += 1
                }
            }
            if let deb = try? DebPackageReader(MemorySource(bytes)) {
                _ = deb
            }
            if let ar = try? ArReader(MemorySource(bytes)) {
                var members = 0
                while members < 10_000, (try? ar.next()) != nil { members += 1 }
            }
        }
    }
}

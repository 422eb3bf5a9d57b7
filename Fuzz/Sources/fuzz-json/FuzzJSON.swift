import Engine
import FuzzSupport

/// JSON from registries and layouts: the JSON parser itself, OCI/Docker
/// manifests, indexes and image configs.
@main enum Harness {
    static func main() {
        fuzzMain { buffer in
            let bytes = Array(buffer)
            _ = try? JSONValue(parsing: bytes)
            _ = try? ImageManifest(bytes: bytes)
            _ = try? ImageIndex(bytes: bytes)
            _ = try? ImageConfiguration(bytes: bytes)
        }
    }
}

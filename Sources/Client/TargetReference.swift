import CopaCore
import Foundation

/// Works out where the patched image goes, as Copa does: `-t` may be a bare
/// tag (same repository or layout), or a full reference; without `-t` the
/// target is the source's tag plus `-<suffix>`.
enum TargetReference {
    static func resolve(image: String, tag: String?, suffix: String, embedded: Bool) throws -> String {
        let source = try ImageReference(parsing: image)
        let target: ImageReference
        if let tag, isFullReference(tag) {
            target = try ImageReference(parsing: tag)
        } else if let tag {
            target = try source.withTag(tag)
        } else {
            guard !suffix.isEmpty else {
                throw EngineError(.invalidInput, "--tag-suffix must not be empty when no --tag is given")
            }
            target = try source.withTag("\(source.tagName ?? "latest")-\(suffix)")
        }
        let text = target.description
        return embedded ? absolutizeLayout(text) : text
    }

    /// A bare tag has no '/', ':' or '@' (Docker's tag grammar: [\w][\w.-]{0,127}).
    static func isFullReference(_ value: String) -> Bool {
        value.hasPrefix("oci:") || value.contains("/") || value.contains(":") || value.contains("@")
    }

    /// `oci:` paths are resolved by whoever opens them; the embedded agent
    /// shares our file system, so make them absolute here where the user's
    /// working directory is known.
    static func absolutizeLayout(_ reference: String) -> String {
        guard reference.hasPrefix("oci:") else { return reference }
        let rest = String(reference.dropFirst(4))
        guard !rest.hasPrefix("/") else { return reference }
        return "oci:" + FileManager.default.currentDirectoryPath + "/" + rest
    }
}

/// Parses durations the way Copa's `--timeout` takes them: 90s, 5m, 1h, 1h30m, or plain seconds.


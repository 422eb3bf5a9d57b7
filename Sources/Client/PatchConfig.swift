import CopaCore
import Foundation
import Yams

/// Copa's bulk configuration (`copa patch --config FILE`):
///
/// ```yaml
/// apiVersion: copa.sh/v1alpha1
/// kind: PatchConfig
/// target: {registry: ghcr.io/myorg, tag: "{{ .SourceTag }}-patched"}   # optional defaults
/// images:
///   - name: nginx
///     image: docker.io/library/nginx                 # a repository, no tag
///     tags: {strategy: pattern, pattern: '^1\.25\.[0-9]+$', maxTags: 2, exclude: [1.25.1]}
///     platforms: [linux/amd64, linux/arm64]
///     target: {tag: "{{ .SourceTag }}-fixed"}
/// ```
///
/// Tag strategies, as Copa's: `list` (the tags named, as they are),
/// `pattern` (the repository's tags the regular expression finds, unanchored,
/// less `exclude`, stable semantic versions only, the highest `maxTags` of
/// them; 0 = all), `latest` (the highest stable semantic version, less
/// `exclude`). A `target.registry` puts the image's last path segment under
/// it; an image's own target fields override the top-level ones.
struct PatchConfig: Sendable {
    struct Target: Sendable, Equatable {
        var registry: String?
        var tag: String?
    }

    enum Strategy: String, Sendable {
        case list, pattern, latest
    }

    struct Tags: Sendable {
        var strategy: Strategy
        var list: [String] = []
        var pattern: String?
        var maxTags = 0
        var exclude: [String] = []
    }

    struct Image: Sendable {
        var name: String
        /// The repository (registry/path), without tag or digest.
        var repository: String
        var tags: Tags
        var target: Target
        var platforms: [Platform]
    }

    var target: Target
    var images: [Image]

    struct ConfigError: Error, CustomStringConvertible {
        let description: String
    }

    static let defaultTagTemplate = "{{ .SourceTag }}-patched"

    static func load(path: String) throws -> PatchConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(description: "cannot read the patch config \(path): \(error.localizedDescription)")
        }
        return try parse(text, source: path)
    }

    static func parse(_ text: String, source: String) throws -> PatchConfig {
        let fail = { (why: String) in ConfigError(description: "the patch config \(source): \(why)") }
        let document: Yams.Node?
        do {
            document = try Yams.compose(yaml: text)
        } catch {
            throw fail("not YAML: \(error)")
        }
        guard case .mapping(let top)? = document else { throw fail("expected a mapping with apiVersion, kind and images") }
        let known: Set<String> = ["apiVersion", "kind", "target", "images"]
        for key in top.keys where !known.contains(key.string ?? "") {
            throw fail("unknown key '\(key.string ?? "?")' (apiVersion, kind, target, images)")
        }
        guard top["apiVersion"]?.string == "copa.sh/v1alpha1" else {
            throw fail("apiVersion must be copa.sh/v1alpha1, not '\(top["apiVersion"]?.string ?? "")'")
        }
        guard top["kind"]?.string == "PatchConfig" else {
            throw fail("kind must be PatchConfig, not '\(top["kind"]?.string ?? "")'")
        }
        let target = try Self.target(top["target"], at: "target", fail: fail)
        guard case .sequence(let list)? = top["images"], !list.isEmpty else { throw fail("images must be a non-empty list") }
        var images: [Image] = []
        for (position, node) in list.enumerated() {
            images.append(try Self.image(node, at: "images[\(position)]", fail: fail))
        }
        return PatchConfig(target: target, images: images)
    }

    private static func target(_ node: Yams.Node?, at: String, fail: (String) -> ConfigError) throws -> Target {
        guard let node else { return Target() }
        guard case .mapping(let mapping) = node else { throw fail("\(at) must be a mapping (registry, tag)") }
        var target = Target()
        for (key, value) in mapping {
            switch key.string {
            case "registry":
                guard let registry = value.string, !registry.isEmpty, !registry.contains(":/"), !registry.contains("@") else {
                    throw fail("\(at).registry must be a registry host with an optional path, e.g. ghcr.io/myorg")
                }
                target.registry = registry.hasSuffix("/") ? String(registry.dropLast()) : registry
            case "tag":
                guard let tag = value.string, !tag.isEmpty else { throw fail("\(at).tag must be a tag template") }
                _ = try render(tag, sourceTag: "1.0", at: "\(at).tag", fail: fail)
                target.tag = tag
            default:
                throw fail("\(at) has an unknown key '\(key.string ?? "?")' (registry, tag)")
            }
        }
        return target
    }

    private static func image(_ node: Yams.Node, at: String, fail: (String) -> ConfigError) throws -> Image {
        guard case .mapping(let mapping) = node else { throw fail("\(at) must be a mapping") }
        let known: Set<String> = ["name", "image", "tags", "target", "platforms"]
        for key in mapping.keys where !known.contains(key.string ?? "") {
            throw fail("\(at) has an unknown key '\(key.string ?? "?")' (name, image, tags, target, platforms)")
        }
        guard let repository = mapping["image"]?.string, !repository.isEmpty else { throw fail("\(at).image is missing") }
        guard case .registry(let reference)? = try? ImageReference(parsing: repository + ":probe"),
              reference.tag == "probe", !repository.contains("@") else {
            throw fail("\(at).image must be a repository without a tag or digest (e.g. docker.io/library/nginx), not '\(repository)'")
        }
        guard case .mapping(let tagNode)? = mapping["tags"] else { throw fail("\(at).tags is missing (strategy: list, pattern or latest)") }
        var tags: Tags
        let strategyName = tagNode["strategy"]?.string ?? ""
        guard let strategy = Strategy(rawValue: strategyName) else {
            throw fail("\(at).tags.strategy '\(strategyName)' is unknown: list, pattern or latest")
        }
        tags = Tags(strategy: strategy)
        for (key, value) in tagNode {
            switch key.string {
            case "strategy": break
            case "list": tags.list = try strings(value, at: "\(at).tags.list", fail: fail)
            case "exclude": tags.exclude = try strings(value, at: "\(at).tags.exclude", fail: fail)
            case "pattern": tags.pattern = value.string
            case "maxTags":
                guard let count = value.int, count >= 0 else { throw fail("\(at).tags.maxTags must be 0 or more") }
                tags.maxTags = count
            default:
                throw fail("\(at).tags has an unknown key '\(key.string ?? "?")' (strategy, list, pattern, maxTags, exclude)")
            }
        }
        switch strategy {
        case .list where tags.list.isEmpty:
            throw fail("\(at).tags: strategy list needs a non-empty list of tags")
        case .pattern:
            guard let pattern = tags.pattern, !pattern.isEmpty else { throw fail("\(at).tags: strategy pattern needs a pattern") }
            do {
                _ = try NSRegularExpression(pattern: pattern)
            } catch {
                throw fail("\(at).tags.pattern '\(pattern)' is not a regular expression")
            }
        default: break
        }
        let platforms = try mapping["platforms"].map { try strings($0, at: "\(at).platforms", fail: fail) } ?? []
        let parsed = try platforms.map { text in
            do { return try Platform(parsing: text) } catch { throw fail("\(at).platforms: \(error)") }
        }
        return Image(name: mapping["name"]?.string ?? repository, repository: repository, tags: tags,
                     target: try target(mapping["target"], at: "\(at).target", fail: fail), platforms: parsed)
    }

    private static func strings(_ node: Yams.Node, at: String, fail: (String) -> ConfigError) throws -> [String] {
        guard case .sequence(let items) = node else { throw fail("\(at) must be a list") }
        return try items.map { item in
            guard let text = item.string, !text.isEmpty else { throw fail("\(at) holds something that is not a string") }
            return text
        }
    }

    /// The target tag: the template with `{{ .SourceTag }}` filled in (the
    /// only variable, as in Copa).
    static func render(_ template: String, sourceTag: String, at: String = "target.tag",
                       fail: (String) -> ConfigError = { ConfigError(description: $0) }) throws -> String {
        var result = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else { throw fail("\(at) '\(template)' has a '{{' that is not closed") }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard name == ".SourceTag" else { throw fail("\(at) '\(template)' names \(name); the only variable is .SourceTag") }
            result += sourceTag
            rest = rest[close.upperBound...]
        }
        result += rest
        guard (try? RegistryReference.validatedTag(result)) != nil else {
            throw fail("\(at) '\(template)' makes '\(result)', which is not a tag")
        }
        return result
    }

    /// The tags a strategy picks from the repository's `available` tags
    /// (unused for `list`).
    static func select(_ tags: Tags, from available: [String]) -> [String] {
        switch tags.strategy {
        case .list:
            return tags.list
        case .pattern:
            guard let pattern = tags.pattern, let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
            let matching = available.filter { tag in
                regex.firstMatch(in: tag, range: NSRange(tag.startIndex..., in: tag)) != nil && !tags.exclude.contains(tag)
            }
            let ordered = Self.stableVersions(matching)
            return tags.maxTags > 0 ? Array(ordered.suffix(tags.maxTags)) : ordered
        case .latest:
            return Self.stableVersions(available.filter { !tags.exclude.contains($0) }).last.map { [$0] } ?? []
        }
    }

    /// Tags that are stable semantic versions (`1`, `1.2`, `v1.2.3`; no
    /// `-suffix`), oldest first; the rest are left out.
    static func stableVersions(_ tags: [String]) -> [String] {
        let parsed: [(tag: String, parts: [Int], build: Bool)] = tags.compactMap { tag in
            var text = Substring(tag)
            if text.hasPrefix("v") { text = text.dropFirst() }
            var build = false
            if let plus = text.firstIndex(of: "+") {
                text = text[..<plus]
                build = true
            }
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard (1...3).contains(parts.count),
                  parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return nil }
            let numbers = parts.compactMap { Int($0) }
            guard numbers.count == parts.count else { return nil }
            return (tag, numbers + Array(repeating: 0, count: 3 - numbers.count), build)
        }
        return parsed.sorted { left, right in
            left.parts != right.parts ? left.parts.lexicographicallyPrecedes(right.parts) : left.tag < right.tag
        }.map(\.tag)
    }

    /// Where an image's patched tags go: the target registry (with the
    /// image's last path segment) or the image's own repository.
    static func targetRepository(_ image: Image, registry: String?) -> String {
        guard let registry else { return image.repository }
        let name = image.repository.split(separator: "/").last.map(String.init) ?? image.repository
        return registry + "/" + name
    }
}

@testable import Client
import Engine
import Foundation
import Testing

/// Copa's bulk PatchConfig: parsing, tag strategies and targets.
@Suite struct PatchConfigTests {
    static let example = """
        apiVersion: copa.sh/v1alpha1
        kind: PatchConfig
        target:
          tag: "{{ .SourceTag }}-fixed"
        images:
          - name: nginx
            image: docker.io/library/nginx
            tags: {strategy: pattern, pattern: '^1\\.25\\.[0-9]+$', maxTags: 2, exclude: [1.25.1]}
            platforms: [linux/amd64, linux/arm64]
          - name: alpine
            image: docker.io/library/alpine
            tags: {strategy: latest}
            target: {registry: ghcr.io/myorg/, tag: "{{.SourceTag}}-p"}
          - image: registry.example:5000/team/app
            tags: {strategy: list, list: ["1.0", "1.1"]}
        """

    @Test func parsesCopasSchema() throws {
        let config = try PatchConfig.parse(Self.example, source: "t.yaml")
        #expect(config.target == PatchConfig.Target(registry: nil, tag: "{{ .SourceTag }}-fixed"))
        #expect(config.images.map(\.name) == ["nginx", "alpine", "registry.example:5000/team/app"])
        #expect(config.images[0].tags.maxTags == 2 && config.images[0].tags.exclude == ["1.25.1"])
        #expect(config.images[0].platforms.map(\.description) == ["linux/amd64", "linux/arm64"])
        #expect(config.images[1].target.registry == "ghcr.io/myorg")
        #expect(PatchConfig.targetRepository(config.images[1], registry: "ghcr.io/myorg") == "ghcr.io/myorg/alpine")
        #expect(PatchConfig.targetRepository(config.images[2], registry: nil) == "registry.example:5000/team/app")
        #expect(try PatchConfig.render("{{ .SourceTag }}-fixed", sourceTag: "1.25.3") == "1.25.3-fixed")
        #expect(try PatchConfig.render("{{.SourceTag}}-p", sourceTag: "3.19") == "3.19-p")
        #expect(try PatchConfig.render(PatchConfig.defaultTagTemplate, sourceTag: "12") == "12-patched")
    }

    @Test func strategiesPickAsCopaDoes() {
        let available = ["1.25.0", "1.25.1", "1.25.2", "1.25.10", "1.25.3-alpine", "1.24.9", "latest", "1.25", "v1.26.0", "1.26.0-rc1"]
        let pattern = PatchConfig.Tags(strategy: .pattern, pattern: "^1\\.25\\.[0-9]+$", maxTags: 2, exclude: ["1.25.1"])
        // Semantic order, not text order: 1.25.10 is the highest.
        #expect(PatchConfig.select(pattern, from: available) == ["1.25.2", "1.25.10"])
        let unanchored = PatchConfig.Tags(strategy: .pattern, pattern: "25", maxTags: 0)
        #expect(PatchConfig.select(unanchored, from: available) == ["1.25", "1.25.0", "1.25.1", "1.25.2", "1.25.10"])
        #expect(PatchConfig.select(PatchConfig.Tags(strategy: .latest), from: available) == ["v1.26.0"])
        #expect(PatchConfig.select(PatchConfig.Tags(strategy: .latest, exclude: ["v1.26.0"]), from: available) == ["1.25.10"])
        #expect(PatchConfig.select(PatchConfig.Tags(strategy: .latest), from: ["latest", "stable"]).isEmpty)
        #expect(PatchConfig.select(PatchConfig.Tags(strategy: .list, list: ["9.9"]), from: available) == ["9.9"])
    }

    @Test func badConfigsAreClearErrors() {
        let header = "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\n"
        let cases: [(String, String)] = [
            ("apiVersion: copa.sh/v1\nkind: PatchConfig\nimages: []\n", "apiVersion must be copa.sh/v1alpha1"),
            ("apiVersion: copa.sh/v1alpha1\nkind: Patch\nimages: []\n", "kind must be PatchConfig"),
            (header + "images: []\n", "images must be a non-empty list"),
            (header + "images:\n  - image: a/b\n    tags: {strategy: newest}\n", "strategy 'newest' is unknown"),
            (header + "images:\n  - image: a/b\n    tags: {strategy: list}\n", "strategy list needs a non-empty list"),
            (header + "images:\n  - image: a/b\n    tags: {strategy: pattern}\n", "strategy pattern needs a pattern"),
            (header + "images:\n  - image: a/b\n    tags: {strategy: pattern, pattern: '(['}\n", "is not a regular expression"),
            (header + "images:\n  - image: a/b:1.0\n    tags: {strategy: latest}\n", "must be a repository without a tag"),
            (header + "images:\n  - tags: {strategy: latest}\n", "images[0].image is missing"),
            (header + "images:\n  - image: a/b\n", "images[0].tags is missing"),
            (header + "images:\n  - image: a/b\n    tag: {strategy: latest}\n", "unknown key 'tag'"),
            (header + "images:\n  - image: a/b\n    tags: {strategy: latest}\n    target: {tag: '{{ .Tag }}'}\n", "the only variable is .SourceTag"),
            (header + "images:\n  - image: a/b\n    tags: {strategy: latest}\n    platforms: [linux]\n", "is not a platform"),
            (header + "extra: 1\nimages: []\n", "unknown key 'extra'"),
        ]
        for (text, message) in cases {
            let outcome = Result { try PatchConfig.parse(text, source: "t.yaml") }
            #expect("\(outcome)".contains(message), "\(text) → \(outcome)")
        }
    }
}

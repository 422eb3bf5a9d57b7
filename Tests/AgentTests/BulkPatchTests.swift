import Foundation
import Testing

/// `copa patch --config`: three repositories of the loopback registry, tags
/// picked by each strategy, every image from its report (by ArtifactName),
/// read back with skopeo.
@Suite struct BulkPatchTests {
    @Test func aConfigPatchesEveryTagItPicksAndSummarises() async throws {
        let registry = try TestEnvironment.registry
        let base = "\(registry)/bulk-\(UInt32.random(in: 0 ... .max))"
        let pushed = ["a": ["1.0", "1.1"], "b": ["2.0", "2.1", "2.2", "latest"], "c": ["3.0", "3.1", "3.2-rc1"]]
        let reports = try TestEnvironment.temporaryDirectory()
        let fixture = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try TestEnvironment.fixtures + "/images/trivy-debian.json"))) as? [String: Any] ?? [:]
        for (repository, tags) in pushed {
            for tag in tags {
                try run("/usr/bin/skopeo", ["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                                            "docker://\(registry)/fixture/debian:1.0", "docker://\(base)/\(repository):\(tag)"]).check()
                var report = fixture
                report["ArtifactName"] = "\(base)/\(repository):\(tag)"
                try JSONSerialization.data(withJSONObject: report).write(to: URL(fileURLWithPath: "\(reports)/\(repository)-\(tag).json"))
            }
        }
        let config = try TestEnvironment.temporaryDirectory() + "/patch.yaml"
        try """
            apiVersion: copa.sh/v1alpha1
            kind: PatchConfig
            target:
              tag: "{{ .SourceTag }}-fixed"
            images:
              - name: a
                image: \(base)/a
                tags: {strategy: list, list: ["1.0", "1.1"]}
              - name: b
                image: \(base)/b
                tags: {strategy: pattern, pattern: '^2\\.[0-9]+$', exclude: ["2.0"], maxTags: 2}
              - name: c
                image: \(base)/c
                tags: {strategy: latest}
                target: {tag: "{{ .SourceTag }}-c"}
              - name: d
                image: \(base)/a
                tags: {strategy: list, list: ["9.9"]}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let summary = try TestEnvironment.temporaryDirectory() + "/summary.json"
        let workdir = try TestEnvironment.temporaryDirectory()
        let result = try await AgentFleetTests.copa(["patch", "--config", config, "-r", reports, "--summary", summary,
                                                     "--workdir", workdir, "--max-parallel", "2"])
        // d has no report: it fails, the others do not stop.
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("no report in \(reports) names \(base)/a:9.9"), "\(result.stderr)")
        for target in ["a:1.0-fixed", "a:1.1-fixed", "b:2.1-fixed", "b:2.2-fixed", "c:3.1-c"] {
            let layers = try skopeoLayers("docker://\(base)/\(target)")
            #expect(layers.count == 3, "\(target): the two original layers and the patch layer")
        }
        for absent in ["b:2.0-fixed", "b:latest-fixed", "c:3.2-rc1-c", "c:3.0-c", "a:9.9-fixed"] {
            #expect(try run("/usr/bin/skopeo", ["inspect", "--tls-verify=false", "docker://\(base)/\(absent)"]).status != 0, "\(absent)")
        }
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any]
        #expect(document?["succeeded"] as? Int == 5)
        #expect(document?["failed"] as? Int == 1)
        let jobs = document?["jobs"] as? [[String: Any]] ?? []
        #expect(jobs.filter { $0["outcome"] as? String == "succeeded" }.count == 5)
        #expect(jobs.allSatisfy { ($0["outcome"] as? String == "succeeded") == !(($0["digest"] as? String) ?? "").isEmpty })
        // The table: a header and one row per job.
        #expect(result.stdout.contains("IMAGE") && result.stdout.contains("OUTCOME") && result.stdout.contains("\(base)/c:3.1"),
                "\(result.stdout)")
        // The same image under each tag: the same patch layer (the configs
        // differ only in the BaseImage label naming each source).
        #expect(try skopeoLayers("docker://\(base)/a:1.0-fixed").last == skopeoLayers("docker://\(base)/b:2.2-fixed").last)
    }

    @Test func aBadConfigIsAnErrorBeforeAnyWork() async throws {
        let config = try TestEnvironment.temporaryDirectory() + "/patch.yaml"
        try "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: x/y\n    tags: {strategy: sometimes}\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await AgentFleetTests.copa(["patch", "--config", config, "-r", try TestEnvironment.temporaryDirectory()])
        #expect(result.status == 3)
        #expect(result.stderr.contains("strategy 'sometimes' is unknown"), "\(result.stderr)")
        let both = try await AgentFleetTests.copa(["patch", "--config", config, "-i", "x/y:1", "-r", "r.json"])
        #expect(both.status != 0)
        #expect(both.stderr.contains("cannot be used with -i"), "\(both.stderr)")
    }
}

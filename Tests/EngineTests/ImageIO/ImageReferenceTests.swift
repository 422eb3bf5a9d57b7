import Testing
@testable import Engine

@Suite struct ImageReferenceTests {
    private func registry(_ text: String) throws -> RegistryReference {
        guard case .registry(let reference) = try ImageReference(parsing: text) else {
            Issue.record("'\(text)' did not parse as a registry reference")
            throw EngineError(.internal, "wrong case")
        }
        return reference
    }

    @Test func normalizesDockerHub() throws {
        let debian = try registry("debian")
        #expect(debian.registry == "docker.io")
        #expect(debian.repository == "library/debian")
        #expect(debian.tag == "latest")
        #expect(debian.digest == nil)
        #expect(debian.description == "docker.io/library/debian:latest")
        #expect(try registry("bitnami/redis:7").repository == "bitnami/redis")
        #expect(try registry("index.docker.io/library/ubuntu:22.04").registry == "docker.io")
        #expect(try registry("docker://ubuntu:22.04").description == "docker.io/library/ubuntu:22.04")
    }

    @Test func parsesHostsPortsTagsAndDigests() throws {
        let hex = String(repeating: "1", count: 64)
        let local = try registry("127.0.0.1:5055/team/app:v1.2-rc_3")
        #expect(local.registry == "127.0.0.1:5055")
        #expect(local.repository == "team/app")
        #expect(local.tag == "v1.2-rc_3")
        #expect(local.manifestReference == "v1.2-rc_3")

        let pinned = try registry("ghcr.io/org/tool@sha256:\(hex)")
        #expect(pinned.registry == "ghcr.io")
        #expect(pinned.tag == nil)
        #expect(pinned.manifestReference == "sha256:\(hex)")

        let both = try registry("localhost:5000/app:1@sha256:\(hex)")
        #expect(both.registry == "localhost:5000")
        #expect(both.tag == "1")
        #expect(both.digest?.encoded == hex)
        #expect(try registry("localhost/app").registry == "localhost")
        #expect(try registry("[::1]:5000/app:x").registry == "[::1]:5000")
        // A port-like suffix after the last slash is a tag, not a port.
        #expect(try registry("example.com:443/a/b:c").tag == "c")
    }

    @Test(arguments: [
        "", "upper/Case", "repo:", "repo:-bad", "a//b", "repo@sha256:12",
        "host:port:x/repo", "-lead", "a..b", "a/b:" + String(repeating: "t", count: 129),
        "exa_mple.com/repo", "oci:", "oci::tag",
    ])
    func rejectsInvalidReferences(_ text: String) {
        #expect(throws: EngineError.self) { try ImageReference(parsing: text) }
    }

    @Test func parsesOCILayoutForm() throws {
        #expect(try ImageReference(parsing: "oci:/tmp/layout:v1") == .layout(path: "/tmp/layout", tag: "v1"))
        #expect(try ImageReference(parsing: "oci:relative/dir") == .layout(path: "relative/dir", tag: nil))
        #expect(try ImageReference(parsing: "oci:/tmp/layout:") == .layout(path: "/tmp/layout", tag: nil))
        #expect(try ImageReference(parsing: "oci:/tmp/layout:v1").description == "oci:/tmp/layout:v1")
    }

    @Test func withTagReplacesTagAndDropsDigest() throws {
        let hex = String(repeating: "2", count: 64)
        let retagged = try ImageReference(parsing: "registry.example/app:1@sha256:\(hex)").withTag("1-patched")
        #expect(retagged.description == "registry.example/app:1-patched")
        #expect(try ImageReference(parsing: "oci:/x:a").withTag("b") == .layout(path: "/x", tag: "b"))
        #expect(throws: EngineError.self) { try ImageReference(parsing: "app").withTag("bad tag") }
    }
}

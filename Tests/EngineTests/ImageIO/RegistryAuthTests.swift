import Foundation
import Testing
@testable import Engine

@Suite struct RegistryAuthTests {
    typealias Support = ImageIOTestSupport

    @Test func parsesBearerChallenges() throws {
        let challenge = try AuthChallenge(parsing:
            #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull,push repository:a/b:pull""#)
        #expect(challenge.scheme == "bearer")
        #expect(challenge.realm == "https://auth.docker.io/token")
        #expect(challenge.service == "registry.docker.io")
        #expect(challenge.scopes == ["repository:library/debian:pull,push", "repository:a/b:pull"])

        let spaced = try AuthChallenge(parsing: #"Bearer  realm = "http://127.0.0.1/t?x=1", error="insufficient_scope", service=reg"#)
        #expect(spaced.realm == "http://127.0.0.1/t?x=1")
        #expect(spaced.service == "reg")
        #expect(spaced.parameters["error"] == "insufficient_scope")

        let basic = try AuthChallenge(parsing: #"Basic realm="a \"quoted\" realm""#)
        #expect(basic.scheme == "basic")
        #expect(basic.realm == #"a "quoted" realm"#)

        #expect(throws: EngineError.self) { try AuthChallenge(parsing: "") }
        #expect(throws: EngineError.self) { try AuthChallenge(parsing: #"Bearer realm="unterminated"#) }
        #expect(throws: EngineError.self) { try AuthChallenge(parsing: "Bearer realm") }
    }

    @Test func readsDockerConfigCredentials() throws {
        let directory = try Support.temporaryDirectory("docker-config")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let json = """
        {"auths":{
          "https://index.docker.io/v1/":{"auth":"\(Data("hubuser:hub:pass".utf8).base64EncodedString())"},
          "127.0.0.1:5055":{"username":"local","password":"pw"},
          "https://helper.example":{}
        },
         "credHelpers":{"gcr.io":"gcloud"},
         "credsStore":"desktop"}
        """
        try Data(json.utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        let config = try DockerConfig.load(environment: ["DOCKER_CONFIG": directory])
        #expect(try config.credentials(for: "docker.io") == RegistryCredentials(username: "hubuser", password: "hub:pass"))
        #expect(try config.credentials(for: "127.0.0.1:5055") == RegistryCredentials(username: "local", password: "pw"))
        #expect(try config.credentials(for: "quay.io") == nil)
        do {
            _ = try config.credentials(for: "gcr.io")
            Issue.record("a credential-helper registry returned credentials")
        } catch let error as EngineError {
            #expect(error.message.contains("credential helper"))
        }
        #expect(throws: EngineError.self) { try config.credentials(for: "helper.example") }

        let home = try Support.temporaryDirectory("home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        #expect(try DockerConfig.load(environment: ["HOME": home]).credentials(for: "docker.io") == nil)
        try FileManager.default.createDirectory(atPath: home + "/.docker", withIntermediateDirectories: true)
        try Data(#"{"auths":{"r.example":{"auth":"bm90LWEtcGFpcg=="}}}"#.utf8).write(to: URL(fileURLWithPath: home + "/.docker/config.json"))
        #expect(throws: EngineError.self) { try DockerConfig.load(environment: ["HOME": home]).credentials(for: "r.example") }
    }

    /// A registry of our own with htpasswd (Basic) auth: anonymous pulls are
    /// refused with a clear error; with credentials from a docker config the
    /// client pushes and pulls, and skopeo (given the same credentials) agrees.
    @Test func basicAuthRegistry() async throws {
        let server = try AuthRegistry.start()
        defer { server.stop() }
        let registry = server.address
        let layoutRoot = try Support.temporaryDirectory("basic")
        defer { try? FileManager.default.removeItem(atPath: layoutRoot) }
        let layout = layoutRoot + "/image"
        try Support.makeUmociImage(layout: layout, tag: "v1", files: ["etc/secret": "behind basic auth\n"])
        let source = LayoutImageSource(layout: try OCILayout.open(at: layout), tag: "v1")
        let image = try await source.resolve(platform: .host)

        let configDirectory = try Support.temporaryDirectory("basic-config")
        defer { try? FileManager.default.removeItem(atPath: configDirectory) }
        let auth = Data("\(AuthRegistry.user):\(AuthRegistry.password)".utf8).base64EncodedString()
        try Data(#"{"auths":{"\#(registry)":{"auth":"\#(auth)"}}}"#.utf8).write(to: URL(fileURLWithPath: configDirectory + "/config.json"))
        let credentials = try DockerConfig.load(environment: ["DOCKER_CONFIG": configDirectory])
        let client = RegistryClient(configuration: .init(credentials: credentials))
        let repository = RegistryRepository(registry: registry, name: "imageio/basic")
        let destination = RegistryImageDestination(client: client, repository: repository)
        try await copyMissingBlobs(from: source, to: destination, descriptors: image.layers + [image.manifest.config])
        let pushed = try await destination.putManifest(image.manifestBytes, mediaType: .ociManifest, tag: "v1")

        let raw = try Support.skopeo(["inspect", "--raw", "--tls-verify=false",
                                      "--creds", "\(AuthRegistry.user):\(AuthRegistry.password)", "docker://\(repository):v1"])
        #expect(Digest.sha256(Array(raw)) == pushed.digest)
        let pulled = try await RegistryImageSource(client: client, reference: try RegistryReference(parsing: "\(repository):v1"))
            .resolve(platform: .host)
        #expect(pulled.descriptor.digest == pushed.digest)

        do {
            _ = try await RegistryImageSource(client: RegistryClient(), reference: try RegistryReference(parsing: "\(repository):v1"))
                .resolve(platform: .host)
            Issue.record("an anonymous pull from a registry requiring a login succeeded")
        } catch let error as EngineError {
            #expect(error.code == .registry)
            #expect(error.message.contains("requires a login"))
        }
        let wrong = RegistryClient(configuration: .init(credentials: StaticCredentials([registry: .init(username: AuthRegistry.user, password: "wrong")])))
        await #expect(throws: EngineError.self) {
            _ = try await RegistryImageSource(client: wrong, reference: try RegistryReference(parsing: "\(repository):v1")).resolve(platform: .host)
        }
    }
}

/// A docker-registry process with htpasswd auth on a loopback port, started
/// and stopped by the test itself.
struct AuthRegistry {
    static let user = "copa-user"
    static let password = "s3cret-pass"
    /// bcrypt (cost 5) of `password`; docker-registry's htpasswd accepts only bcrypt.
    static let htpasswd = "copa-user:$2b$05$iK2NchClpMH5ZCUUCqLxCu4C1tZXoH.XcbmE9O04jwjAOVHFaYJ1O\n"

    let process: Process
    let address: String
    /// Config, htpasswd and storage; removed by `stop()`.
    let directory: String

    /// Starts a registry whose `auth:` section is `auth` (YAML, indented two
    /// spaces); by default htpasswd auth with `user`/`password`.
    static func start(auth: String? = nil) throws -> AuthRegistry {
        let directory = try ImageIOTestSupport.temporaryDirectory("auth-registry")
        try Data(htpasswd.utf8).write(to: URL(fileURLWithPath: directory + "/htpasswd"))
        let authSection = auth ?? """
              htpasswd:
                realm: copa-test
                path: \(directory)/htpasswd
            """
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...40_000)
            let config = """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(directory)/storage
            http:
              addr: 127.0.0.1:\(port)
            auth:
            \(authSection)
            """
            try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/config.yml"))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
            process.arguments = ["serve", directory + "/config.yml"]
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            if waitUntilListening(port: port, process: process) {
                return AuthRegistry(process: process, address: "127.0.0.1:\(port)", directory: directory)
            }
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw ImageIOTestSupport.ToolFailure(description: "could not start docker-registry with htpasswd auth on a loopback port")
    }

    private static func waitUntilListening(port: Int, process: Process) -> Bool {
        for _ in 0..<100 where process.isRunning {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected == 0 { return true }
            usleep(100_000)
        }
        return false
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

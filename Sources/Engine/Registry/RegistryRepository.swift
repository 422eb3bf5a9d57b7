/// A repository in a registry: the `<name>` of distribution-spec's
/// `/v2/<name>/...` endpoints, on one registry host.
public struct RegistryRepository: Sendable, Hashable, CustomStringConvertible {
    public let registry: String
    public let name: String

    public init(registry: String, name: String) {
        self.registry = registry
        self.name = name
    }

    public var description: String { "\(registry)/\(name)" }

    /// Token scopes (distribution "Token Scope Documentation"): `repository:<name>:<actions>`.
    var pullScope: String { "repository:\(name):pull" }
    var pushScope: String { "repository:\(name):pull,push" }
}

extension RegistryReference {
    public var repositoryLocation: RegistryRepository {
        RegistryRepository(registry: registry, name: repository)
    }
}

/// The engine's model of what to patch: the compact form of a scanner report.
/// Report formats (Trivy, Copa's v1alpha1/v1alpha2 JSON) and the protobuf wire
/// message are converted to and from this type; none of them leaks into the engine.
public struct UpdateManifest: Sendable, Hashable {
    public struct OS: Sendable, Hashable {
        /// Lower-case family as scanners name it: "debian", "ubuntu", "alpine", ...
        public var family: String
        /// Release as the report gives it: "12.5", "22.04", "3.14.0".
        public var version: String
        public init(family: String, version: String) {
            self.family = family
            self.version = version
        }
    }

    public struct Update: Sendable, Hashable {
        public var name: String
        public var installedVersion: String
        public var fixedVersion: String
        /// Vulnerability identifiers this update fixes, sorted, without duplicates.
        public var vulnerabilityIDs: [String]
        public init(name: String, installedVersion: String, fixedVersion: String, vulnerabilityIDs: [String]) {
            self.name = name
            self.installedVersion = installedVersion
            self.fixedVersion = fixedVersion
            self.vulnerabilityIDs = vulnerabilityIDs
        }
    }

    public var os: OS
    /// Architecture as the report gives it ("amd64", "arm64"), empty when unknown.
    public var architecture: String
    /// One entry per package, sorted by name.
    public var updates: [Update]
    public init(os: OS, architecture: String, updates: [Update]) {
        self.os = os
        self.architecture = architecture
        self.updates = updates
    }
}

/// The Debian port name for an OCI platform (dpkg-architecture(1) names vs
/// the OCI image-index platform values, which follow Go's GOARCH).
struct DebianArchitectureName: Sendable, Hashable {
    let name: String
    /// The GNU triplet directory Multi-Arch: same libraries install into.
    let multiarchTriplet: String

    init(_ platform: Platform) throws {
        guard platform.os == "linux" else {
            throw EngineError(.unsupportedOS, "only linux images are patched, not \(platform.os)")
        }
        switch (platform.architecture, platform.variant ?? "") {
        case ("amd64", _): (name, multiarchTriplet) = ("amd64", "x86_64-linux-gnu")
        case ("arm64", _): (name, multiarchTriplet) = ("arm64", "aarch64-linux-gnu")
        case ("arm", "v7"), ("arm", ""): (name, multiarchTriplet) = ("armhf", "arm-linux-gnueabihf")
        case ("arm", "v6"), ("arm", "v5"): (name, multiarchTriplet) = ("armel", "arm-linux-gnueabi")
        case ("386", _): (name, multiarchTriplet) = ("i386", "i386-linux-gnu")
        case ("ppc64le", _): (name, multiarchTriplet) = ("ppc64el", "powerpc64le-linux-gnu")
        case ("s390x", _): (name, multiarchTriplet) = ("s390x", "s390x-linux-gnu")
        case ("riscv64", _): (name, multiarchTriplet) = ("riscv64", "riscv64-linux-gnu")
        default:
            throw EngineError(.invalidInput, "no Debian architecture corresponds to platform \(platform)")
        }
    }
}

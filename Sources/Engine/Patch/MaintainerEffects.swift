/// What maintainer scripts and triggers would have done when apt installed a
/// package, and the embedded executor did not do (it never runs code from the
/// image). Kept as data: the result lists these per package, and a later step
/// (the BuildKit executor, or a post-processing pass) can act on the same list.
public struct MaintainerEffect: Sendable, Hashable {
    /// Stable identifier carried in `Warning.kind`.
    public var kind: String
    /// What the user will notice, in their words.
    public var message: String
}

enum MaintainerEffects {
    /// Effects known by package name: the ones users care about most.
    static let byPackage: [String: MaintainerEffect] = [
        "ca-certificates-java": MaintainerEffect(
            kind: "maintainer-script-not-run",
            message: "the Java trust store (/etc/ssl/certs/java/cacerts) is not regenerated"),
        "tzdata": MaintainerEffect(
            kind: "maintainer-script-not-run",
            message: "tzdata's postinst was not run: /etc/localtime and /etc/timezone are left as they were"),
        "libc-bin": MaintainerEffect(
            kind: "trigger-not-run",
            message: "ldconfig was not run: /etc/ld.so.cache is not rebuilt"),
        "dbus": MaintainerEffect(
            kind: "maintainer-script-not-run",
            message: "dbus's postinst was not run: system users and the machine-id are not created"),
    ]

    /// Triggers (dpkg-triggers(5)) by name, as named in a package's `triggers`
    /// control file or activated by the files it ships.
    static let byTrigger: [String: MaintainerEffect] = [
        "ldconfig": MaintainerEffect(
            kind: "trigger-not-run",
            message: "the ldconfig trigger was not run: /etc/ld.so.cache is not rebuilt (new libraries are still found through the default paths)"),
        "/usr/share/man": MaintainerEffect(
            kind: "trigger-not-run",
            message: "man-db's index was not updated"),
    ]

    /// Packages whose maintainer scripts' effects are reproduced as data
    /// (`MaintainerEffectWriter`): no warning for their scripts.
    static let reproduced: Set<String> = ["ca-certificates"]

    /// Triggers whose effect is reproduced.
    static let reproducedTriggers: Set<String> = ["update-ca-certificates", "update-ca-certificates-fresh"]

    /// Paths whose final state the reproduced effects read: the probe keeps
    /// their contents and the layer writer records what it writes there.
    static func reads(_ path: String) -> Bool {
        if path == CACertificatesUpdate.configuration || path == debconfDatabase { return true }
        if path == LDConfigUpdate.cache || path == LDConfigUpdate.configuration { return true }
        for directory in [CACertificatesUpdate.directory, CACertificatesUpdate.certificates,
                          CACertificatesUpdate.localCertificates, CACertificatesUpdate.hooks,
                          LDConfigUpdate.configurationDirectory]
        where path == directory + "/" || path.hasPrefix(directory + "/") {
            return true
        }
        return false
    }

    /// The warnings for ldconfig, which `LDConfigUpdate` replaces.
    static var ldconfigMessages: Set<String> {
        Set([byPackage["libc-bin"], byTrigger["ldconfig"]].compactMap { $0?.message })
    }

    static let debconfDatabase = "var/cache/debconf/config.dat"

    /// The maintainer scripts dpkg would run for an upgrade (deb-postinst(5) etc.).
    static let scripts = ["preinst", "postinst", "prerm", "postrm"]

    /// Effects for one installed package, from its control members.
    static func effects(package: String, controlMembers: Set<String>, triggers: [String], shipsSharedLibraries: Bool) -> [MaintainerEffect] {
        var effects: [MaintainerEffect] = []
        if let known = byPackage[package] { effects.append(known) }
        let present = scripts.filter { controlMembers.contains($0) }
        if !present.isEmpty, byPackage[package] == nil, !reproduced.contains(package) {
            effects.append(MaintainerEffect(
                kind: "maintainer-script-not-run",
                message: "maintainer script(s) \(present.joined(separator: ", ")) not run; whatever they configure is left as it was"))
        }
        var seen = Set(effects)
        for trigger in triggers {
            if let effect = byTrigger[trigger], seen.insert(effect).inserted { effects.append(effect) }
        }
        if shipsSharedLibraries, let ldconfig = byTrigger["ldconfig"], seen.insert(ldconfig).inserted {
            effects.append(ldconfig)
        }
        return effects
    }
}

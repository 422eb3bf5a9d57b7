/// What the resolver decided: which packages to install at which versions,
/// and what became of each package the manifest asked for.
struct ResolutionPlan: Sendable {
    enum Reason: Sendable, Hashable {
        /// Named by the manifest, with its fixed version.
        case requested(fixed: String)
        /// Needed by a Depends/Pre-Depends of another planned package.
        case dependency(of: String)
        /// An installed package had to move because a planned one Breaks it,
        /// or because its own dependencies no longer hold.
        case upgradedFor(String)
        /// Updated by an earlier patch layer that this patch replaces.
        case carriedOver
    }

    struct Install: Sendable, Hashable {
        let package: AvailablePackage
        /// The instance this install replaces; nil for a new package.
        let replacing: InstalledPackage?
        let reason: Reason
    }

    var installs: [Install] = []
    var outcomes: [PackageOutcome] = []

    /// Installs in a stable order (by name, then architecture) so the patch
    /// layer is the same for the same inputs.
    var orderedInstalls: [Install] {
        installs.sorted { ($0.package.name, $0.package.architecture) < ($1.package.name, $1.package.architecture) }
    }
}

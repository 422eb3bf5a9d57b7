/// Chooses the versions to install: for each requested package the highest
/// available version that is at least the fixed one, then everything needed
/// to keep the dpkg database consistent (apt's job, done here as data):
/// new or upgraded dependencies, packages the new versions Break, and
/// installed packages whose dependencies the upgrade would break.
struct Resolver {
    let database: DpkgDatabase
    let available: AvailablePackages
    /// dpkg's native architecture of the image (`amd64`, `arm64`, ...).
    let architecture: String
    let ignoreErrors: Bool

    private typealias Plan = [PlanKey: ResolutionPlan.Install]

    struct PlanKey: Hashable, Comparable {
        let name: String
        let architecture: String
        static func < (lhs: PlanKey, rhs: PlanKey) -> Bool {
            (lhs.name, lhs.architecture) < (rhs.name, rhs.architecture)
        }
    }

    /// A package an earlier patch layer installed, to be installed again.
    struct CarriedOver: Sendable {
        let name: String
        let architecture: String
        let version: DebianVersion
    }

    func resolve(_ updates: [UpdateManifest.Update], carriedOver: [CarriedOver] = []) throws -> ResolutionPlan {
        let installedSet = try database.universe()
        var plan: Plan = [:]
        var result = ResolutionPlan()
        for previous in carriedOver {
            guard let candidate = available.candidates(previous.name, architecture: previous.architecture)
                .first(where: { $0.version == previous.version }) else {
                throw EngineError(.packageNotFound,
                    "\(previous.name) \(previous.version), installed by the earlier patch layer, is no longer in the image's repositories")
            }
            let replacing = database.packages(named: previous.name)
                .first { $0.isInstalled && $0.architecture == previous.architecture }
            plan[key(candidate)] = .init(package: candidate, replacing: replacing, reason: .carriedOver)
        }
        plan = try close(plan, installedSet: installedSet)
        let base = plan
        let sorted = updates.sorted(by: { $0.name < $1.name })

        // The whole request at once, as apt resolves `install a b c`: a
        // strict `=` chain (perl, libperl, perl-base, perl-modules) only
        // resolves when its members are planned together.
        var requested: [(update: UpdateManifest.Update, installs: [ResolutionPlan.Install], outcomes: [PackageOutcome])] = []
        for update in sorted {
            do {
                let (installs, outcomes) = try request(update, plan: base)
                requested.append((update, installs, outcomes))
            } catch let error as EngineError where ignoreErrors {
                result.outcomes.append(errored(update, error))
            }
        }
        var together = base
        for entry in requested { for install in entry.installs { together[key(install.package)] = install } }
        do {
            plan = try close(together, installedSet: installedSet)
            result.outcomes += requested.flatMap(\.outcomes)
        } catch let error as EngineError where ignoreErrors && error.code == .dependency {
            // Something in the set cannot be had: keep what can, one request
            // at a time, and report the rest as errored.
            plan = base
            for entry in requested {
                do {
                    let (installs, outcomes) = try request(entry.update, plan: plan)
                    var attempt = plan
                    for install in installs { attempt[key(install.package)] = install }
                    plan = try close(attempt, installedSet: installedSet)
                    result.outcomes += outcomes
                } catch let single as EngineError {
                    result.outcomes.append(errored(entry.update, single))
                }
            }
        }
        result.installs = plan.keys.sorted().compactMap { plan[$0] }
        return result
    }

    private func errored(_ update: UpdateManifest.Update, _ error: EngineError) -> PackageOutcome {
        PackageOutcome(name: update.name, fromVersion: update.installedVersion, toVersion: "",
                       fixedVersion: update.fixedVersion, kind: .errored, message: error.message)
    }

    private func key(_ package: AvailablePackage) -> PlanKey {
        PlanKey(name: package.name, architecture: package.architecture)
    }

    /// The installs one manifest entry asks for, one per installed architecture instance.
    private func request(_ update: UpdateManifest.Update, plan: Plan) throws -> ([ResolutionPlan.Install], [PackageOutcome]) {
        let fixed: DebianVersion
        do {
            fixed = try DebianVersion(update.fixedVersion)
        } catch {
            throw EngineError(.invalidInput, "the fixed version '\(update.fixedVersion)' of \(update.name) is not a Debian version")
        }
        let instances = database.packages(named: update.name).filter(\.isInstalled)
        guard !instances.isEmpty else {
            return ([], [PackageOutcome(name: update.name, fromVersion: update.installedVersion, toVersion: "",
                                        fixedVersion: update.fixedVersion, kind: .notInstalled,
                                        message: "the image has no installed package of this name")])
        }
        var installs: [ResolutionPlan.Install] = []
        var outcomes: [PackageOutcome] = []
        for instance in instances {
            let planned = plan[PlanKey(name: instance.name, architecture: instance.architecture)]
            let current = planned?.package.version ?? instance.version
            if current >= fixed {
                let kind: PackageOutcome.Kind = planned == nil ? .alreadyFixed : .updated
                outcomes.append(PackageOutcome(name: instance.name, fromVersion: instance.version.description,
                                               toVersion: current.description, fixedVersion: update.fixedVersion, kind: kind))
                continue
            }
            let candidates = available.candidates(instance.name, architecture: instance.architecture)
            guard let best = candidates.first, best.version >= fixed else {
                let highest = candidates.first.map { "the highest available is \($0.version)" } ?? "no configured repository has it"
                throw EngineError(.packageNotFound,
                    "\(instance.name) \(fixed) (or newer) is not available for \(instance.architecture): \(highest)")
            }
            installs.append(.init(package: best, replacing: instance, reason: .requested(fixed: update.fixedVersion)))
            outcomes.append(PackageOutcome(name: instance.name, fromVersion: instance.version.description,
                                           toVersion: best.version.description, fixedVersion: update.fixedVersion, kind: .updated))
        }
        return (installs, outcomes)
    }
}

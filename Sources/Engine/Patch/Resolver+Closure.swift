extension Resolver {
    /// One thing that must change for the database to stay consistent.
    private enum Fix {
        case add(ResolutionPlan.Install)
    }

    fileprivate typealias PlanMap = [PlanKey: ResolutionPlan.Install]

    /// Adds installs until every planned package's Depends/Pre-Depends hold,
    /// nothing planned Breaks or Conflicts with what stays, and no installed
    /// package loses a dependency it had. Fails when that needs a package no
    /// repository offers (apt would fail the same way) or a removal (which a
    /// patch never does).

    func close(_ start: [PlanKey: ResolutionPlan.Install], installedSet: PackageSet) throws -> [PlanKey: ResolutionPlan.Install] {
        var plan = start
        // Each round adds at least one install or ends; a package can only move
        // up in version, so this terminates; the bound is a safety net.
        for _ in 0..<500 {
            let future = installedSet.applying(installing: plan.values.map(\.package.universe))
            guard let fix = try nextFix(plan, future: future, installedSet: installedSet) else { return plan }
            switch fix {
            case .add(let install):
                plan[PlanKey(name: install.package.name, architecture: install.package.architecture)] = install
            }
        }
        throw EngineError(.dependency, "resolving dependencies did not settle; the repositories' metadata is inconsistent")
    }

    private func nextFix(_ plan: PlanMap, future: PackageSet, installedSet: PackageSet) throws -> Fix? {
        for key in plan.keys.sorted() {
            guard let install = plan[key] else { continue }
            if let fix = try forwardFix(install.package, future: future) { return fix }
        }
        let plannedNames = Set(plan.keys.map(\.name))
        for installed in database.installed where installed.isInstalled {
            let key = PlanKey(name: installed.name, architecture: installed.architecture)
            guard plan[key] == nil else { continue }
            if let fix = try reverseFix(installed, plannedNames: plannedNames, future: future, current: installedSet) {
                return fix
            }
        }
        return nil
    }

    private func context(for architecture: String) -> RelationshipContext {
        RelationshipContext(dependentArchitecture: architecture == "all" ? self.architecture : architecture,
                            nativeArchitecture: self.architecture)
    }

    /// A planned package's own dependencies, Breaks and Conflicts.
    private func forwardFix(_ package: AvailablePackage, future: PackageSet) throws -> Fix? {
        let context = context(for: package.architecture)
        for kind in [RelationshipKind.preDepends, .depends] {
            let field = try package.relationships(kind)
            for group in field.unsatisfiedGroups(in: future, context: context) {
                return .add(try satisfy(group, kind: kind, for: package.name, context: context, future: future))
            }
        }
        let breaks = try package.relationships(.breaks)
        for hit in breaks.matchingPackages(in: future, context: context, declaredBy: package.name) {
            return .add(try upgrade(hit.name, architecture: hit.architecture, because: "\(package.name) \(package.version) breaks \(hit.name) \(hit.version)") { candidate in
                breaks.matchingPackages(in: PackageSet([candidate.universe]), context: context, declaredBy: package.name).isEmpty
            })
        }
        let conflicts = try package.relationships(.conflicts)
        if let hit = conflicts.matchingPackages(in: future, context: context, declaredBy: package.name).first {
            throw EngineError(.dependency,
                "\(package.name) \(package.version) conflicts with the installed \(hit.name) \(hit.version); a patch does not remove packages")
        }
        return nil
    }

    /// An installed, unplanned package whose dependencies the plan breaks, or
    /// whose own Breaks now hit a planned version.
    private func reverseFix(_ installed: InstalledPackage, plannedNames: Set<String>, future: PackageSet, current: PackageSet) throws -> Fix? {
        let context = context(for: installed.architecture)
        for kind in [RelationshipKind.preDepends, .depends] {
            let field = try RelationshipField(kind, in: installed.paragraph)
            let mentionsPlan = field.groups.contains { $0.alternatives.contains { plannedNames.contains($0.name) } }
            guard mentionsPlan else { continue }
            let broken = field.unsatisfiedGroups(in: future, context: context)
            // Only what the plan broke: a group that already failed before the
            // patch is the image's own inconsistency, not ours to repair.
            if let group = broken.first(where: { $0.isSatisfied(by: current, kind: kind, context: context) }) {
                return .add(try upgrade(installed.name, architecture: installed.architecture,
                                        because: "the update leaves \(installed.name)'s dependency \(group) unmet") { candidate in
                    (try? candidate.relationships(kind).unsatisfiedGroups(in: future, context: context).isEmpty) ?? false
                })
            }
        }
        let breaks = try RelationshipField(.breaks, in: installed.paragraph)
        let before = Set(breaks.matchingPackages(in: current, context: context, declaredBy: installed.name))
        if let hit = breaks.matchingPackages(in: future, context: context, declaredBy: installed.name)
            .first(where: { !before.contains($0) }) {
            return .add(try upgrade(installed.name, architecture: installed.architecture,
                                    because: "the installed \(installed.name) \(installed.version) breaks \(hit.name) \(hit.version)") { candidate in
                (try? candidate.relationships(.breaks)
                    .matchingPackages(in: PackageSet([hit]), context: context, declaredBy: installed.name).isEmpty) ?? false
            })
        }
        return nil
    }

    /// The highest available version of an installed package that passes `acceptable`.
    private func upgrade(_ name: String, architecture: String, because reason: String,
                         acceptable: (AvailablePackage) -> Bool) throws -> ResolutionPlan.Install {
        let instance = database.packages(named: name).first { $0.isInstalled && $0.architecture == architecture }
        let candidates = available.candidates(name, architecture: architecture)
            .filter { candidate in instance.map { candidate.version > $0.version } ?? true }
        guard let choice = candidates.first(where: acceptable) else {
            throw EngineError(.dependency, "\(reason), and no configured repository has a version of \(name) that resolves it")
        }
        return .init(package: choice, replacing: instance, reason: .upgradedFor(reason))
    }

    /// Picks a package for an unmet dependency group: an alternative that is
    /// installed (so it is upgraded) before a new one, highest version first.
    private func satisfy(_ group: RelationshipGroup, kind: RelationshipKind, for dependent: String,
                         context: RelationshipContext, future: PackageSet) throws -> ResolutionPlan.Install {
        let alternatives = group.activeAlternatives(context)
        let ordered = alternatives.filter { !database.packages(named: $0.name).isEmpty }
            + alternatives.filter { database.packages(named: $0.name).isEmpty }
        for alternative in ordered {
            let candidates = available.candidates(alternative.name, architecture: context.dependentArchitecture)
            let universe = PackageSet(candidates.map(\.universe))
            let matching = Set(alternative.matches(in: universe, kind: kind, context: context))
            guard let choice = candidates.first(where: { matching.contains($0.universe) }) else { continue }
            let replacing = database.packages(named: choice.name)
                .first { $0.isInstalled && ($0.architecture == choice.architecture || $0.multiArch != .same) }
            return .init(package: choice, replacing: replacing, reason: .dependency(of: dependent))
        }
        throw EngineError(.dependency,
            "\(dependent) needs \(group) (\(kind.fieldName)), which neither the image nor its repositories can provide")
    }
}

extension Resolver {
    fileprivate typealias PlanMap = [PlanKey: ResolutionPlan.Install]

    /// A problem the plan still has, and the installs that could each fix it,
    /// best first.
    private struct Problem {
        let description: String
        let fixes: [ResolutionPlan.Install]
    }

    /// Why a search branch failed, with the decisions that led there.
    struct Dead: Error {
        let chain: [String]
        let reason: String
        var depth: Int { chain.count }
    }

    /// The most nodes one search visits before it gives up.
    static let searchBudget = 20_000

    /// Adds installs until every planned package's Depends/Pre-Depends hold,
    /// nothing planned Breaks or Conflicts with what stays, and no installed
    /// package loses a dependency it had — as apt does for the whole request
    /// at once. Each problem found may have several fixes (versions,
    /// alternatives); they are tried best first, and a fix that leads to a
    /// dead end is undone for the next (depth-first, bounded). A fix needs only
    /// to repair its problem: the fix's own needs are problems of the next step.
    /// Fails when no choice works: a package no repository offers, a removal
    /// (which a patch never does), a conflict; the message names the chain of
    /// decisions that ended there.
    func close(_ start: [PlanKey: ResolutionPlan.Install], installedSet: PackageSet) throws -> [PlanKey: ResolutionPlan.Install] {
        var budget = Self.searchBudget
        do {
            return try search(start, installedSet: installedSet, chain: [], budget: &budget)
        } catch let dead as Dead {
            let chain = dead.chain.isEmpty ? "" : " (" + dead.chain.joined(separator: " → ") + ")"
            throw EngineError(.dependency, dead.reason + chain)
        }
    }

    private func search(_ plan: PlanMap, installedSet: PackageSet, chain: [String], budget: inout Int) throws -> PlanMap {
        budget -= 1
        guard budget > 0 else {
            throw Dead(chain: chain, reason: "resolving dependencies took more than \(Self.searchBudget) steps; the repositories' metadata may be inconsistent")
        }
        let future = installedSet.applying(installing: plan.values.map(\.package.universe))
        guard let problem = try nextProblem(plan, future: future, installedSet: installedSet) else { return plan }
        var deepest: Dead?
        for fix in problem.fixes {
            let key = PlanKey(name: fix.package.name, architecture: fix.package.architecture)
            guard plan[key] == nil else { continue }
            var next = plan
            next[key] = fix
            do {
                return try search(next, installedSet: installedSet,
                                  chain: chain + ["\(fix.package.name) \(fix.package.version) for \(problem.description)"],
                                  budget: &budget)
            } catch let dead as Dead {
                if dead.reason.hasPrefix("resolving dependencies took more than") { throw dead }
                if deepest == nil || dead.depth > deepest!.depth { deepest = dead }
            }
        }
        throw deepest ?? Dead(chain: chain, reason: problem.fixes.isEmpty
            ? "\(problem.description), and no configured repository has a version that resolves it"
            : "\(problem.description), and every way to resolve it conflicts with the rest of the update")
    }

    private func nextProblem(_ plan: PlanMap, future: PackageSet, installedSet: PackageSet) throws -> Problem? {
        for key in plan.keys.sorted() {
            guard let install = plan[key] else { continue }
            if let problem = try forwardProblem(install.package, plan: plan, future: future) { return problem }
        }
        let plannedNames = Set(plan.keys.map(\.name))
        for installed in database.installed where installed.isInstalled {
            let key = PlanKey(name: installed.name, architecture: installed.architecture)
            guard plan[key] == nil else { continue }
            if let problem = try reverseProblem(installed, plannedNames: plannedNames, future: future, current: installedSet) {
                return problem
            }
        }
        return nil
    }

    private func context(for architecture: String) -> RelationshipContext {
        RelationshipContext(dependentArchitecture: architecture == "all" ? self.architecture : architecture,
                            nativeArchitecture: self.architecture)
    }

    /// A planned package's own dependencies, Breaks and Conflicts.
    private func forwardProblem(_ package: AvailablePackage, plan: PlanMap, future: PackageSet) throws -> Problem? {
        let context = context(for: package.architecture)
        for kind in [RelationshipKind.preDepends, .depends] {
            let field = try package.relationships(kind)
            if let group = field.unsatisfiedGroups(in: future, context: context).first {
                return Problem(description: "\(package.name) \(package.version) needs \(group) (\(kind.fieldName))",
                               fixes: satisfying(group, kind: kind, for: package.name, context: context))
            }
        }
        let breaks = try package.relationships(.breaks)
        if let hit = breaks.matchingPackages(in: future, context: context, declaredBy: package.name).first {
            return Problem(description: "\(package.name) \(package.version) breaks \(hit.name) \(hit.version)",
                           fixes: upgrades(hit.name, architecture: hit.architecture,
                                           because: "\(package.name) \(package.version) breaks \(hit.name) \(hit.version)") { candidate in
                breaks.matchingPackages(in: PackageSet([candidate.universe]), context: context, declaredBy: package.name).isEmpty
            })
        }
        let conflicts = try package.relationships(.conflicts)
        if let hit = conflicts.matchingPackages(in: future, context: context, declaredBy: package.name).first {
            return Problem(description: "\(package.name) \(package.version) conflicts with \(hit.name) \(hit.version), and a patch does not remove packages",
                           fixes: [])
        }
        return nil
    }

    /// An installed, unplanned package whose dependencies the plan breaks, or
    /// whose own Breaks now hit a planned version. A version that repairs it
    /// needs only the groups naming planned packages to hold; its other needs
    /// are the next step's problems.
    private func reverseProblem(_ installed: InstalledPackage, plannedNames: Set<String>, future: PackageSet,
                                current: PackageSet) throws -> Problem? {
        let context = context(for: installed.architecture)
        for kind in [RelationshipKind.preDepends, .depends] {
            let field = try RelationshipField(kind, in: installed.paragraph)
            let mentionsPlan = field.groups.contains { $0.alternatives.contains { plannedNames.contains($0.name) } }
            guard mentionsPlan else { continue }
            let broken = field.unsatisfiedGroups(in: future, context: context)
            // Only what the plan broke: a group that already failed before the
            // patch is the image's own inconsistency, not ours to repair.
            if let group = broken.first(where: { $0.isSatisfied(by: current, kind: kind, context: context) }) {
                let reason = "the update leaves \(installed.name)'s dependency \(group) unmet"
                return Problem(description: reason, fixes: upgrades(installed.name, architecture: installed.architecture, because: reason) { candidate in
                    guard let groups = try? candidate.relationships(kind).groups else { return false }
                    return groups.allSatisfy { group in
                        !group.alternatives.contains { plannedNames.contains($0.name) }
                            || group.isSatisfied(by: future, kind: kind, context: context)
                    }
                })
            }
        }
        let breaks = try RelationshipField(.breaks, in: installed.paragraph)
        let before = Set(breaks.matchingPackages(in: current, context: context, declaredBy: installed.name))
        if let hit = breaks.matchingPackages(in: future, context: context, declaredBy: installed.name)
            .first(where: { !before.contains($0) }) {
            let reason = "the installed \(installed.name) \(installed.version) breaks \(hit.name) \(hit.version)"
            return Problem(description: reason, fixes: upgrades(installed.name, architecture: installed.architecture, because: reason) { candidate in
                (try? candidate.relationships(.breaks)
                    .matchingPackages(in: PackageSet([hit]), context: context, declaredBy: installed.name).isEmpty) ?? false
            })
        }
        return nil
    }

    /// The available versions of an installed package above the installed one
    /// that pass `acceptable`, highest first.
    private func upgrades(_ name: String, architecture: String, because reason: String,
                          acceptable: (AvailablePackage) -> Bool) -> [ResolutionPlan.Install] {
        let instance = database.packages(named: name).first { $0.isInstalled && $0.architecture == architecture }
        return available.candidates(name, architecture: architecture)
            .filter { candidate in instance.map { candidate.version > $0.version } ?? true }
            .filter(acceptable)
            .map { .init(package: $0, replacing: instance, reason: .upgradedFor(reason)) }
    }

    /// The packages that could meet an unmet dependency group: its
    /// alternatives that are installed (so they are upgraded) before new
    /// ones, each alternative's matching versions highest first.
    private func satisfying(_ group: RelationshipGroup, kind: RelationshipKind, for dependent: String,
                            context: RelationshipContext) -> [ResolutionPlan.Install] {
        let alternatives = group.activeAlternatives(context)
        let ordered = alternatives.filter { !database.packages(named: $0.name).isEmpty }
            + alternatives.filter { database.packages(named: $0.name).isEmpty }
        var fixes: [ResolutionPlan.Install] = []
        for alternative in ordered {
            let candidates = available.candidates(alternative.name, architecture: context.dependentArchitecture)
            let universe = PackageSet(candidates.map(\.universe))
            let matching = Set(alternative.matches(in: universe, kind: kind, context: context))
            for choice in candidates where matching.contains(choice.universe) {
                let replacing = database.packages(named: choice.name)
                    .first { $0.isInstalled && ($0.architecture == choice.architecture || $0.multiArch != .same) }
                fixes.append(.init(package: choice, replacing: replacing, reason: .dependency(of: dependent)))
            }
        }
        return fixes
    }
}

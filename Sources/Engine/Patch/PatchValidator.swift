/// Reads the written patch layer back and checks that the dpkg database it
/// leaves holds every requested package at (at least) its fixed version and
/// every planned install at its planned version. Scanners read that
/// database, so this is what decides whether the fix will be seen.
struct PatchValidator {
    let cache: OCILayout
    let layer: Descriptor
    let probe: ImageProbe
    let plan: ResolutionPlan
    let ignoreErrors: Bool

    func validate() throws -> [PackageOutcome] {
        let database = try patchedDatabase()
        for install in plan.installs {
            let found = database.packages(named: install.package.name)
                .first { $0.isInstalled && $0.architecture == install.package.architecture }
            guard found?.version == install.package.version else {
                throw EngineError(.validation,
                    "the patched dpkg database lists \(install.package.name) at \(found?.version.description ?? "nothing"), not \(install.package.version)")
            }
        }
        var outcomes: [PackageOutcome] = []
        for outcome in plan.outcomes {
            guard outcome.kind == .updated || outcome.kind == .alreadyFixed,
                  let fixed = try? DebianVersion(outcome.fixedVersion) else {
                outcomes.append(outcome)
                continue
            }
            let installed = database.packages(named: outcome.name).filter(\.isInstalled)
            let low = installed.first { $0.version < fixed }
            guard let low else {
                outcomes.append(outcome)
                continue
            }
            let message = "\(outcome.name) is at \(low.version) in the patched image, below the fixed version \(fixed)"
            guard ignoreErrors else { throw EngineError(.validation, message) }
            var errored = outcome
            errored.kind = .errored
            errored.message = message
            outcomes.append(errored)
        }
        for install in plan.orderedInstalls where !outcomes.contains(where: { $0.name == install.package.name }) {
            outcomes.append(PackageOutcome(
                name: install.package.name, fromVersion: install.replacing?.version.description ?? "",
                toVersion: install.package.version.description, fixedVersion: "",
                kind: install.replacing == nil ? .added : .updated,
                message: Self.describe(install.reason)))
        }
        return outcomes
    }

    static func describe(_ reason: ResolutionPlan.Reason) -> String {
        switch reason {
        case .requested: ""
        case .dependency(let dependent): "needed by \(dependent)"
        case .upgradedFor(let why): why
        case .carriedOver: "kept from the earlier patch layer"
        }
    }

    /// The database as the image sees it with the patch layer on top.
    private func patchedDatabase() throws -> DpkgDatabase {
        let collected = try LayerFileCollector.collect(layers: [try cache.openBlob(layer.digest)]) {
            $0 == ImageProbe.statusPath || $0.hasPrefix(ImageProbe.statusDirectoryPath + "/")
        }
        let files = collected.entries.compactMapValues(\.content)
        switch probe.database.layout {
        case .statusFile, .queryListing:
            guard let status = files[ImageProbe.statusPath] else {
                throw EngineError(.validation, "the patch layer holds no /\(ImageProbe.statusPath)")
            }
            return try DpkgDatabase(statusFile: String(decoding: status, as: UTF8.self))
        case .statusDirectory:
            var texts: [String: String] = [:]
            for file in probe.database.serializedStatusDirectory() { texts[file.name] = file.text }
            let prefix = ImageProbe.statusDirectoryPath + "/"
            for (path, bytes) in files where path.hasPrefix(prefix) {
                texts[String(path.dropFirst(prefix.count))] = String(decoding: bytes, as: UTF8.self)
            }
            return try DpkgDatabase(statusDirectory: texts.keys.sorted().compactMap { name in
                texts[name].map { .init(name: name, text: $0) }
            })
        }
    }
}

import CopaCore
import Foundation
import Protocol

/// `copa patch --config`: every image and tag of a PatchConfig, each from
/// its reports, spread over the pool with at most `maxParallel` images at
/// once; one failure does not stop the others. Ends with one summary table
/// (and `--summary FILE` as JSON); exit 0 only if every image succeeded.
struct BulkRun {
    let config: PatchConfig
    let reports: [String: [PlatformReport]]
    let reportDirectory: String
    let requested: [Platform]
    let patcher: Patcher
    let printer: JobPrinter
    let maxParallel: Int?
    let summaryPath: String?

    struct Item: Sendable {
        let name: String
        let patch: ImagePatch?
        /// Why the item cannot run (no report, a tag that makes no target).
        let problem: String?
    }

    func run() async -> Int32 {
        var items: [Item] = []
        for image in config.images {
            let tags: [String]
            switch image.tags.strategy {
            case .list:
                tags = image.tags.list
            case .pattern, .latest:
                do {
                    let info = try await patcher.inspect(image.repository, listTags: true)
                    tags = PatchConfig.select(image.tags, from: info.tags)
                } catch {
                    printer.error("\(image.name): cannot list the tags of \(image.repository): \(error)")
                    items.append(Item(name: image.name, patch: nil, problem: "tags not listed: \(error)"))
                    continue
                }
            }
            if tags.isEmpty { printer.note("\(image.name): no tag of \(image.repository) matches its \(image.tags.strategy.rawValue) strategy") }
            for tag in tags { items.append(item(image, tag: tag)) }
        }
        let capacity = patcher.pool.connections.reduce(0) { $0 + max(1, Int($1.welcome.maxJobs)) }
        let parallel = max(1, maxParallel ?? capacity)
        printer.note("patching \(items.count) image(s), at most \(parallel) at once, on \(patcher.pool.connections.count) agent(s)")
        var exitCodes: [Int32] = []
        await withTaskGroup(of: Int32.self) { group in
            var pending = items[...]
            var running = 0
            while !pending.isEmpty || running > 0 {
                while running < parallel, let next = pending.popFirst() {
                    running += 1
                    group.addTask { await self.run(next) }
                }
                if let code = await group.next() {
                    running -= 1
                    exitCodes.append(code)
                }
            }
        }
        let rows = await patcher.records.rows
        printSummary(rows)
        if let summaryPath { writeSummary(rows, items: items, exitCodes: exitCodes, to: summaryPath) }
        return exitCodes.allSatisfy { $0 == 0 } ? 0 : ExitCodes.patchFailed
    }

    private func item(_ image: PatchConfig.Image, tag: String) -> Item {
        let source = "\(image.repository):\(tag)"
        let registry = image.target.registry ?? config.target.registry
        let template = image.target.tag ?? config.target.tag ?? PatchConfig.defaultTagTemplate
        let target: String
        do {
            target = "\(PatchConfig.targetRepository(image, registry: registry)):\(try PatchConfig.render(template, sourceTag: tag))"
        } catch {
            return Item(name: source, patch: nil, problem: "\(error)")
        }
        guard let found = reports[ReportSet.normalizedArtifact(source)], !found.isEmpty else {
            return Item(name: source, patch: nil,
                        problem: "no report in \(reportDirectory) names \(source) as its ArtifactName (patching without a report is not supported)")
        }
        let platforms = image.platforms.isEmpty ? requested : image.platforms
        return Item(name: source, patch: ImagePatch(image: source, source: source, target: target, reports: found,
                                                    isDirectory: true, requested: platforms), problem: nil)
    }

    private func run(_ item: Item) async -> Int32 {
        guard let patch = item.patch else {
            printer.error("\(item.name): \(item.problem ?? "cannot be patched")")
            await patcher.records.append(JobRecord(image: item.name, platform: "-", agent: "-",
                                                   outcome: "failed: \(item.problem ?? "")", digest: "", seconds: 0))
            return ExitCodes.invalidInput
        }
        return await patcher.patch(patch, printer: printer.labelled(item.name))
    }

    private func printSummary(_ rows: [JobRecord]) {
        var table = [["IMAGE", "PLATFORM", "AGENT", "OUTCOME", "DIGEST", "TIME"]]
        for row in rows.sorted(by: { ($0.image, $0.platform) < ($1.image, $1.platform) }) {
            table.append([row.image, row.platform, row.agent, row.outcome, row.digest.isEmpty ? "-" : row.digest,
                          String(format: "%.1fs", row.seconds)])
        }
        print(TextTable.render(table), terminator: "")
    }

    private func writeSummary(_ rows: [JobRecord], items: [Item], exitCodes: [Int32], to path: String) {
        let jobs: [[String: Any]] = rows.map {
            ["image": $0.image, "platform": $0.platform, "agent": $0.agent, "outcome": $0.outcome,
             "digest": $0.digest, "seconds": ($0.seconds * 1000).rounded() / 1000]
        }
        let targets: [[String: Any]] = items.compactMap { item in
            item.patch.map { ["image": $0.image, "target": $0.target] }
        }
        let document: [String: Any] = ["jobs": jobs, "images": targets,
                                       "succeeded": exitCodes.filter { $0 == 0 }.count,
                                       "failed": exitCodes.filter { $0 != 0 }.count]
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else { return }
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            printer.error("cannot write the summary to \(path): \(error.localizedDescription)")
        }
    }
}

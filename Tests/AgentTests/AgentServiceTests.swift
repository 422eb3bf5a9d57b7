import Engine
import Foundation
import Protocol
import Testing
import TestSupport
@testable import Agent
@testable import Client

/// `copa-agent serve` as a service: killed mid-job and started again (its
/// journal, scratch and Resume), stopped with SIGTERM, its logs and metrics.
@Suite struct AgentServiceTests {
    static let listening = ["--listen", "tcp://127.0.0.1:0"]

    static func submit(_ id: String, image: String, target: String, manifest: Copa_Protocol_V1_UpdateManifest) -> Copa_Protocol_V1_Submit {
        var submit = Copa_Protocol_V1_Submit()
        submit.jobID = id
        submit.image = image
        submit.target = target
        submit.manifest = manifest
        return submit
    }

    @Test func aRestartedAgentCleansScratchAndAnswersResume() async throws {
        let workdir = try TestEnvironment.workdirWithFixtureLayout()
        let manifest = try ReportLoader.load(path: try TestEnvironment.fixtures + "/images/trivy-debian.json", scanner: nil).manifest.wire
        // The agent's mirror never answers: the running job sits in I/O until the kill.
        let silent = try SilentTCPPort()
        defer { silent.close() }
        let first = try AgentProcess(Self.listening + ["--apt-mirror", "http://127.0.0.1:\(silent.port)/debian"], workdir: workdir)
        defer { if first.process.isRunning { first.process.terminate() } }
        let session = try await AgentSession(endpoint: try await first.endpoint())

        // One job that ends at once, and one that is running when the agent dies.
        _ = try await session.hello()
        let quick = try await session.submit(Self.submit("ended", image: "oci:fixture:no-such-tag", target: "oci:fixture:x", manifest: manifest))
        let ended = try await withDeadline(.seconds(60), "the quick job") { try await AgentSharingTests.collect(quick) }
        let endedFailure = try #require(AgentSharingTests.finalFailure(ended))
        let stuck = try await session.submit(Self.submit("stuck", image: "oci:fixture:debian", target: "oci:fixture:stuck", manifest: manifest))
        _ = stuck
        try await withDeadline(.seconds(60), "the stuck job to reach the mirror") {
            while !silent.hasPendingConnection { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: workdir + "/jobs")).isEmpty)
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        await session.close()

        let second = try AgentProcess(Self.listening, workdir: workdir)
        defer { second.process.terminate(); second.process.waitUntilExit() }
        let endpoint = try await second.endpoint()
        #expect(try FileManager.default.contentsOfDirectory(atPath: workdir + "/jobs").isEmpty, "scratch of the killed job is removed")

        // A second agent on the same workdir refuses to start.
        let rival = try AgentProcess(Self.listening, workdir: workdir)
        rival.process.waitUntilExit()
        #expect(rival.process.terminationStatus != 0)
        #expect(rival.logText.contains("agent.lock"))

        let again = try await AgentSession(endpoint: endpoint)
        defer { Task { await again.close() } }
        _ = try await again.hello()
        func resumed(_ id: String) async throws -> Copa_Protocol_V1_Failure? {
            let updates = try await again.resume(jobID: id)
            return AgentSharingTests.finalFailure(try await withDeadline(.seconds(30), "resume \(id)") {
                try await AgentSharingTests.collect(updates)
            })
        }
        let stuckOutcome = try #require(try await resumed("stuck"))
        #expect(stuckOutcome.code == .cancelled)
        #expect(stuckOutcome.message.contains("agent stopped"))
        let endedOutcome = try #require(try await resumed("ended"))
        #expect(endedOutcome.code == endedFailure.code)
        #expect(endedOutcome.message == endedFailure.message)
        #expect(try await resumed("never-submitted")?.code == .unknownJob)
    }

    /// SIGTERM: new jobs are refused at once, the running one is given the
    /// shutdown grace and then cancelled with a Failure, and the agent exits 0.
    @Test func sigtermRefusesNewJobsAndEndsRunningOnesBeforeExiting() async throws {
        let workdir = try TestEnvironment.workdirWithFixtureLayout()
        let manifest = try ReportLoader.load(path: try TestEnvironment.fixtures + "/images/trivy-debian.json", scanner: nil).manifest.wire
        let silent = try SilentTCPPort()
        defer { silent.close() }
        // A grace long enough that the agent is still draining when the late
        // Submit arrives from a loaded machine (with 2 s it had sometimes
        // exited already, and the Submit went unanswered).
        let agent = try AgentProcess(Self.listening + ["--apt-mirror", "http://127.0.0.1:\(silent.port)/debian", "--shutdown-grace", "10s"],
                                     workdir: workdir)
        defer { if agent.process.isRunning { agent.process.terminate() } }
        let session = try await AgentSession(endpoint: try await agent.endpoint())
        defer { Task { await session.close() } }
        _ = try await session.hello()
        let stuck = try await session.submit(Self.submit("running", image: "oci:fixture:debian", target: "oci:fixture:t", manifest: manifest))
        try await withDeadline(.seconds(60), "the job to reach the mirror") {
            while !silent.hasPendingConnection { try await Task.sleep(for: .milliseconds(50)) }
        }
        kill(agent.process.processIdentifier, SIGTERM)
        try await withDeadline(.seconds(30), "the agent to say it is shutting down") {
            while !agent.logText.contains("shutting down") { try await Task.sleep(for: .milliseconds(50)) }
        }
        let late = try await session.submit(Self.submit("late", image: "oci:fixture:debian", target: "oci:fixture:l", manifest: manifest))
        let refused = AgentSharingTests.finalFailure(try await withDeadline(.seconds(30), "the late job") {
            try await AgentSharingTests.collect(late)
        })
        #expect(refused?.rule == "agent.draining")
        let ended = AgentSharingTests.finalFailure(try await withDeadline(.seconds(60), "the running job") {
            try await AgentSharingTests.collect(stuck)
        })
        #expect(ended?.code == .cancelled)
        #expect(ended?.message.contains("shutting down") == true, "\(ended?.message ?? "")")
        try await withDeadline(.seconds(30), "the agent to exit") {
            while agent.process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(agent.process.terminationStatus == 0)
    }

    @Test func jsonLogsAreOneObjectPerLine() async throws {
        let agent = try AgentProcess(Self.listening + ["--log-format", "json"])
        defer { agent.process.terminate(); agent.process.waitUntilExit() }
        var lines: [[String: String]] = []
        for _ in 0..<200 where !lines.contains(where: { $0["message"] == "agent listening" }) {
            try await Task.sleep(for: .milliseconds(50))
            lines = agent.logText.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: String]
            }
        }
        let listening = try #require(lines.first { $0["message"] == "agent listening" })
        #expect(listening["level"] == "info")
        #expect(listening["endpoint"]?.hasPrefix("tcp://127.0.0.1:") == true)
        #expect(listening["time"]?.hasSuffix("Z") == true)
        #expect(agent.logText.split(separator: "\n").count == lines.count, "every line is a JSON object")
    }

    @Test func metricsCountJobsByOutcomeAndRefusalsByRule() async throws {
        let workdir = try TestEnvironment.workdirWithFixtureLayout()
        let agent = try AgentProcess(Self.listening + ["--metrics-listen", "127.0.0.1:0"], workdir: workdir)
        defer { agent.process.terminate(); agent.process.waitUntilExit() }
        let endpoint = try await agent.endpoint()
        let metricsPort = try #require(agent.logText.split(separator: " ").first { $0.hasPrefix("port=") }?.dropFirst(5))
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let refused = try run(TestEnvironment.binary("copa"), ["patch", "--agent", endpoint, "-i", "registry.example/team/app:1",
                                                               "-r", report, "-t", "registry.example/other/app:1"])
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("registries.push") || refused.stderr.contains("pushes only beside the source image"), "\(refused.stderr)")
        // An image that is not there: refused at the Inspect, before any job.
        let missing = try run(TestEnvironment.binary("copa"), ["patch", "--agent", endpoint, "-i", "oci:fixture:no-such-tag", "-r", report])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no-such-tag"), "\(missing.stderr)")
        // A job the agent accepts and that then fails: an OS it does not patch.
        let fedora = try TestEnvironment.temporaryDirectory() + "/fedora.json"
        try String(contentsOfFile: report, encoding: .utf8)
            .replacingOccurrences(of: "\"Family\": \"debian\"", with: "\"Family\": \"fedora\"")
            .write(toFile: fedora, atomically: true, encoding: .utf8)
        let unsupported = try run(TestEnvironment.binary("copa"), ["patch", "--agent", endpoint, "-i", "oci:fixture:debian", "-r", fedora])
        #expect(unsupported.status == 3, "\(unsupported.stderr)")
        let scrape = try run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(metricsPort)/metrics"]).check().stdout
        #expect(scrape.contains("copa_agent_refusals_total{rule=\"registries.push\"} 1"), "\(scrape)")
        #expect(scrape.contains("copa_agent_jobs_total{outcome=\"unsupportedOs\"} 1"), "\(scrape)")
        #expect(scrape.contains("copa_agent_jobs_accepted_total 1"))
        #expect(scrape.contains("copa_agent_job_duration_seconds_count 1"))
        #expect(scrape.contains("copa_agent_jobs_running 0.0"))
    }

    /// A job from a registry back to it: the bytes pulled (manifests and
    /// blobs), the packages downloaded and the bytes pushed are counted.
    @Test func metricsCountBytesFetchedAndPushed() async throws {
        let registry = try TestEnvironment.registry
        let agent = try AgentProcess(Self.listening + ["--metrics-listen", "127.0.0.1:0"])
        defer { agent.process.terminate(); agent.process.waitUntilExit() }
        let endpoint = try await agent.endpoint()
        let metricsPort = try #require(agent.logText.split(separator: " ").first { $0.hasPrefix("port=") }?.dropFirst(5))
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        func value(_ series: String, in scrape: String) -> Double? {
            scrape.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        let before = try run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(metricsPort)/metrics"]).check().stdout
        #expect(value("copa_agent_pushed_bytes_total", in: before) == 0, "\(before)")
        try run(TestEnvironment.binary("copa"), ["patch", "--agent", endpoint, "-i", "\(registry)/fixture/debian:1.0", "-r", report,
                                                 "-t", "1.0-metrics"]).check()
        let scrape = try run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(metricsPort)/metrics"]).check().stdout
        let pulled = try #require(value("copa_agent_fetched_bytes_total{from=\"registry\"}", in: scrape), "\(scrape)")
        let packages = try #require(value("copa_agent_fetched_bytes_total{from=\"repository\"}", in: scrape), "\(scrape)")
        let pushed = try #require(value("copa_agent_pushed_bytes_total", in: scrape), "\(scrape)")
        // The source image's layers are pulled, at least the patch layer, its config and manifest pushed.
        let sourceLayers = try skopeoInspectLayersSize("docker://\(registry)/fixture/debian:1.0")
        #expect(pulled >= Double(sourceLayers), "pulled \(pulled) of \(sourceLayers) layer bytes")
        #expect(packages > 0)
        #expect(pushed > 0)
    }

    /// Mounting a small tmpfs needs root (CI runs as root).
    static let canMountTmpfs: Bool = {
        guard getuid() == 0, let directory = try? TestEnvironment.temporaryDirectory() else { return false }
        guard (try? run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", directory]))?.status == 0 else { return false }
        _ = try? run("/bin/umount", [directory])
        return true
    }()

    /// The agent's workdir on a filesystem with a few kilobytes left: the
    /// job that hits the full disk fails saying so, nothing half-written is
    /// left in the cache, and once there is room the same job succeeds.
    @Test(.enabled(if: canMountTmpfs, "mounting a tmpfs needs root"))
    func aFullDiskFailsTheJobAndLeavesTheCacheConsistent() async throws {
        let registry = try TestEnvironment.registry
        let mount = try TestEnvironment.temporaryDirectory()
        try run("/bin/mount", ["-t", "tmpfs", "-o", "size=32m", "tmpfs", mount]).check()
        defer { _ = try? run("/bin/umount", ["-l", mount]) }
        let workdir = mount + "/work"
        let agent = try AgentProcess(Self.listening, workdir: workdir)
        defer { agent.process.terminate(); agent.process.waitUntilExit() }
        let endpoint = try await agent.endpoint()
        // Fill the filesystem but for 8 KiB.
        var stats = statvfs()
        #expect(statvfs(mount, &stats) == 0)
        let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
        try run("/usr/bin/fallocate", ["-l", "\(free - 8192)", mount + "/filler"]).check()

        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        let tag = "1.0-fulldisk-\(UUID().uuidString.prefix(8).lowercased())"
        let arguments = ["patch", "--agent", endpoint, "-i", "\(registry)/fixture/debian:1.0", "-r", report, "-t", tag]
        let full = try run(TestEnvironment.binary("copa"), arguments)
        #expect(full.status == 1, "\(full.stderr)")
        #expect(full.stderr.contains("No space left on device"), "\(full.stderr)")
        #expect((try? skopeoDigest("docker://\(registry)/fixture/debian:\(tag)")) == nil, "nothing pushed")
        // Every blob in the cache is whole (its name is its digest), no temporary file is left.
        let cache = workdir + "/cache"
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/blobs/sha256")) ?? []
        for blob in blobs {
            let sum = try run("/usr/bin/sha256sum", [cache + "/blobs/sha256/" + blob]).check().stdout.prefix(64)
            #expect(String(sum) == blob, "blob \(blob) is not what its name says")
        }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: cache))?.filter { $0.hasPrefix(".tmp-") } ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")

        try FileManager.default.removeItem(atPath: mount + "/filler")
        let roomy = try run(TestEnvironment.binary("copa"), arguments)
        #expect(roomy.status == 0, "\(roomy.stderr)")
        #expect(try skopeoLayers("docker://\(registry)/fixture/debian:\(tag)").count == 3)
    }

    /// A journal record that only partly fits on the disk is cut off again:
    /// the next record starts on its own line and survives a restart (a torn
    /// record used to swallow the one after it).
    @Test(.enabled(if: canMountTmpfs, "mounting a tmpfs needs root"))
    func aJournalRecordThatDoesNotFitLeavesTheNextOneIntact() throws {
        let mount = try TestEnvironment.temporaryDirectory()
        try run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]).check()
        defer { _ = try? run("/bin/umount", ["-l", mount]) }
        var (journal, _) = try JobJournal.open(workdir: mount)
        var stats = statvfs()
        #expect(statvfs(mount, &stats) == 0)
        let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
        try run("/usr/bin/fallocate", ["-l", "\(free - 4096)", mount + "/filler"]).check()
        let large = [UInt8](repeating: 0x41, count: 16 << 10)
        #expect(journal.ended("too-large", client: "key:a", frame: large) == false)
        try FileManager.default.removeItem(atPath: mount + "/filler")
        #expect(journal.ended("after", client: "key:a", frame: [1, 2, 3]) == true)
        let (reopened, interrupted) = try JobJournal.open(workdir: mount)
        #expect(interrupted.isEmpty)
        #expect(reopened.ended["after"]?.frame == [1, 2, 3])
        #expect(reopened.ended["too-large"] == nil)
    }

    /// `--cache-max-size`: after a job the cache is pruned to the bound (here
    /// nearly nothing), and the next job fetches what it needs again.
    @Test func theBlobCacheIsPrunedToItsBound() async throws {
        let workdir = try TestEnvironment.workdirWithFixtureLayout()
        let agent = try AgentProcess(Self.listening + ["--cache-max-size", "1"], workdir: workdir)
        defer { agent.process.terminate(); agent.process.waitUntilExit() }
        let endpoint = try await agent.endpoint()
        let report = try TestEnvironment.fixtures + "/images/trivy-debian.json"
        try run(TestEnvironment.binary("copa"), ["patch", "--agent", endpoint, "-i", "oci:fixture:debian", "-r", report, "-t", "one"]).check()
        for _ in 0..<200 where !agent.logText.contains("cache pruned") { try await Task.sleep(for: .milliseconds(50)) }
        #expect(agent.logText.contains("cache pruned"))
        let left = try FileManager.default.contentsOfDirectory(atPath: workdir + "/cache/blobs/sha256")
        #expect(left.isEmpty, "\(left.count) blobs left")
        try run(TestEnvironment.binary("copa"), ["patch", "--agent", endpoint, "-i", "oci:fixture:debian", "-r", report, "-t", "two"]).check()
        #expect(try skopeoDigest("oci:\(workdir)/layouts/fixture:two") == skopeoDigest("oci:\(workdir)/layouts/fixture:one"))
    }
}

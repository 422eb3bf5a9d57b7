import Protocol

/// What one request may ask of a shared agent. The agent's owner sets these
/// (`limits:` in the policy file); a client cannot raise them.
public struct AgentLimits: Sendable, Equatable {
    /// Longest timeout a job may ask for; a job asking for none gets the
    /// agent's default, which is never above this.
    public var maxJobTimeout: Duration = .seconds(4 * 3600)
    /// Jobs one client may have waiting (not yet running) at once.
    public var maxQueuedPerClient = 16
    /// Jobs all clients together may have waiting.
    public var maxQueuedTotal = 256
    /// Largest Submit envelope, in bytes; at most `WireLimits.frameBytes`,
    /// past which nothing arrives at all.
    public var maxSubmitBytes = 8 << 20
    /// Longest `job_id`, in bytes.
    public var maxJobIDBytes = 128
    /// Longest image or target reference, in bytes.
    public var maxReferenceBytes = 4096
    /// Most package updates in one manifest.
    public var maxUpdates = 10_000
    /// Longest single string anywhere else in a Submit (package names and
    /// versions, apt sources, registry names), in bytes.
    public var maxFieldBytes = 4096
    /// Most entries in one repeated option (apt sources, insecure registries,
    /// vulnerability ids of one package).
    public var maxListEntries = 256

    public init() {}
}

/// A request the agent's policy refuses: sent as Failure(FORBIDDEN) naming
/// the rule, counted by rule.
public struct PolicyRefusal: Error, Sendable, CustomStringConvertible {
    /// The rule as written in the policy file, e.g. "limits.max_job_timeout".
    public let rule: String
    public let message: String

    public init(rule: String, _ message: String) {
        self.rule = rule
        self.message = message
    }

    public var description: String { "\(message) (policy rule \(rule))" }
}

extension AgentLimits {
    /// Checks a Submit's sizes before anything else looks at it.
    func check(_ submit: Copa_Protocol_V1_Submit, frameSize: Int) throws(PolicyRefusal) {
        guard frameSize <= maxSubmitBytes else {
            throw PolicyRefusal(rule: "limits.max_submit_bytes",
                "the Submit is \(frameSize) bytes; this agent accepts at most \(maxSubmitBytes)")
        }
        guard submit.jobID.utf8.count <= maxJobIDBytes else {
            throw PolicyRefusal(rule: "limits.max_job_id_bytes",
                "the job_id is \(submit.jobID.utf8.count) bytes; at most \(maxJobIDBytes) are allowed")
        }
        for (name, value) in [("image", submit.image), ("target", submit.target)] where value.utf8.count > maxReferenceBytes {
            throw PolicyRefusal(rule: "limits.max_reference_bytes",
                "the \(name) reference is \(value.utf8.count) bytes; at most \(maxReferenceBytes) are allowed")
        }
        guard submit.manifest.updates.count <= maxUpdates else {
            throw PolicyRefusal(rule: "limits.max_updates",
                "the manifest lists \(submit.manifest.updates.count) updates; at most \(maxUpdates) are allowed")
        }
        guard submit.assembly.manifests.count <= maxListEntries else {
            throw PolicyRefusal(rule: "limits.max_list_entries",
                "the index assembly lists \(submit.assembly.manifests.count) manifests; at most \(maxListEntries) are allowed")
        }
        let options = submit.options
        let lists = [("apt_sources", options.aptSources), ("insecure_registries", options.insecureRegistries)]
            + submit.manifest.updates.map { ("vulnerability ids of \($0.name.prefix(64))", $0.vulnerabilityIds) }
        for (name, list) in lists where list.count > maxListEntries {
            throw PolicyRefusal(rule: "limits.max_list_entries",
                "\(name) has \(list.count) entries; at most \(maxListEntries) are allowed")
        }
        let fields = [submit.manifest.osFamily, submit.manifest.osVersion, submit.manifest.architecture,
                      options.executor, options.aptMirror, submit.platform.os, submit.platform.architecture,
                      submit.platform.variant]
            + options.aptSources + options.insecureRegistries
            + submit.manifest.updates.flatMap { [$0.name, $0.installedVersion, $0.fixedVersion] + $0.vulnerabilityIds }
        if let long = fields.first(where: { $0.utf8.count > maxFieldBytes }) {
            throw PolicyRefusal(rule: "limits.max_field_bytes",
                "a \(long.utf8.count)-byte field (starting \"\(long.prefix(32))\") is longer than the \(maxFieldBytes) bytes allowed")
        }
        if options.timeoutSeconds > 0, Duration.seconds(Int64(options.timeoutSeconds)) > maxJobTimeout {
            throw PolicyRefusal(rule: "limits.max_job_timeout",
                "the job asks for a \(options.timeoutSeconds) s timeout; this agent allows at most \(maxJobTimeout.components.seconds) s")
        }
    }
}

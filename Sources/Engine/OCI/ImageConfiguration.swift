/// An image configuration: https://github.com/opencontainers/image-spec/blob/main/config.md
/// (also Docker's `application/vnd.docker.container.image.v1+json`).
///
/// Held as a `JSONValue` so every field of the source config survives a patch,
/// including ones the spec does not define (Docker's `container_config`,
/// `docker_version`, builder fields). Typed accessors cover what the engine
/// reads and changes; `canonicalBytes()` gives deterministic output.
public struct ImageConfiguration: Sendable, Hashable {
    /// The whole document; always an object.
    public private(set) var json: JSONValue

    public init(bytes: [UInt8]) throws {
        let value = try JSONValue(parsing: bytes)
        try self.init(json: value)
    }

    public init(json: JSONValue) throws {
        guard case .object = json else {
            throw EngineError(.invalidInput, "the image configuration is not a JSON object")
        }
        self.json = json
    }

    /// Sorted keys, `/` unescaped, no trailing newline: same config, same digest.
    public func canonicalBytes() -> [UInt8] { json.canonicalBytes() }

    /// Sets a top-level field the typed accessors do not cover (nil removes it).
    public mutating func setField(_ key: String, _ value: JSONValue?) { json.set(key, value) }

    /// config.md "created": RFC 3339 date-time, kept as written.
    public var created: String? {
        get { json["created"]?.stringValue }
        set { json.set("created", newValue.map(JSONValue.string)) }
    }

    public var author: String? {
        get { json["author"]?.stringValue }
        set { json.set("author", newValue.map(JSONValue.string)) }
    }

    /// config.md "architecture": a GOARCH value.
    public var architecture: String? {
        get { json["architecture"]?.stringValue }
        set { json.set("architecture", newValue.map(JSONValue.string)) }
    }

    /// config.md "os": a GOOS value.
    public var os: String? {
        get { json["os"]?.stringValue }
        set { json.set("os", newValue.map(JSONValue.string)) }
    }

    public var variant: String? {
        get { json["variant"]?.stringValue }
        set { json.set("variant", newValue.map(JSONValue.string)) }
    }

    /// `config.Labels` (config.md "Labels").
    public var labels: [String: String] {
        var result: [String: String] = [:]
        for member in json["config"]?["Labels"]?.members ?? [] {
            if let value = member.value.stringValue { result[member.key] = value }
        }
        return result
    }

    /// Sets one label, keeping every other field of `config`.
    public mutating func setLabel(_ key: String, _ value: String) {
        var config = json["config"] ?? .object([])
        if case .null = config { config = .object([]) }
        var labels = config["Labels"] ?? .object([])
        if case .null = labels { labels = .object([]) }
        labels.set(key, .string(value))
        config.set("Labels", labels)
        json.set("config", config)
    }

    /// The platform the config declares, when it has both os and architecture.
    public var platform: Platform? {
        guard let os, let architecture else { return nil }
        return Platform(os: os, architecture: architecture, variant: variant)
    }

    /// config.md "rootfs.diff_ids": digests of the uncompressed layers, in order.
    public func diffIDs() throws -> [Digest] {
        guard let rootfs = json["rootfs"] else { return [] }
        guard let items = rootfs["diff_ids"]?.arrayValue else {
            throw EngineError(.invalidInput, "the image configuration's rootfs has no diff_ids array")
        }
        return try items.map { item in
            guard let text = item.stringValue else {
                throw EngineError(.invalidInput, "the image configuration's rootfs.diff_ids holds a non-string")
            }
            return try Digest(text)
        }
    }

    /// Replaces `rootfs.diff_ids`, keeping any other `rootfs` members; sets
    /// `rootfs.type` to "layers" (the only value config.md allows) when absent.
    public mutating func setDiffIDs(_ ids: [Digest]) {
        var rootfs = json["rootfs"] ?? .object([])
        if case .object = rootfs {} else { rootfs = .object([]) }
        if rootfs["type"] == nil { rootfs.set("type", .string("layers")) }
        rootfs.set("diff_ids", .array(ids.map { .string($0.description) }))
        json.set("rootfs", rootfs)
    }

    public mutating func appendDiffID(_ id: Digest) throws {
        setDiffIDs(try diffIDs() + [id])
    }
}

import BuildKitAPI
import Foundation
import SwiftProtobuf

/// An LLB graph under construction. Each op is marshalled once, with
/// deterministic field and map order, and named by the SHA-256 of its bytes:
/// BuildKit names vertices the same way, so the same graph hits BuildKit's
/// cache from one job to the next.
struct LLBDefinition {
    /// One output of one op.
    struct Output: Hashable {
        let digest: String
        let index: Int64
    }

    private(set) var ops: [Data] = []
    private var digests: Set<String> = []
    private(set) var metadata: [String: Pb_OpMetadata] = [:]

    /// Adds `op` (once, however often it is added) and returns its output 0.
    /// `name` is what BuildKit's progress shows for the vertex; `caps` are
    /// the capabilities BuildKit must have to run it.
    mutating func add(_ op: Pb_Op, name: String, caps: [String]) throws -> Output {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: Data = try op.serializedBytes(options: options)
        let digest = Digest.sha256(bytes).description
        if digests.insert(digest).inserted {
            ops.append(bytes)
            var meta = Pb_OpMetadata()
            meta.description_p = ["llb.customname": name]
            for cap in caps { meta.caps[cap] = true }
            metadata[digest] = meta
        }
        return Output(digest: digest, index: 0)
    }

    /// The definition BuildKit solves: every op, then the terminal op whose
    /// only input is `result`.
    func definition(result: Output) throws -> Pb_Definition {
        var terminal = Pb_Op()
        terminal.inputs = [Self.input(result)]
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        var definition = Pb_Definition()
        definition.def = ops + [try terminal.serializedBytes(options: options)]
        definition.metadata = metadata
        return definition
    }

    static func input(_ output: Output) -> Pb_Input {
        var input = Pb_Input()
        input.digest = output.digest
        input.index = output.index
        return input
    }

    // MARK: Ops

    static func platform(_ platform: Platform) -> Pb_Platform {
        var value = Pb_Platform()
        value.os = platform.os
        value.architecture = platform.architecture
        value.variant = platform.variant ?? ""
        return value
    }

    /// `docker-image://REF` pinned by digest, for `platform`.
    mutating func image(_ reference: String, platform: Platform, name: String) throws -> Output {
        var source = Pb_SourceOp()
        source.identifier = "docker-image://" + reference
        var op = Pb_Op()
        op.source = source
        op.platform = Self.platform(platform)
        return try add(op, name: name, caps: ["source.image"])
    }

    /// The files `upper` has that `lower` lacks or has differently, deletions
    /// as whiteouts: one layer's worth.
    mutating func diff(lower: Output, upper: Output, name: String) throws -> Output {
        var op = Pb_Op()
        op.inputs = [Self.input(lower), Self.input(upper)]
        var diff = Pb_DiffOp()
        diff.lower.input = 0
        diff.upper.input = 1
        op.diff = diff
        return try add(op, name: name, caps: ["diffop"])
    }

    /// `inputs` stacked in order; image layers of each input are kept as they are.
    mutating func merge(_ inputs: [Output], name: String) throws -> Output {
        var op = Pb_Op()
        op.inputs = inputs.map(Self.input)
        var merge = Pb_MergeOp()
        merge.inputs = inputs.indices.map { index in
            var input = Pb_MergeInput()
            input.input = Int64(index)
            return input
        }
        op.merge = merge
        return try add(op, name: name, caps: ["mergeop"])
    }

    /// A mount of an ExecOp.
    struct Mount {
        enum Kind {
            /// Input `Output` at `dest`; `keep` makes its changed state an output.
            case layer(Output, keep: Bool)
            /// A persistent cache directory shared by jobs, one writer at a time.
            case cache(id: String)
            case tmpfs
        }
        let dest: String
        let kind: Kind
    }

    /// Runs `args` (an argument array: nothing is parsed by a shell unless
    /// args[0] is one) with the first mount as the root filesystem. Returns
    /// the outputs of the kept mounts, in mount order.
    mutating func exec(args: [String], env: [String], mounts: [Mount], platform: Platform,
                       network: Pb_NetMode, name: String) throws -> [Output] {
        var meta = Pb_Meta()
        meta.args = args
        meta.env = env
        meta.cwd = "/"
        meta.user = "0:0"
        var exec = Pb_ExecOp()
        exec.meta = meta
        exec.network = network
        var inputs: [Pb_Input] = []
        var outputs = 0
        var caps: Set<String> = ["exec.meta.base", "exec.mount.bind"]
        if network != .unset { caps.insert("exec.meta.network") }
        for mount in mounts {
            var value = Pb_Mount()
            value.dest = mount.dest
            switch mount.kind {
            case .layer(let output, let keep):
                value.input = Int64(inputs.count)
                inputs.append(Self.input(output))
                value.output = keep ? Int64(outputs) : -1
                if keep { outputs += 1 }
            case .cache(let id):
                value.input = -1
                value.output = -1
                value.mountType = .cache
                value.cacheOpt.id = id
                value.cacheOpt.sharing = .locked
                caps.formUnion(["exec.mount.cache", "exec.mount.cache.sharing"])
            case .tmpfs:
                value.input = -1
                value.output = -1
                value.mountType = .tmpfs
                caps.insert("exec.mount.tmpfs")
            }
            exec.mounts.append(value)
        }
        var op = Pb_Op()
        op.inputs = inputs
        op.exec = exec
        op.platform = Self.platform(platform)
        let first = try add(op, name: name, caps: caps.sorted())
        return (0..<outputs).map { Output(digest: first.digest, index: Int64($0)) }
    }
}

import Engine
import Foundation

extension AgentPolicy.Rules {
    /// Checks a request against the rules and returns it with its layout
    /// paths resolved (relative ones under the first root, symlinks followed),
    /// so the job uses exactly the path that was checked. `agentMirrors` are
    /// the hosts of the agent's own `--apt-mirror`, always allowed.
    func authorize(_ request: PatchRequest, agentMirrors: [String]) throws(PolicyRefusal) -> PatchRequest {
        var request = request
        request.image = try authorizeRead(request.image, insecureRegistries: request.options.insecureRegistries)
        request.target = try authorizeWrite(request.target, source: request.image)
        var uris: [String] = []
        if let mirror = request.options.aptMirror { uris.append(mirror) }
        for line in request.options.aptSources {
            guard let sources = try? AptSource.parseOneLine(line) else { continue }
            uris += sources.map(\.uri)
        }
        for uri in uris { try checkSource(uri, agentMirrors: agentMirrors) }
        request.options.allowPrivateAddresses = allowPrivateAddresses
        return request
    }

    /// Checks where a job writes: a layout under the write roots (returned
    /// resolved), a registry repository the push patterns allow (by default
    /// only the source's own repository).
    func authorizeWrite(_ target: ImageReference, source: ImageReference) throws(PolicyRefusal) -> ImageReference {
        switch target {
        case .layout(let path, let tag):
            return .layout(path: try Self.confine(path, to: layoutWriteRoots, rule: "layouts.write"), tag: tag)
        case .registry(let reference):
            let name = "\(reference.registry)/\(reference.repository)"
            if let push {
                guard Self.matches(push, name) else {
                    throw PolicyRefusal(rule: "registries.push", "this agent does not push to \(name) for this client")
                }
            } else {
                guard case .registry(let origin) = source, origin.registry == reference.registry,
                      origin.repository == reference.repository else {
                    throw PolicyRefusal(rule: "registries.push",
                        "this agent pushes only beside the source image (same registry and repository, another tag), not to \(name)")
                }
            }
            return target
        }
    }

    /// Checks an image the client wants read (a job's source, an Inspect):
    /// a layout under the read roots (returned resolved), a registry
    /// repository the pull patterns allow, plain HTTP only to listed registries.
    func authorizeRead(_ image: ImageReference, insecureRegistries requested: [String]) throws(PolicyRefusal) -> ImageReference {
        for registry in requested where !Self.matches(insecureRegistries, registry) {
            throw PolicyRefusal(rule: "registries.insecure",
                "this agent does not talk plain HTTP to \(registry); only registries its policy lists may be insecure")
        }
        switch image {
        case .layout(let path, let tag):
            return .layout(path: try Self.confine(path, to: layoutReadRoots, rule: "layouts.read"), tag: tag)
        case .registry(let source):
            guard Self.matches(pull, "\(source.registry)/\(source.repository)") else {
                throw PolicyRefusal(rule: "registries.pull",
                    "this agent does not pull \(source.registry)/\(source.repository) for this client")
            }
            return image
        }
    }

    /// A source a job names itself: http or https, to an allowed host.
    private func checkSource(_ uri: String, agentMirrors: [String]) throws(PolicyRefusal) {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else {
            throw PolicyRefusal(rule: "sources.schemes",
                "apt sources must be http:// or https:// URLs with a host; \(uri.prefix(200)) is not")
        }
        guard let allowed = sourceHosts else { return }
        let known = (allowed + agentMirrors).map { $0.lowercased() }
        guard Self.matches(known, host.lowercased()) else {
            throw PolicyRefusal(rule: "sources.hosts",
                "this agent fetches packages only from the image's own sources, its mirror and the hosts its policy lists, not from \(host)")
        }
    }

    static func matches(_ patterns: [String], _ name: String) -> Bool {
        patterns.contains { fnmatch($0, name, 0) == 0 }
    }

    /// `path` made absolute (relative paths are under the first root),
    /// canonical (symlinks of its existing part followed) and checked to be
    /// under one of `roots`; nil roots allow any path.
    static func confine(_ path: String, to roots: [String]?, rule: String) throws(PolicyRefusal) -> String {
        guard let roots else { return path }
        guard !path.split(separator: "/").contains("..") else {
            throw PolicyRefusal(rule: rule, "layout paths may not contain '..': \(path.prefix(200))")
        }
        guard let first = roots.first else {
            throw PolicyRefusal(rule: rule, "this agent reads and writes no OCI layouts for this client")
        }
        let absolute = path.hasPrefix("/") ? path : first + "/" + path
        let resolved = canonical(absolute)
        let canonicalRoots = roots.map(canonical)
        guard canonicalRoots.contains(where: { resolved == $0 || resolved.hasPrefix($0 == "/" ? "/" : $0 + "/") }) else {
            throw PolicyRefusal(rule: rule,
                "\(path.prefix(200)) is outside the layout directories this agent allows (\(roots.joined(separator: ", ")))")
        }
        return resolved
    }

    /// realpath(3) of the longest existing prefix, with the rest appended
    /// (what does not exist yet holds no symlink).
    static func canonical(_ path: String) -> String {
        var existing = path
        var rest: [String] = []
        while true {
            if let real = realpath(existing, nil) {
                defer { free(real) }
                let base = String(cString: real)
                return rest.isEmpty ? base : (base == "/" ? "" : base) + "/" + rest.reversed().joined(separator: "/")
            }
            let url = URL(fileURLWithPath: existing)
            let last = url.lastPathComponent
            let parent = url.deletingLastPathComponent().path
            guard parent != existing, !last.isEmpty else { return path }
            if last != "." { rest.append(last) }
            existing = parent
        }
    }
}

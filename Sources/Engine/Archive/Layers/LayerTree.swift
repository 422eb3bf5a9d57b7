/// The merged filesystem of the layers applied so far, as a tree of path
/// components. Deleting a directory (a whiteout) drops its subtree in one
/// step, whatever its size.
final class LayerTree {
    enum Kind: Equatable {
        case directory
        case symlink(target: String)
        /// Regular files, hard links, devices, fifos.
        case other
    }

    /// Everything the collector keeps about one path.
    struct Payload {
        var entry: CollectedFiles.Entry?
        var md5: String?
    }

    final class Node {
        var kind: Kind
        var payload: Payload
        var children: [String: Node] = [:]

        init(kind: Kind, payload: Payload = Payload()) {
            self.kind = kind
            self.payload = payload
        }
    }

    /// Symbolic links followed while resolving one path, as Linux's MAXSYMLINKS.
    static let maxSymlinkHops = 40

    let root = Node(kind: .directory)

    /// The node at `path`, following symbolic links in its parent
    /// directories but not in its last component (like lstat(2)).
    func node(at path: [String]) throws -> Node? {
        guard let name = path.last else { return root }
        return try parent(of: path, creating: false)?.children[name]
    }

    /// Removes `path` and everything below it (OCI whiteout).
    func remove(_ path: [String]) throws {
        guard let name = path.last else { return }
        try parent(of: path, creating: false)?.children[name] = nil
    }

    /// Places `node` at `path`. Missing parent directories are created, as
    /// extracting a tar creates them; a directory placed over a directory
    /// keeps the existing children (tar merges them).
    func insert(_ node: Node, at path: [String]) throws {
        guard let name = path.last, let parent = try parent(of: path, creating: true) else { return }
        if node.kind == .directory, let existing = parent.children[name], existing.kind == .directory {
            existing.payload = node.payload
            return
        }
        parent.children[name] = node
    }

    /// The directory that holds the last component of `path`. With
    /// `creating`, missing directories are made and non-directories in the
    /// way are replaced by directories.
    private func parent(of path: [String], creating: Bool) throws -> Node? {
        var chain = [root]
        var pending = Array(path.dropLast().reversed())
        var hops = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                if chain.count > 1 { chain.removeLast() }
                continue
            }
            let directory = chain[chain.count - 1]
            guard let child = directory.children[component] else {
                guard creating else { return nil }
                let made = Node(kind: .directory)
                directory.children[component] = made
                chain.append(made)
                continue
            }
            switch child.kind {
            case .directory:
                chain.append(child)
            case .symlink(let target):
                hops += 1
                guard hops <= Self.maxSymlinkHops else {
                    throw EngineError(.archive, "too many levels of symbolic links resolving \"\(path.joined(separator: "/"))\" in the image layers")
                }
                if target.hasPrefix("/") { chain = [root] }
                pending.append(contentsOf: target.split(separator: "/").reversed().map(String.init))
            case .other:
                guard creating else { return nil }
                let made = Node(kind: .directory)
                directory.children[component] = made
                chain.append(made)
            }
        }
        return chain[chain.count - 1]
    }

    /// Visits every node with its normalized path.
    func walk(_ visit: (String, Node) -> Void) {
        var stack: [(String, Node)] = [("", root)]
        while let (path, node) = stack.popLast() {
            visit(path, node)
            for (name, child) in node.children {
                stack.append((path.isEmpty ? name : path + "/" + name, child))
            }
        }
    }
}

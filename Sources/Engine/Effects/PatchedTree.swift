/// One path of the patched image's file system.
enum TreeNode: Sendable, Equatable {
    /// A regular file; `content` is nil where neither the probe nor the patch
    /// layer kept the bytes.
    case regular(content: [UInt8]?, mode: UInt32, uid: Int, gid: Int)
    case symlink(target: String)
    case directory
    /// Devices, fifos, hard links the view does not resolve.
    case other
}

/// The image's file system as the patch layer leaves it: the probed layers
/// with the layer's entries so far on top, and changes a maintainer-script
/// effect makes on top of those. Paths are relative to the root ("etc/ssl").
/// Effects read it as the scripts they replace would read the real tree.
struct PatchedTree {
    typealias Lookup = (String) -> TreeNode?
    typealias Listing = (String) -> [String]

    private let base: Lookup
    private let baseChildren: Listing
    /// Changes made through this tree: nil removes the path.
    private(set) var changes: [String: TreeNode?] = [:]

    init(lookup: @escaping Lookup, children: @escaping Listing) {
        base = lookup
        baseChildren = children
    }

    /// The node at `path`, not following a final symlink (lstat).
    func node(_ path: String) -> TreeNode? {
        if let changed = changes[path] { return changed }
        return base(path)
    }

    /// Names directly inside `directory`, sorted by bytes.
    func children(_ directory: String) -> [String] {
        var names = Set(baseChildren(directory))
        for path in changes.keys { if let name = Self.childName(of: path, in: directory) { names.insert(name) } }
        let prefix = directory.isEmpty ? "" : directory + "/"
        return names.filter { node(prefix + $0) != nil }.sorted(by: PatchedTree.byteOrder)
    }

    /// The name of `path` when it is directly inside `directory`.
    static func childName(of path: String, in directory: String) -> String? {
        let prefix = directory.isEmpty ? "" : directory + "/"
        guard path.hasPrefix(prefix) else { return nil }
        let rest = path.dropFirst(prefix.count)
        return rest.isEmpty || rest.contains("/") ? nil : String(rest)
    }

    /// `path` with every symlink followed, in its directories as well as at
    /// its end (stat), or nil when it dangles, loops, leaves the root or
    /// passes through something that is not a directory.
    func resolve(_ path: String) -> String? {
        var pending = ArraySlice(path.split(separator: "/").map(String.init))
        var resolved: [String] = []
        var hops = 0
        while let name = pending.popFirst() {
            if name == "." { continue }
            if name == ".." {
                guard resolved.popLast() != nil else { return nil }
                continue
            }
            let candidate = (resolved + [name]).joined(separator: "/")
            switch node(candidate) {
            case nil:
                return nil
            case .symlink(let target)?:
                hops += 1
                guard hops <= 40, let base = ArchivePath.resolve(target, from: target.hasPrefix("/") ? [] : resolved) else { return nil }
                resolved = []
                pending = ArraySlice(base) + pending
            case .directory?:
                resolved.append(name)
            default:
                guard pending.isEmpty else { return nil }
                resolved.append(name)
            }
        }
        return resolved.joined(separator: "/")
    }

    /// `test -e`.
    func exists(_ path: String) -> Bool { resolve(path) != nil }

    /// `test -f`: a regular file, following symlinks.
    func isRegularFile(_ path: String) -> Bool {
        guard let resolved = resolve(path), case .regular? = node(resolved) else { return false }
        return true
    }

    /// A regular file's bytes, following symlinks.
    func content(_ path: String) -> [UInt8]? {
        guard let resolved = resolve(path), case .regular(let content, _, _, _)? = node(resolved) else { return nil }
        return content
    }

    mutating func set(_ path: String, _ node: TreeNode?) { changes[path] = .some(node) }

    /// Every path below `directory` (`find DIR`), depth first in byte order,
    /// each with the path that holds it; with `followLinks`, symlinked
    /// directories are entered (`find -L`) and `real` is the resolved path.
    func walk(_ directory: String, followLinks: Bool) -> [(path: String, real: String)] {
        walk(directory, real: followLinks ? (resolve(directory) ?? directory) : directory, followLinks: followLinks, depth: 0)
    }

    private func walk(_ directory: String, real: String, followLinks: Bool, depth: Int) -> [(path: String, real: String)] {
        guard depth < 32 else { return [] }
        var result: [(path: String, real: String)] = []
        for name in children(real) {
            let path = directory + "/" + name
            var realPath = real + "/" + name
            if followLinks, let resolved = resolve(realPath) { realPath = resolved }
            result.append((path, realPath))
            if node(realPath) == .directory {
                result += walk(path, real: realPath, followLinks: followLinks, depth: depth + 1)
            }
        }
        return result
    }

    static func byteOrder(_ lhs: String, _ rhs: String) -> Bool { lhs.utf8.lexicographicallyPrecedes(rhs.utf8) }
}

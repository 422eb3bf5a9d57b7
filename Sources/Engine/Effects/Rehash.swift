/// `openssl rehash DIR` (OpenSSL 3.0) as data: every file in the directory
/// named `*.pem`, `*.crt`, `*.cer` or `*.crl` (any case) that holds exactly
/// one certificate or CRL gets a link `<hash>.<n>` (`<hash>.r<n>` for CRLs)
/// to its name, `<hash>` being the subject (issuer) hash and `<n>` the first
/// free number among the certificates with that hash. Existing hash links
/// whose number is below the count of files that need one are kept as they
/// are; other hash links are removed; a certificate identical to one already
/// linked (same SHA-1) is skipped.
///
/// OpenSSL takes the directory in readdir order; this takes it in byte order,
/// so only when two new certificates share a hash could the numbering differ.
struct Rehash {
    let directory: String

    private struct Entry {
        var filename: String
        var oldID: Int = Int.max
        var needsLink = false
        var digest: [UInt8] = []
    }

    private struct Bucket {
        var entries: [Entry] = []
        var needed = 0
    }

    private struct Key: Hashable {
        let kind: X509Hash.Object.Kind
        let hash: UInt32
    }

    func apply(to tree: inout PatchedTree) {
        var buckets: [Key: Bucket] = [:]
        var order: [Key] = []
        func add(_ key: Key, filename: String, digest: [UInt8]?, oldID: Int) {
            if buckets[key] == nil { buckets[key] = Bucket(); order.append(key) }
            var bucket = buckets[key]!
            var found: Int?
            for (index, entry) in bucket.entries.enumerated() {
                if let digest, entry.needsLink, entry.digest == digest { return }
                if entry.filename == filename {
                    found = index
                    if digest == nil { break }
                }
            }
            let index = found ?? {
                bucket.entries.append(Entry(filename: filename))
                return bucket.entries.count - 1
            }()
            bucket.entries[index].oldID = min(bucket.entries[index].oldID, oldID)
            if let digest, !bucket.entries[index].needsLink {
                bucket.entries[index].needsLink = true
                bucket.entries[index].digest = digest
                bucket.needed += 1
            }
            buckets[key] = bucket
        }

        for name in tree.children(directory) {
            let path = directory + "/" + name
            if case .symlink(let target)? = tree.node(path), let link = Self.parseLinkName(name) {
                add(Key(kind: link.kind, hash: link.hash), filename: target, digest: nil, oldID: link.id)
                continue
            }
            guard let object = Self.object(named: name, at: path, in: tree) else { continue }
            add(Key(kind: object.kind, hash: object.hash), filename: name, digest: object.digest, oldID: Int.max)
        }

        for key in order {
            let bucket = buckets[key]!
            var used = Set(bucket.entries.map(\.oldID).filter { $0 < bucket.needed })
            var nextID = 0
            for entry in bucket.entries {
                if entry.oldID < bucket.needed { continue }
                if entry.needsLink {
                    while used.contains(nextID) { nextID += 1 }
                    tree.set(directory + "/" + Self.linkName(key, nextID), .symlink(target: entry.filename))
                    used.insert(nextID)
                } else {
                    tree.set(directory + "/" + Self.linkName(key, entry.oldID), nil)
                }
            }
        }
    }

    private static func linkName(_ key: Key, _ id: Int) -> String {
        let hex = String(key.hash, radix: 16)
        return String(repeating: "0", count: max(0, 8 - hex.count)) + hex + "." + (key.kind == .crl ? "r" : "") + String(id)
    }

    /// `XXXXXXXX.N` or `XXXXXXXX.rN` (hex hash, decimal number).
    static func parseLinkName(_ name: String) -> (kind: X509Hash.Object.Kind, hash: UInt32, id: Int)? {
        let bytes = Array(name.utf8)
        guard bytes.count >= 9, bytes[8] == UInt8(ascii: "."),
              let hash = UInt32(String(decoding: bytes[0..<8], as: UTF8.self), radix: 16),
              bytes[0..<8].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }) else { return nil }
        var rest = bytes[9...]
        var kind = X509Hash.Object.Kind.certificate
        if let first = rest.first, first | 0x20 == UInt8(ascii: "r") { kind = .crl; rest = rest.dropFirst() }
        guard rest.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let id = rest.isEmpty ? 0 : Int(String(decoding: rest, as: UTF8.self)) ?? Int.max
        return (kind, hash, id)
    }

    /// The one certificate or CRL in a file with a recognized extension.
    private static func object(named name: String, at path: String, in tree: PatchedTree) -> X509Hash.Object? {
        guard let dot = name.lastIndex(of: "."),
              ["pem", "crt", "cer", "crl"].contains(name[name.index(after: dot)...].lowercased()),
              let content = tree.content(path) else { return nil }
        let items = PEMFile.items(content)
        guard items.count == 1 else { return nil }
        switch items[0].kind {
        case .certificate: return try? X509Hash.certificate(items[0].der)
        case .crl: return try? X509Hash.crl(items[0].der)
        }
    }
}

/// Ordering of Debian versions (Debian Policy 5.6.12, "Sorting algorithm"),
/// implemented as dpkg's `verrevcmp()` so results match `dpkg --compare-versions`:
/// epochs compare numerically, then upstream, then revision, each split into
/// alternating non-digit and digit runs. In non-digit runs `~` sorts before
/// everything (even the end of the string), letters before non-letters; digit
/// runs compare as numbers, digit by digit, so no run length can overflow.
extension DebianVersion: Comparable, Hashable {
    public static func < (lhs: DebianVersion, rhs: DebianVersion) -> Bool {
        compare(lhs, rhs) < 0
    }

    public static func == (lhs: DebianVersion, rhs: DebianVersion) -> Bool {
        compare(lhs, rhs) == 0
    }

    /// Hashes the canonical form: two versions dpkg calls equal (`1.0`,
    /// `0:1.00`, `1.0-0`) hash alike.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        Self.hashCanonical(Array(upstream.utf8), into: &hasher)
        hasher.combine(0xFF as UInt8)
        Self.hashCanonical(Array(revision.utf8), into: &hasher)
    }

    /// Negative, zero or positive as `lhs` sorts before, equal to or after `rhs`.
    public static func compare(_ lhs: DebianVersion, _ rhs: DebianVersion) -> Int {
        if lhs.epoch != rhs.epoch { return lhs.epoch < rhs.epoch ? -1 : 1 }
        let upstream = compareFragment(lhs.upstream, rhs.upstream)
        if upstream != 0 { return upstream }
        return compareFragment(lhs.revision, rhs.revision)
    }

    /// dpkg's `order()`: the weight of one byte in a non-digit run; 0 stands
    /// for "end of string" and for a digit (which ends the run).
    private static func order(_ byte: UInt8?) -> Int {
        guard let byte else { return 0 }
        if byte.isDpkgDigit { return 0 }
        if byte.isDpkgLetter { return Int(byte) }
        if byte == UInt8(ascii: "~") { return -1 }
        return Int(byte) + 256
    }

    static func compareFragment(_ lhs: String, _ rhs: String) -> Int {
        var lhs = lhs, rhs = rhs
        return lhs.withUTF8 { a in rhs.withUTF8 { b in compareFragment(a, b) } }
    }

    /// dpkg's `verrevcmp()` on one part (upstream or revision).
    static func compareFragment(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        var i = 0, j = 0
        func at(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }
        while i < a.count || j < b.count {
            // Non-digit run, compared byte by byte with `order`.
            while (at(a, i).map { !$0.isDpkgDigit } ?? false) || (at(b, j).map { !$0.isDpkgDigit } ?? false) {
                let ac = order(at(a, i)), bc = order(at(b, j))
                if ac != bc { return ac - bc }
                i += 1
                j += 1
            }
            // Digit run: skip leading zeros, then the longer run is larger;
            // equal lengths are decided by the first differing digit.
            while at(a, i) == UInt8(ascii: "0") { i += 1 }
            while at(b, j) == UInt8(ascii: "0") { j += 1 }
            var firstDifference = 0
            while let x = at(a, i), x.isDpkgDigit, let y = at(b, j), y.isDpkgDigit {
                if firstDifference == 0 { firstDifference = Int(x) - Int(y) }
                i += 1
                j += 1
            }
            if at(a, i)?.isDpkgDigit == true { return 1 }
            if at(b, j)?.isDpkgDigit == true { return -1 }
            if firstDifference != 0 { return firstDifference }
        }
        return 0
    }

    /// Feeds the fragment as `compareFragment` sees it: (non-digit run,
    /// digit run without leading zeros) pairs, dropping trailing pairs that
    /// are both empty, since "1a" and "1a0" compare equal.
    private static func hashCanonical(_ bytes: [UInt8], into hasher: inout Hasher) {
        var pairs: [([UInt8], ArraySlice<UInt8>)] = []
        var index = 0
        while index < bytes.count {
            let letterStart = index
            while index < bytes.count, !bytes[index].isDpkgDigit { index += 1 }
            let letters = Array(bytes[letterStart..<index])
            while index < bytes.count, bytes[index] == UInt8(ascii: "0") { index += 1 }
            let digitStart = index
            while index < bytes.count, bytes[index].isDpkgDigit { index += 1 }
            pairs.append((letters, bytes[digitStart..<index]))
        }
        while let last = pairs.last, last.0.isEmpty, last.1.isEmpty { pairs.removeLast() }
        for (letters, digits) in pairs {
            hasher.combine(letters)
            hasher.combine(Array(digits))
        }
    }
}

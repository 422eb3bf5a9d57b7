/// What glibc's ldconfig reads from a shared object (elf/readelflib.c and the
/// per-architecture `process_elf_file`): its `DT_SONAME` and the flags its
/// cache entry gets, which say which ABI it is for.
struct ELFLibrary: Sendable, Equatable {
    /// The object's `DT_SONAME`; nil when it has none (ldconfig then uses the
    /// file's own name).
    var soname: String?
    /// `struct file_entry_new.flags`: the kind (`FLAG_ELF_LIBC6` …) and the
    /// ABI bits (`FLAG_X8664_LIB64` …).
    var flags: Int32

    static let flagELF: Int32 = 0x0001
    static let flagELFLibc6: Int32 = 0x0003
    static let flagX8664Lib64: Int32 = 0x0300
    static let flagX8664LibX32: Int32 = 0x0800
    static let flagARMHardFloat: Int32 = 0x0900
    static let flagAArch64Lib64: Int32 = 0x0a00
    static let flagARMSoftFloat: Int32 = 0x0b00

    /// The ldconfig whose rules apply, by the image's dpkg architecture; nil
    /// for architectures this reader does not model.
    enum Reader: Sendable {
        /// x86's `process_elf_file`: x86-64 and x32 objects are always libc6,
        /// i386 objects are classified by their interpreter and needed
        /// libraries, any other machine is skipped.
        case x86
        /// arm's (also aarch64's): every 64-bit object is an AArch64 libc6
        /// library; 32-bit EABI 5 objects by their float ABI.
        case arm

        init?(architecture: String) {
            switch architecture {
            case "amd64", "i386": self = .x86
            case "arm64", "armhf", "armel": self = .arm
            default: return nil
            }
        }
    }

    /// `_dl_is_dso`: the names ldconfig looks at in a directory.
    static func looksLikeLibrary(_ name: String) -> Bool {
        ((name.hasPrefix("lib") || name.hasPrefix("ld-")) && name.contains(".so"))
            || name.hasPrefix("ld.so.") || name.hasPrefix("ld64.so.")
    }

    /// The library as ldconfig's `process_file` sees it; nil where ldconfig
    /// skips the file (not ELF, not `ET_DYN`, no dynamic segment, a machine
    /// the reader rejects, offsets outside the file).
    static func read(_ bytes: [UInt8], reader: Reader) -> ELFLibrary? {
        guard bytes.count >= 64, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else { return nil }
        guard let file = ELFFile(bytes), file.type == 3 else { return nil }
        switch reader {
        case .x86:
            switch (file.machine, file.is64) {
            case (62, true): return file.library(forcing: flagX8664Lib64 | flagELFLibc6)
            case (62, false): return file.library(forcing: flagX8664LibX32 | flagELFLibc6)
            case (3, false): return file.library(forcing: nil)
            default: return nil
            }
        case .arm:
            if file.is64 { return file.library(forcing: flagAArch64Lib64 | flagELFLibc6) }
            guard var library = file.library(forcing: nil) else { return nil }
            if file.flags >> 24 == 5 {
                if file.flags & 0x400 != 0 {
                    library.flags = flagARMHardFloat | flagELFLibc6
                } else if file.flags & 0x200 != 0 {
                    library.flags = flagARMSoftFloat | flagELFLibc6
                } else {
                    library.flags = flagELFLibc6
                }
            }
            return library
        }
    }
}

/// The parts of an ELF file ldconfig reads, bounds-checked.
private struct ELFFile {
    let bytes: [UInt8]
    let is64: Bool
    let little: Bool
    let type: UInt16
    let machine: UInt16
    let flags: UInt32
    let programHeaders: [(type: UInt32, offset: UInt64, vaddr: UInt64, filesz: UInt64)]

    init?(_ bytes: [UInt8]) {
        let is64: Bool, little: Bool
        switch (bytes[4], bytes[5]) {
        case (1, 1): (is64, little) = (false, true)
        case (2, 1): (is64, little) = (true, true)
        case (1, 2): (is64, little) = (false, false)
        case (2, 2): (is64, little) = (true, false)
        default: return nil
        }
        let word = { (at: Int) -> UInt64? in
            is64 ? Self.read64(bytes, at, little) : Self.read32(bytes, at, little).map(UInt64.init)
        }
        guard let type = Self.read16(bytes, 16, little), let machine = Self.read16(bytes, 18, little),
              let phoff = word(is64 ? 32 : 28), let flags = Self.read32(bytes, is64 ? 48 : 36, little),
              let phentsize = Self.read16(bytes, is64 ? 54 : 42, little),
              let phnum = Self.read16(bytes, is64 ? 56 : 44, little) else { return nil }
        var headers: [(type: UInt32, offset: UInt64, vaddr: UInt64, filesz: UInt64)] = []
        for index in 0..<Int(phnum) {
            let (at, overflow) = phoff.addingReportingOverflow(UInt64(index) * UInt64(phentsize))
            guard !overflow, at < UInt64(bytes.count) else { return nil }
            let base = Int(at)
            // Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz; Elf32_Phdr: type, offset, vaddr, paddr, filesz.
            guard let type = Self.read32(bytes, base, little),
                  let offset = word(base + (is64 ? 8 : 4)), let vaddr = word(base + (is64 ? 16 : 8)),
                  let filesz = word(base + (is64 ? 32 : 16)) else { return nil }
            headers.append((type, offset, vaddr, filesz))
        }
        self.bytes = bytes
        self.is64 = is64
        self.little = little
        self.type = type
        self.machine = machine
        self.flags = flags
        programHeaders = headers
    }

    /// The soname and flags as `process_elf_file` of readelflib.c finds
    /// them; `forcing` is the architecture's override of the flags.
    func library(forcing: Int32?) -> ELFLibrary? {
        var flags = ELFLibrary.flagELF
        if let interpreter = programHeaders.first(where: { $0.type == 3 }), let name = string(at: interpreter.offset),
           Self.knownInterpreters.contains(name) {
            flags = ELFLibrary.flagELFLibc6
        }
        guard let dynamic = programHeaders.first(where: { $0.type == 2 }), dynamic.filesz > 0 else { return nil }
        let entrySize: UInt64 = is64 ? 16 : 8
        var entries: [(tag: UInt64, value: UInt64)] = []
        var at = dynamic.offset
        while true {
            guard at < UInt64(bytes.count) else { return nil }
            let base = Int(at)
            let tag = is64 ? Self.read64(bytes, base, little) : Self.read32(bytes, base, little).map(UInt64.init)
            let value = is64 ? Self.read64(bytes, base + 8, little) : Self.read32(bytes, base + 4, little).map(UInt64.init)
            guard let tag, let value else { return nil }
            if tag == 0 { break }
            entries.append((tag, value))
            at += entrySize
        }
        guard let strtab = entries.first(where: { $0.tag == 5 })?.value else { return nil }
        let load = programHeaders.first { $0.type == 1 && strtab >= $0.vaddr && strtab - $0.vaddr < $0.filesz }
        let strings = load.map { strtab - ($0.vaddr &- $0.offset) } ?? strtab
        var soname: String?
        for entry in entries where entry.tag == 1 || entry.tag == 14 {
            let (offset, overflow) = strings.addingReportingOverflow(entry.value)
            guard !overflow, let name = string(at: offset) else { return nil }
            if entry.tag == 1 {
                if flags == ELFLibrary.flagELF, Self.knownLibraries.contains(name) { flags = ELFLibrary.flagELFLibc6 }
            } else {
                soname = name
            }
            if soname != nil, flags != ELFLibrary.flagELF { break }
        }
        return ELFLibrary(soname: soname, flags: forcing ?? flags)
    }

    static let knownInterpreters: Set<String> = [
        "/lib/ld-linux.so.2", "/libx32/ld-linux-x32.so.2", "/lib64/ld-linux-x86-64.so.2",
        "/lib/ld-linux-aarch64.so.1", "/lib/ld-linux.so.3", "/lib/ld-linux-armhf.so.3",
    ]
    static let knownLibraries: Set<String> = ["libc.so.6", "libm.so.6"]

    private func string(at offset: UInt64) -> String? {
        guard offset < UInt64(bytes.count) else { return nil }
        let start = Int(offset)
        guard let end = bytes[start...].firstIndex(of: 0) else { return nil }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    private static func read16(_ bytes: [UInt8], _ at: Int, _ little: Bool) -> UInt16? {
        guard at >= 0, at + 2 <= bytes.count else { return nil }
        return little ? UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 : UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
    }

    private static func read32(_ bytes: [UInt8], _ at: Int, _ little: Bool) -> UInt32? {
        guard at >= 0, at + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[at + (little ? index : 3 - index)]) << (8 * index) }
        return value
    }

    private static func read64(_ bytes: [UInt8], _ at: Int, _ little: Bool) -> UInt64? {
        guard at >= 0, at + 8 <= bytes.count else { return nil }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[at + (little ? index : 7 - index)]) << (8 * index) }
        return value
    }
}

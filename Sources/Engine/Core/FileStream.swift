import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Module-qualified so the calls are not shadowed by the `read`/`write` methods below.
#if canImport(Glibc)
private let posixRead = Glibc.read
private let posixWrite = Glibc.write
#elseif canImport(Musl)
private let posixRead = Musl.read
private let posixWrite = Musl.write
#elseif canImport(Darwin)
private let posixRead = Darwin.read
private let posixWrite = Darwin.write
#endif

/// A `ByteSource` over a local file, read with POSIX `read(2)`.
///
/// The descriptor is owned by this object and closed when it is released.
public final class FileSource: ByteSource {
    public let path: String
    private var descriptor: Int32

    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileStreamError.posix("cannot open \(path) for reading", errno) }
        self.path = path
        self.descriptor = fd
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    public func read(maxLength: Int) throws -> [UInt8] {
        guard maxLength > 0, descriptor >= 0 else { return [] }
        let fd = descriptor
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: maxLength) { buffer, count in
            count = 0
            while true {
                let n = posixRead(fd, buffer.baseAddress, maxLength)
                if n >= 0 { count = n; return }
                if errno != EINTR { failure = errno; return }
            }
        }
        if failure != 0 { throw FileStreamError.posix("cannot read \(path)", failure) }
        return bytes
    }
}

/// A `ByteSink` writing a local file (created or truncated, mode 0644) with
/// POSIX `write(2)`. `finish()` closes the file so write errors that surface
/// only on close are reported instead of lost.
public final class FileSink: ByteSink {
    public let path: String
    private var descriptor: Int32

    public init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileStreamError.posix("cannot open \(path) for writing", errno) }
        self.path = path
        self.descriptor = fd
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0 else {
            throw EngineError(.internal, "write to \(path) after the file was finished")
        }
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let n = posixWrite(descriptor, next, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileStreamError.posix("cannot write \(path)", errno)
            }
            next += n
            remaining -= n
        }
    }

    public func finish() throws {
        guard descriptor >= 0 else { return }
        let fd = descriptor
        descriptor = -1
        if close(fd) != 0 { throw FileStreamError.posix("cannot close \(path)", errno) }
    }
}

/// Builds `EngineError(.io, ...)` values carrying the POSIX error text.
enum FileStreamError {
    static func posix(_ what: String, _ code: Int32) -> EngineError {
        let reason = String(cString: strerror(code))
        return EngineError(.io, "\(what): \(reason) (errno \(code))")
    }
}

extension FileHandle {
    /// Reads until end of file, retrying reads a signal interrupts. Foundation's
    /// `readDataToEndOfFile` traps on EINTR, which a child process exiting
    /// (SIGCHLD) can cause while its output is being read.
    public func readAllRetryingInterrupts() -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fileDescriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                return data
            }
        }
    }
}

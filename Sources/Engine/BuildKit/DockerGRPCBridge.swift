import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reaches the BuildKit inside a Docker Engine. The engine serves BuildKit's
/// gRPC API on its HTTP socket behind `POST /grpc` with `Upgrade: h2c`; after
/// `101 Switching Protocols` the connection carries plain HTTP/2, which is
/// what a gRPC client speaks. The bridge listens on a private unix socket; for
/// each connection the gRPC client opens there, it opens one to the engine,
/// performs the upgrade, and then copies bytes both ways until either side
/// closes. Copying runs on dedicated threads, never on Swift's cooperative pool.
public final class DockerGRPCBridge: @unchecked Sendable {
    /// The socket the gRPC client connects to.
    public let path: String
    let engineSocket: String
    private let listener: Int32
    private let lock = NSLock()
    private var closed = false
    private var connections: Set<Int32> = []

    /// Checks that the engine answers the upgrade (so a wrong socket or an old
    /// engine fails here, with its own answer in the message), then listens.
    public init(engineSocket: String, directory: String) throws {
        try Self.upgrade(try Self.connect(engineSocket), engineSocket: engineSocket).close()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/buildkit-\(UUID().uuidString.prefix(8).lowercased()).sock"
        self.engineSocket = engineSocket
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw EngineError(.io, "socket(): \(String(cString: strerror(errno)))") }
        var address = try Self.unixAddress(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, chmod(path, 0o600) == 0, listen(listener, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(listener)
            throw EngineError(.io, "cannot listen on \(path): \(reason)")
        }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "docker-grpc-bridge"
        thread.start()
    }

    deinit { close() }

    public func close() {
        lock.lock()
        let wasClosed = closed
        closed = true
        let open = connections
        connections = []
        lock.unlock()
        guard !wasClosed else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
        unlink(path)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            guard track(client) else { Glibc.close(client); return }
            let thread = Thread { [self] in serve(client) }
            thread.name = "docker-grpc-bridge-conn"
            thread.start()
        }
    }

    private func track(_ fd: Int32) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if closed { return false }
        connections.insert(fd)
        return true
    }

    private func untrack(_ fd: Int32) {
        lock.lock(); connections.remove(fd); lock.unlock()
    }

    private func serve(_ client: Int32) {
        defer { untrack(client); Glibc.close(client) }
        guard let engine = try? Self.upgrade(try Self.connect(engineSocket), engineSocket: engineSocket),
              track(engine.fd) else { return }
        defer { untrack(engine.fd); Glibc.close(engine.fd) }
        if !engine.leftover.isEmpty, !Self.writeAll(client, engine.leftover) { return }
        let done = DispatchSemaphore(value: 0)
        let back = Thread {
            Self.pump(from: engine.fd, to: client)
            done.signal()
        }
        back.name = "docker-grpc-bridge-back"
        back.start()
        Self.pump(from: client, to: engine.fd)
        done.wait()
    }

    /// Copies until EOF or an error, then shuts the write side of `to` (and
    /// the read side of `from`) so the other direction ends too.
    private static func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            if !writeAll(to, Array(buffer[0..<count])) { break }
        }
        shutdown(to, Int32(SHUT_WR))
        shutdown(from, Int32(SHUT_RD))
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    struct Upgraded {
        let fd: Int32
        /// HTTP/2 bytes that arrived with the 101 answer.
        let leftover: [UInt8]
        func close() { Glibc.close(fd) }
    }

    static func connect(_ socketPath: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EngineError(.io, "socket(): \(String(cString: strerror(errno)))") }
        var address = try unixAddress(socketPath)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw EngineError(.executor, "cannot connect to the Docker Engine at unix://\(socketPath): \(reason)")
        }
        return fd
    }

    /// Sends the upgrade request and reads the engine's answer up to the end
    /// of its headers; anything but 101 is an error quoting the status line.
    static func upgrade(_ fd: Int32, engineSocket: String) throws -> Upgraded {
        let request = "POST /grpc HTTP/1.1\r\nHost: docker\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n"
        guard writeAll(fd, Array(request.utf8)) else {
            Glibc.close(fd)
            throw EngineError(.executor, "the Docker Engine at unix://\(engineSocket) closed the connection")
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let end: [UInt8] = [13, 10, 13, 10]
        while true {
            if let range = received.firstRange(of: end) {
                let head = String(decoding: received[..<range.lowerBound], as: UTF8.self)
                let status = head.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
                guard status.hasPrefix("HTTP/1.1 101") || status.hasPrefix("HTTP/1.0 101") else {
                    Glibc.close(fd)
                    throw EngineError(.executor,
                        "the Docker Engine at unix://\(engineSocket) answered '\(status)' to POST /grpc: its BuildKit API is not available there")
                }
                return Upgraded(fd: fd, leftover: Array(received[range.upperBound...]))
            }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0, received.count < 64 * 1024 else {
                Glibc.close(fd)
                throw EngineError(.executor, "the Docker Engine at unix://\(engineSocket) did not answer the /grpc upgrade")
            }
            received += chunk[0..<count]
        }
    }

    static func unixAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw EngineError(.invalidInput, "socket path \(path) is too long for a unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        return address
    }
}

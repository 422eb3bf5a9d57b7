import Foundation
import Synchronization

/// A minimal HTTP/1.1 server on a loopback port for test doubles (a token
/// service, a redirecting front): one request per connection, no request
/// bodies, served by a thread of its own until `stop()`.
final class LoopbackHTTPServer: Sendable {
    struct Request: Sendable {
        var method: String
        /// Path and query, as sent.
        var target: String
        /// Header lines, as sent.
        var headers: [String]

        func header(_ name: String) -> String? {
            let prefix = name.lowercased() + ":"
            return headers.first { $0.lowercased().hasPrefix(prefix) }
                .map { String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) }
        }
    }

    /// Status line, headers and body of a response.
    struct Response: Sendable {
        var status: String
        var headers: [String: String] = [:]
        var body = ""

        var bytes: [UInt8] {
            var text = "HTTP/1.1 \(status)\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n"
            for (name, value) in headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
            return Array((text + "\r\n" + body).utf8)
        }
    }

    let port: Int
    private let listener: Int32
    private let handler: @Sendable (Request) -> Response
    private let log = Mutex<[Request]>([])

    /// Every request served so far.
    var requests: [Request] { log.withLock { $0 } }

    init(handler: @escaping @Sendable (Request) -> Response) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, pointer, &length) == 0
            }
        }
        guard listener >= 0, bound else {
            throw ImageIOTestSupport.ToolFailure(description: "a test HTTP server could not listen on loopback")
        }
        self.listener = listener
        self.port = Int(UInt16(bigEndian: address.sin_port))
        self.handler = handler
        Thread.detachNewThread { [self] in serve() }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            if let request = Self.readRequest(connection) {
                log.withLock { $0.append(request) }
                _ = handler(request).bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
            }
            close(connection)
        }
    }

    private static func readRequest(_ connection: Int32) -> Request? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let terminator = Array("\r\n\r\n".utf8)
        while !(received.count >= 4 && Array(received.suffix(4)) == terminator) {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, 4096, 0) }
            guard count > 0, received.count < 1 << 20 else { return nil }
            received += buffer.prefix(count)
        }
        let lines = String(decoding: received, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let parts = lines.first?.split(separator: " ").map(String.init) ?? []
        guard parts.count >= 2 else { return nil }
        return Request(method: parts[0], target: parts[1], headers: Array(lines.dropFirst()))
    }
}

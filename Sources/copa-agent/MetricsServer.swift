import Agent
import Foundation

/// `--metrics-listen HOST:PORT`: serves `GET /metrics` (Prometheus text
/// format 0.0.4) on its own thread, one request per connection. Scrapes are
/// rare and small, so a plain blocking loop suffices; a client that connects
/// and sends nothing is given up after 5 s so it cannot hold the next scrape.
final class MetricsServer: Sendable {
    let port: Int
    private let listener: Int32

    init(listen: String, metrics: AgentMetrics) throws {
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw MetricsServerError("--metrics-listen is HOST:PORT, e.g. 127.0.0.1:9464")
        }
        let host = String(listen[..<colon])
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host.isEmpty ? "0.0.0.0" : host, &address.sin_addr) == 1 else {
            throw MetricsServerError("--metrics-listen needs an IPv4 address, not \(host)")
        }
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(listener, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listener)
            throw MetricsServerError("cannot listen on \(listen) for metrics: \(reason)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { Self.serve(listener, metrics) }
        thread.name = "metrics"
        thread.start()
    }

    private static func serve(_ listener: Int32, _ metrics: AgentMetrics) {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let request = readHead(connection)
            let response: String
            if request.hasPrefix("GET /metrics ") || request.hasPrefix("GET /metrics?") {
                let body = metrics.text()
                response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            } else {
                response = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            }
            let bytes = Array(response.utf8)
            var sent = 0
            while sent < bytes.count {
                let count = bytes[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if count <= 0 { break }
                sent += count
            }
            close(connection)
        }
    }

    /// The request line and headers, at most 8 KiB.
    private static func readHead(_ connection: Int32) -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while received.count < 8192 {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[..<count]
            if received.count >= 4, received.suffix(4) == [13, 10, 13, 10] { break }
        }
        return String(decoding: received, as: UTF8.self)
    }
}

struct MetricsServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

import AsyncHTTPClient
import Foundation
import NIOCore

/// Plain GETs of apt repository files (InRelease, Packages, .debs), streamed.
struct HTTPFetcher: Sendable {
    let client: HTTPClient
    let timeout: TimeAmount = .minutes(10)

    /// Fetches a small file into memory; nil when the server says 404/410.
    func fetch(_ url: String, limit: Int = 256 << 20) async throws -> [UInt8]? {
        let sink = MemorySink()
        guard try await download(url, to: sink, limit: Int64(limit)) != nil else { return nil }
        return sink.bytes
    }

    /// Streams a file into `sink` (without finishing it). Returns the byte
    /// count, or nil when the server says 404/410.
    @discardableResult
    func download(_ url: String, to sink: any ByteSink, limit: Int64 = .max) async throws -> Int64? {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "copa-agent")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            throw EngineError(.io, "cannot fetch \(url)", underlying: error)
        }
        if response.status.code == 404 || response.status.code == 410 { return nil }
        guard response.status.code == 200 else {
            throw EngineError(.io, "fetching \(url) answered HTTP \(response.status.code)")
        }
        var total: Int64 = 0
        do {
            for try await buffer in response.body {
                total += Int64(buffer.readableBytes)
                guard total <= limit else {
                    throw EngineError(.io, "\(url) is larger than the \(limit)-byte limit")
                }
                try buffer.withUnsafeReadableBytes { try sink.write($0) }
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.io, "download of \(url) broke off after \(total) bytes", underlying: error)
        }
        return total
    }
}

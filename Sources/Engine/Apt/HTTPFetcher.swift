import AsyncHTTPClient
import Foundation
import NIOCore

/// Plain GETs of apt repository files (InRelease, Packages, .debs), streamed.
///
/// Where a fetch may go is checked before each connection, because the URLs
/// come from the image (chosen by the client) or from the job itself:
/// - `http` and `https` only: AsyncHTTPClient would otherwise reach unix
///   sockets through `http+unix://`;
/// - redirects are followed here, not by the HTTP client, and only within
///   the same host and port, never from https to http, at most five;
/// - link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
///   fd00:ec2::254, 100.100.100.200) are refused unless the agent's policy
///   allows them (`sources.allow_private_addresses`).
struct HTTPFetcher: Sendable {
    let client: HTTPClient
    let timeout: TimeAmount = .minutes(10)
    var allowPrivateAddresses = true

    static let maxRedirects = 5

    /// The client for apt sources: it follows no redirect by itself.
    static let sourcesClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(90))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

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
        var current = try Self.destination(url)
        try checkAddresses(current)
        for _ in 0...Self.maxRedirects {
            var request = HTTPClientRequest(url: current.absoluteString)
            request.headers.add(name: "User-Agent", value: "copa-agent")
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: timeout)
            } catch {
                throw EngineError(.io, "cannot fetch \(current.absoluteString)", underlying: error)
            }
            let code = response.status.code
            if [301, 302, 303, 307, 308].contains(code) {
                _ = try? await response.body.collect(upTo: 64 << 10)
                current = try Self.redirect(from: current, location: response.headers.first(name: "Location"))
                try checkAddresses(current)
                continue
            }
            if code == 404 || code == 410 { return nil }
            guard code == 200 else {
                throw EngineError(.io, "fetching \(current.absoluteString) answered HTTP \(code)")
            }
            return try await stream(response, from: current.absoluteString, to: sink, limit: limit)
        }
        throw EngineError(.io, "\(url) redirects more than \(Self.maxRedirects) times")
    }

    private func stream(_ response: HTTPClientResponse, from url: String, to sink: any ByteSink, limit: Int64) async throws -> Int64 {
        var total: Int64 = 0
        do {
            for try await buffer in response.body {
                total += Int64(buffer.readableBytes)
                TransferCounters.shared.add(buffer.readableBytes, .fetched, .repository)
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

    /// A URL the fetcher may request: http or https, with a host.
    static func destination(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw EngineError(.forbidden, "apt sources must be http:// or https:// URLs with a host; refusing \(text.prefix(200))")
        }
        return url
    }

    /// Where a redirect may lead: the same host and port, the same scheme
    /// or http to https.
    static func redirect(from current: URL, location: String?) throws -> URL {
        guard let location, let next = URL(string: location, relativeTo: current)?.absoluteURL else {
            throw EngineError(.io, "\(current.absoluteString) answered a redirect without a usable Location")
        }
        let target = try destination(next.absoluteString)
        let (fromScheme, toScheme) = (current.scheme?.lowercased() ?? "", target.scheme?.lowercased() ?? "")
        let sameHost = current.host?.lowercased() == target.host?.lowercased()
        let allowed = fromScheme == toScheme
            ? sameHost && (current.port ?? defaultPort(fromScheme)) == (target.port ?? defaultPort(toScheme))
            : sameHost && fromScheme == "http" && toScheme == "https" && (target.port ?? 443) == 443
        guard allowed else {
            throw EngineError(.forbidden,
                "\(current.absoluteString) redirects to \(target.absoluteString): the agent follows redirects only within the same host, never to another host or to plain HTTP")
        }
        return target
    }

    private static func defaultPort(_ scheme: String) -> Int { scheme == "https" ? 443 : 80 }

    /// Refuses a host that resolves to a link-local or metadata address,
    /// unless allowed. (The HTTP client resolves the name again; a DNS
    /// answer that changes in between is not caught.)
    private func checkAddresses(_ url: URL) throws {
        guard !allowPrivateAddresses, let host = url.host else { return }
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        for address in Self.addresses(of: name) where Self.isPrivate(address) {
            throw EngineError(.forbidden,
                "\(host) is a link-local or cloud metadata address (\(address)); the agent's policy does not allow fetching from it")
        }
    }

    static func addresses(of host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.append(String(cString: buffer))
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }

    /// 169.254.0.0/16 (and its IPv4-mapped form), fe80::/10, and the cloud
    /// metadata addresses that are not link-local.
    static func isPrivate(_ address: String) -> Bool {
        let lower = address.lowercased()
        let v4 = lower.hasPrefix("::ffff:") ? String(lower.dropFirst("::ffff:".count)) : lower
        if v4.hasPrefix("169.254.") || v4 == "100.100.100.200" { return true }
        if lower.hasPrefix("fe8") || lower.hasPrefix("fe9") || lower.hasPrefix("fea") || lower.hasPrefix("feb") { return true }
        return lower == "fd00:ec2::254"
    }
}

import AsyncHTTPClient
import NIOHTTP1

/// distribution-spec "Error Codes": a 4xx/5xx body is
/// `{"errors":[{"code":"...","message":"...","detail":...}]}`.
struct RegistryErrorBody: Sendable {
    struct Entry: Sendable {
        var code: String
        var message: String
    }

    var entries: [Entry]

    init(bytes: [UInt8]) {
        let document = try? JSONValue(parsing: bytes)
        entries = (document?["errors"]?.arrayValue ?? []).map { item in
            Entry(code: item["code"]?.stringValue ?? "UNKNOWN", message: item["message"]?.stringValue ?? "")
        }
    }

    var codes: [String] { entries.map(\.code) }

    var summary: String {
        entries.map { $0.message.isEmpty ? $0.code : "\($0.code): \($0.message)" }.joined(separator: "; ")
    }
}

extension RegistryClient {
    /// Turns an unexpected response into an `EngineError` carrying the
    /// registry's own message. A 404 for a manifest or blob (MANIFEST_UNKNOWN,
    /// NAME_UNKNOWN, BLOB_UNKNOWN, or no body) means the image is not there.
    static func failure(_ response: HTTPClientResponse, _ request: RegistryRequest, notFoundMeansMissing: Bool) async -> EngineError {
        let bytes = (try? await collect(response, limit: 1 << 20)) ?? []
        let body = RegistryErrorBody(bytes: bytes)
        let detail = body.summary.isEmpty ? "" : ": \(body.summary)"
        let missingCodes: Set<String> = ["MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"]
        if response.status == .notFound, notFoundMeansMissing,
           body.codes.isEmpty || body.codes.contains(where: missingCodes.contains) {
            return EngineError(.imageNotFound, "registry \(request.registry) has no \(request.operation)\(detail)")
        }
        return EngineError(.registry,
            "registry \(request.registry) answered \(response.status.code) \(response.status.reasonPhrase) to \(request.operation)\(detail)")
    }
}

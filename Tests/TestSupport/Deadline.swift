/// The deadline passed before the work finished.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public let what: String
    public let after: Duration
    public var description: String { "\(what) did not finish within \(after)" }
}

/// Runs `work`, failing with `DeadlineExceeded` if it takes longer than
/// `limit`. For tests of liveness ("it finishes at all"), never of speed:
/// limits are many times the usual time.
public func withDeadline<T: Sendable>(
    _ limit: Duration, _ what: String, _ work: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw DeadlineExceeded(what: what, after: limit)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw DeadlineExceeded(what: what, after: limit) }
        return first
    }
}

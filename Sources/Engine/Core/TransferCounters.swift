import Synchronization

/// Bytes this process moved over the network, for the agent's metrics:
/// fetched from registries and package repositories, pushed to registries.
/// Process-wide, as the network is; counted where the bytes are read or
/// sent, whichever job they belong to.
public final class TransferCounters: Sendable {
    public static let shared = TransferCounters()

    public enum Direction: Sendable { case fetched, pushed }
    public enum Peer: String, Sendable, CaseIterable { case registry, repository }

    public struct Totals: Sendable, Equatable {
        public var registryFetched: UInt64 = 0
        public var repositoryFetched: UInt64 = 0
        public var registryPushed: UInt64 = 0
        public init() {}
    }

    private let totals = Mutex(Totals())

    public func add(_ bytes: Int, _ direction: Direction, _ peer: Peer) {
        guard bytes > 0 else { return }
        totals.withLock { totals in
            switch (direction, peer) {
            case (.fetched, .registry): totals.registryFetched &+= UInt64(bytes)
            case (.fetched, .repository): totals.repositoryFetched &+= UInt64(bytes)
            case (.pushed, _): totals.registryPushed &+= UInt64(bytes)
            }
        }
    }

    public var current: Totals { totals.withLock { $0 } }
}

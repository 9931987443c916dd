import PaxosCore
import PaxosNode
import ServiceLifecycle

/// An acceptor run in-process: it votes, keeps its promises and accepted values in
/// `<state>/acceptor-<id>.sqlite`, and after a loss of that file rebuilds it from the others.
///
/// ```swift
/// try await Acceptor(id: 1, configuration: configuration).run()
/// ```
///
/// ``run()`` returns when its task is cancelled or its `ServiceGroup` shuts down gracefully, after
/// persisting what it was doing (as SIGTERM does for `paxos acceptor`); it throws ``PaxosError`` when it cannot
/// start or stops by itself (its storage failed, another process took its id).
public struct Acceptor: Service {
    /// Its id, 1 to the cluster's `acceptor-count`.
    public let id: UInt32
    public let configuration: PaxosConfiguration

    public init(id: UInt32, configuration: PaxosConfiguration) {
        self.id = id
        self.configuration = configuration
    }

    public func run() async throws {
        let startup = try configuration.startup(.acceptor, id)
        try await NodeHost.run(startup, configuration: configuration, assemble: startup.acceptorNode)
    }
}

/// A proposer run in-process: one of them leads and orders the clients' values, the others stand by and take
/// over when the leader falls silent. Its highest ballot round is kept in `<state>/proposer-<id>.sqlite`.
///
/// ``run()`` behaves as ``Acceptor/run()``.
public struct Proposer: Service {
    /// Its id, from 1; two proposers of a cluster never share one.
    public let id: UInt32
    public let configuration: PaxosConfiguration

    public init(id: UInt32, configuration: PaxosConfiguration) {
        self.id = id
        self.configuration = configuration
    }

    public func run() async throws {
        let startup = try configuration.startup(.proposer, id)
        try await NodeHost.run(startup, configuration: configuration, assemble: startup.proposerNode)
    }
}

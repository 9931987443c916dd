import PaxosCore
import PaxosNode
import PaxosStore
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
        try await NodeHost.run(startup, configuration: configuration) { startup, runtime, path in
            let store = try AcceptorStore(path: path, synchronous: startup.config.synchronous)
            do {
                let state = try store.load()
                startup.logger.info("acceptor \(startup.id) starts", metadata: [
                    "promised": "\(state.promised)", "accepted": "\(state.accepted.count)", "state": "\(store.path)"])
                let acceptor = PaxosCore.Paxos.Acceptor(id: startup.id, settings: startup.config.settings, restoring: state,
                                                        seed: UInt64.random(in: .min ... .max))
                if acceptor.isRecovering {
                    startup.logger.notice("acceptor \(startup.id) starts without state: it takes no part until it knows from the other acceptors whether the cluster has history (and if so, has recovered it)")
                }
                return .init(node: AcceptorNode(acceptor: acceptor, store: store, outbox: runtime.outbox,
                                                admission: startup.admission, notify: startup.notify), close: store.close)
            } catch {
                store.close()
                throw error
            }
        }
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
        try await NodeHost.run(startup, configuration: configuration) { startup, runtime, path in
            let store = try ProposerStore(path: path, synchronous: .full)
            do {
                let state = try store.load()
                startup.logger.info("proposer \(startup.id) starts", metadata: ["state": "\(store.path)"])
                let proposer = PaxosCore.Paxos.Proposer(id: startup.id, settings: startup.config.settings, restoring: state,
                                                        seed: UInt64.random(in: .min ... .max), incarnation: startup.me.incarnation)
                let node = ProposerNode(proposer: proposer, store: store, outbox: runtime.outbox,
                                        admission: startup.admission, notify: startup.notify)
                let logger = startup.logger
                let id = startup.id
                node.onModeChange = { mode, ballot in
                    switch mode {
                    case .candidate: logger.notice("proposer \(id) starts an election with ballot \(ballot)")
                    case .leader: logger.notice("proposer \(id) leads with ballot \(ballot)")
                    case .follower: logger.notice("proposer \(id) stands by: it heard a higher ballot than its own \(ballot)")
                    }
                }
                return .init(node: node, close: store.close)
            } catch {
                store.close()
                throw error
            }
        }
    }
}

import Foundation
import Logging
import PaxosCore
import PaxosNode

/// The cluster's configuration file, parsed: the four multicast groups and the optional settings.
public typealias ClusterConfig = PaxosNode.ClusterConfig
/// The protocol's tunables inside a ``ClusterConfig`` (`acceptor-count`, `window`, `client-window`...).
public typealias ProtocolSettings = PaxosCore.ProtocolSettings
/// A submitted value's identity: the client's id, its run's incarnation and the value's sequence number.
public typealias SubmissionID = PaxosCore.SubmissionID

/// Everything a role needs to run in-process: the cluster's configuration, where its state lives, and where
/// it logs.
///
/// Read it from the same file the `paxos` command reads:
///
/// ```swift
/// let configuration = try PaxosConfiguration(contentsOf: "paxos.conf")
/// ```
///
/// or build it in code, e.g. on a private loopback group for a test:
///
/// ```swift
/// let configuration = PaxosConfiguration(cluster: try .privateLoopback(), stateDirectory: "/tmp/state")
/// ```
///
/// Every role of one application may share one configuration; each keeps its own SQLite file
/// (`acceptor-<id>.sqlite`, `learner-<id>.sqlite`, `proposer-<id>.sqlite`) in ``stateDirectory``, locked while
/// it runs so two never share one role's state.
public struct PaxosConfiguration: Sendable {
    /// The groups, ports and protocol settings; every process of a cluster needs the same ones.
    public var cluster: ClusterConfig
    /// The folder of the roles' SQLite files (created if missing).
    public var stateDirectory: String
    /// Where roles log (swift-log). Roles log little at `info`; `debug` adds one line per rare message.
    public var logger: Logger
    /// The shared secret that tags every datagram (HMAC-SHA256); nil takes the config's `key` line.
    public var key: String?
    /// Whether each role keeps `<state>/<role>-<id>.status` current (about once a second) for `paxos status`.
    public var writesStatusFiles: Bool

    /// A configuration built in code.
    public init(cluster: ClusterConfig, stateDirectory: String, logger: Logger = Logger(label: "paxos"),
                key: String? = nil, writesStatusFiles: Bool = true) {
        self.cluster = cluster
        self.stateDirectory = stateDirectory
        self.logger = logger
        self.key = key
        self.writesStatusFiles = writesStatusFiles
    }

    /// The configuration in a config file, as `paxos <role> <id> <file>` reads it: the state folder is the
    /// file's `state-dir` (relative to the file's folder), else `paxos-state/` beside it, unless
    /// `stateDirectory` is given. Throws ``PaxosError/invalidConfiguration(_:)`` naming the file and the line.
    public init(contentsOf path: String, stateDirectory: String? = nil, logger: Logger = Logger(label: "paxos")) throws(PaxosError) {
        let cluster: ClusterConfig
        do {
            cluster = try NodeStartup.readConfig(path)
        } catch {
            throw .invalidConfiguration("\(error)")
        }
        self.init(cluster: cluster, stateDirectory: stateDirectory ?? cluster.stateFolder(configPath: path), logger: logger)
    }

    /// The largest value a client of this cluster can submit, in bytes: the config's `max-value-bytes`
    /// (1 MiB by default; a value longer than a datagram travels in fragments).
    public var maximumValueBytes: Int { cluster.maxValueBytes }

    func startup(_ role: Role, _ id: UInt32) throws(PaxosError) -> NodeStartup {
        var logger = logger
        logger[metadataKey: "paxos.role"] = "\(role.rawValue) \(id)"
        do {
            return try NodeStartup(role: role, id: id, config: cluster, stateDirectory: stateDirectory,
                                   logger: logger, key: key ?? cluster.key)
        } catch {
            throw .invalidConfiguration("\(error)")
        }
    }
}

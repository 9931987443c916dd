import Foundation
import Logging
import PaxosCore
import PaxosStore

/// A failure before or while a node runs that ends the process with one line on standard error.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What every role does before it starts: read the config, find the state folder, lock the state file,
/// pick the key; then run the node with signals routed to it and its status file kept current.
public struct NodeStartup: Sendable {
    public let role: Role
    public let id: UInt32
    public let configPath: String
    public let config: ClusterConfig
    public let stateDirectory: String
    public let logger: Logger
    /// This process on the wire: its role, id, a random incarnation and its start time.
    public let me: Sender
    /// PAXOS_KEY, read once (tests pass their own environment).
    private let environmentKey: String?

    public init(role: Role, id: UInt32, configPath: String, state: String? = nil, logLevel: Logger.Level = .info,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.role = role
        self.id = id
        self.configPath = configPath
        config = try Self.readConfig(configPath)
        environmentKey = environment["PAXOS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        if let key = environmentKey, key.utf8.count < 16 {
            throw StartupError("PAXOS_KEY must be at least 16 characters")
        }
        if role == .acceptor && Int(id) > config.settings.acceptorCount {
            throw StartupError("acceptor id \(id) is beyond acceptor-count \(config.settings.acceptorCount) in \(configPath)")
        }
        stateDirectory = state ?? config.stateFolder(configPath: configPath)
        var logger = Logger(label: "paxos.\(role.rawValue).\(id)") { label in
            StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = logLevel
        self.logger = logger
        me = Sender(role: role, id: id, incarnation: UInt32.random(in: 1 ... .max),
                    startedAt: UInt64(max(Date().timeIntervalSince1970 * 1000, 0)))
        // Not refused, unlike an acceptor's: the course's 2025 run.sh starts `-l 3` learners with the four-line
        // config, and such a learner works as long as the acceptors have not trimmed what it still needs.
        if role == .learner, config.settings.learnerCount > 0, Int(id) > config.settings.learnerCount {
            logger.warning("learner id \(id) is beyond learner-count \(config.settings.learnerCount) in \(configPath): the acceptors do not wait for it before they forget decided instances, so once they trim it may be unable to catch up; set 'learner-count \(id)' (or more) in the config of every process")
        }
    }

    /// A node that an application runs in-process (the `Paxos` library): the configuration is built in code
    /// or was read once, `key` stands for PAXOS_KEY or the config's `key` line, and logs go to `logger`.
    public init(role: Role, id: UInt32, config: ClusterConfig, stateDirectory: String, logger: Logger, key: String? = nil) throws {
        guard id >= 1 else { throw StartupError("the id must be 1 or more") }
        if let key, key.utf8.count < 16 { throw StartupError("the key must be at least 16 characters") }
        if role == .acceptor && Int(id) > config.settings.acceptorCount {
            throw StartupError("acceptor id \(id) is beyond acceptor-count \(config.settings.acceptorCount)")
        }
        self.role = role
        self.id = id
        configPath = ""
        self.config = config
        environmentKey = key
        self.stateDirectory = stateDirectory
        self.logger = logger
        me = Sender(role: role, id: id, incarnation: UInt32.random(in: 1 ... .max),
                    startedAt: UInt64(max(Date().timeIntervalSince1970 * 1000, 0)))
    }

    public var header: Wire.Header { Wire.Header(fingerprint: config.settings.fingerprint, sender: me) }
    public var admission: Paxos.Admission { Paxos.Admission(me: me, fingerprint: config.settings.fingerprint) }

    /// The config file, read and parsed; failures name the file and the reason (missing, a directory,
    /// permission denied, the line that is wrong).
    public static func readConfig(_ path: String) throws -> ClusterConfig {
        let data = try readFile(path)
        guard let text = String(data: data, encoding: .utf8) else {
            throw StartupError("\(path): not a text file")
        }
        do {
            return try ClusterConfig.parse(text)
        } catch {
            throw StartupError("\(path): \(error)")
        }
    }

    /// The config file's bytes, refusing anything but a regular file (a FIFO would block, a directory
    /// reads as nothing).
    static func readFile(_ path: String) throws -> Data {
        func failure() -> StartupError { StartupError("cannot read config file '\(path)': \(String(cString: strerror(errno)))") }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw failure() }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure() }
        guard info.st_mode & S_IFMT == S_IFREG else {
            let what = info.st_mode & S_IFMT == S_IFDIR ? "it is a directory" : "it is not a regular file"
            throw StartupError("cannot read config file '\(path)': \(what)")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw failure() }
            if n == 0 { return data }
            data.append(contentsOf: buffer[0..<n])
        }
    }

    /// Creates the state folder if needed, and takes an exclusive lock so two processes never share one
    /// role's state (the lock dies with the process, kill -9 included). Returns the SQLite file's path.
    public func lockState() throws -> String {
        try StateLock(directory: stateDirectory, role: role, id: id).databasePath
    }

    /// The shared key: PAXOS_KEY from the environment, else the config's `key` line, else none.
    public var authenticator: DatagramAuthenticator? {
        (environmentKey ?? config.key).map { DatagramAuthenticator(secret: $0.utf8) }
    }

    public func makeRuntime() -> NodeRuntime {
        NodeRuntime(config: config, logger: logger, header: header, authenticator: authenticator)
    }

    /// Logs what a node reports: mismatched clusters and twins at warning level, recovery at notice.
    public var notify: @Sendable (NodeNotice) -> Void {
        let logger = logger
        let me = me
        return { notice in
            switch notice {
            case .foreignCluster(let sender, let theirs, let ours):
                logger.warning("dropping datagrams from \(sender.role) \(sender.id): it runs with \(theirs), this \(me.role) with \(ours); every process of a cluster needs the same acceptor-count and learner-count")
            case .olderTwin(let twin):
                logger.warning("heard \(twin.role) \(twin.id) from another, older process (incarnation \(twin.incarnation)); if it still runs it stops now: two processes must never share one id")
            case .displaced(let newer):
                logger.error("another process started as \(newer.role) \(newer.id) (incarnation \(newer.incarnation)); this one stops")
            case .acceptor(.startedFresh(let blank)):
                logger.notice("acceptor \(me.id): acceptors \(blank.map(String.init).joined(separator: ", ")) are all without state and nothing has been decided: a new cluster, voting")
            case .acceptor(.raisingBarrier(let barrier, let promisedBy)):
                logger.notice("acceptor \(me.id) recovering: acceptors \(promisedBy.map(String.init).joined(separator: ", ")) answered; asking them to promise \(barrier) and send their state")
            case .acceptor(.recovered(let from, let promised, let entries, let trimmed)):
                logger.notice("acceptor \(me.id) recovered from acceptors \(from.map(String.init).joined(separator: ", ")): promised \(promised), \(entries) accepted values, trimmed through \(trimmed); voting again")
            }
        }
    }
}

/// A node that stopped for a reason its process must report: the reason's line and exit code.
public struct NodeStopped: Error, CustomStringConvertible, Sendable {
    public var role: Role
    public var id: UInt32
    public var reason: StopReason

    public var description: String {
        switch reason {
        case .timedOut: "client \(id): timed out before all values were decided"
        default: "\(reason)"
        }
    }
}

extension ClusterConfig {
    /// The state folder of a config file: the config's `state-dir` (relative to the file's folder),
    /// else `paxos-state/` beside the file. `paxos status` and every role find it the same way.
    public func stateFolder(configPath: String) -> String {
        let folder = (configPath as NSString).deletingLastPathComponent
        let base = folder.isEmpty ? "." : folder
        guard let dir = stateDirectory else { return base + "/paxos-state" }
        return dir.hasPrefix("/") ? dir : base + "/" + dir
    }
}

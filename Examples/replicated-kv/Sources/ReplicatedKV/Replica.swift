import Foundation
import Logging
import Paxos
import ServiceLifecycle
import Synchronization

/// What replicas broadcast: a write, a delete, or a read marker (for linearizable reads). `nonce` lets the
/// replica that submitted it see when it applies it.
public struct Command: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable { case put, delete, read }
    public var operation: Operation
    public var key: String
    public var value: String?
    public var nonce: String
}

/// One replica of the store. It embeds the broadcast's four roles under its own id (an acceptor, a proposer,
/// a learner and a client: three replicas make a cluster that survives one down), applies every delivered
/// command in delivery order to its own SQLite table, and serves reads from that table.
///
/// A write returns once its replica applied it (so a client reads its own writes there); a linearizable read
/// first broadcasts a read marker and answers once the marker is applied: every write decided before the
/// read began is then in the table.
public final class Replica: Service, Sendable {
    public let id: UInt32
    public let table: Table
    let learner: Learner
    let client: Client
    let services: [any Service]
    private let awaited = Mutex<[String: Awaited]>([:])

    enum Awaited {
        case waiting(CheckedContinuation<Void, Never>?)
        case applied
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// `configuration.stateDirectory` holds the broadcast's files and the table (`kv-<id>.sqlite`).
    public init(id: UInt32, configuration: PaxosConfiguration) throws {
        self.id = id
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        table = try Table(path: "\(configuration.stateDirectory)/kv-\(id).sqlite")
        learner = Learner(id: id, configuration: configuration)
        client = Client(id: id, configuration: configuration, defaultTimeout: .seconds(10))
        services = [Acceptor(id: id, configuration: configuration), Proposer(id: id, configuration: configuration), learner, client]
    }

    /// Runs the replica's roles and applies what its learner delivers, until cancelled.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services { group.addTask { try await service.run() } }
            group.addTask { try await self.applyDeliveries() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Applies what the learner delivers, from the table's own position on, until cancelled.
    private func applyDeliveries() async throws {
        let decoder = JSONDecoder()
        do {
            for try await delivery in learner.deliveries(after: try table.appliedPosition) {
                let command = try? decoder.decode(Command.self, from: Data(delivery.value))
                try table.apply(command, at: delivery.position)
                if let nonce = command?.nonce { applied(nonce) }
            }
        } catch is CancellationError {
            // The replica stops: what is applied is in the table with its position.
        }
    }

    public func put(_ key: String, _ value: String) async throws {
        try await broadcast(Command(operation: .put, key: key, value: value, nonce: UUID().uuidString))
    }

    public func delete(_ key: String) async throws {
        try await broadcast(Command(operation: .delete, key: key, nonce: UUID().uuidString))
    }

    /// The key's value in this replica's table; `linearizable`: after every write decided before the call.
    public func get(_ key: String, linearizable: Bool = false) async throws -> String? {
        if linearizable { try await broadcast(Command(operation: .read, key: key, nonce: UUID().uuidString)) }
        return try table.value(of: key)
    }

    /// Submits the command and waits until this replica applied it.
    private func broadcast(_ command: Command) async throws {
        awaited.withLock { $0[command.nonce] = .waiting(nil) }
        do {
            try await client.submit(try JSONEncoder().encode(command).map { $0 })
        } catch {
            _ = awaited.withLock { $0.removeValue(forKey: command.nonce) }
            throw error
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = awaited.withLock { awaited -> Bool in
                if case .applied? = awaited[command.nonce] {
                    awaited[command.nonce] = nil
                    return true
                }
                awaited[command.nonce] = .waiting(c)
                return false
            }
            if done { c.resume() }
        }
    }

    private func applied(_ nonce: String) {
        let waiter = awaited.withLock { awaited -> CheckedContinuation<Void, Never>? in
            guard case .waiting(let c)? = awaited[nonce] else { return nil }
            if let c {
                awaited[nonce] = nil
                return c
            }
            awaited[nonce] = .applied
            return nil
        }
        waiter?.resume()
    }
}

import PaxosCore

/// A proposer's durable state in SQLite: the highest ballot round it ever used.
public final class ProposerStore {
    private let db: Database
    private let upsertBallot: Statement
    private let selectBallot: Statement

    /// Opens (creating and migrating if needed) the proposer database at `path`.
    public init(path: String, synchronous: Synchronous = .full) throws {
        db = try Database(path: path, kind: .proposer, synchronous: synchronous)
        upsertBallot = try db.prepare("INSERT OR REPLACE INTO ballot (id, highest_round) VALUES (1, ?1)")
        selectBallot = try db.prepare("SELECT highest_round FROM ballot WHERE id = 1")
    }

    deinit { db.close() }

    /// Closes the database; later calls throw. Idempotent.
    public func close() { db.close() }

    public var path: String { db.path }

    /// The highest round persisted (0 if none).
    public func load() throws -> ProposerDurableState {
        var state = ProposerDurableState()
        try selectBallot.query(doing: "loading the highest round") { row in
            state.highestRound = try row.uint64(0)
        }
        return state
    }

    /// Persists the highest round used; a single statement, so SQLite commits it atomically by itself.
    public func write(highestRound: UInt64) throws {
        try upsertBallot.run(doing: "writing the highest round") { bind in
            try bind(1, highestRound)
        }
    }
}

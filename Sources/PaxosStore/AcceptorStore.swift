import PaxosCore

/// An acceptor's durable state in SQLite: its promise and the latest proposal it accepted per instance.
public final class AcceptorStore {
    private let db: Database
    private let upsertPromise: Statement
    private let upsertAccepted: Statement
    private let selectPromise: Statement
    private let selectAccepted: Statement
    private let upsertTrim: Statement
    private let deleteTrimmed: Statement
    private let selectTrim: Statement
    private let markRecovering: Statement
    private let clearRecovering: Statement
    private let selectRecovering: Statement

    /// Opens (creating and migrating if needed) the acceptor database at `path`.
    public init(path: String, synchronous: Synchronous = .full) throws {
        db = try Database(path: path, kind: .acceptor, synchronous: synchronous)
        upsertPromise = try db.prepare(
            "INSERT OR REPLACE INTO promise (id, round, proposer, incarnation) VALUES (1, ?1, ?2, ?3)")
        upsertAccepted = try db.prepare(
            "INSERT OR REPLACE INTO accepted (instance, round, proposer, proposal, incarnation, inherited) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        selectPromise = try db.prepare("SELECT round, proposer, incarnation FROM promise WHERE id = 1")
        selectAccepted = try db.prepare(
            "SELECT instance, round, proposer, proposal, incarnation, inherited FROM accepted ORDER BY instance")
        markRecovering = try db.prepare("INSERT OR REPLACE INTO recovery (id) VALUES (1)")
        clearRecovering = try db.prepare("DELETE FROM recovery")
        selectRecovering = try db.prepare("SELECT id FROM recovery")
        upsertTrim = try db.prepare("INSERT OR REPLACE INTO trim (id, through) VALUES (1, ?1)")
        // Instances at or past 2^63 are stored as negative bit patterns: never trimmed by this range.
        deleteTrimmed = try db.prepare("DELETE FROM accepted WHERE instance >= 0 AND instance <= ?1")
        selectTrim = try db.prepare("SELECT through FROM trim WHERE id = 1")
    }

    deinit { db.close() }

    /// Closes the database; later calls throw. Idempotent.
    public func close() { db.close() }

    public var path: String { db.path }

    /// Everything the acceptor persisted: its promise (`.zero` if none) and its accepted entries by instance.
    public func load() throws -> AcceptorDurableState {
        var state = AcceptorDurableState()
        try selectPromise.query(doing: "loading the promise") { row in
            state.promised = Ballot(round: try row.uint64(0), proposer: try row.uint32(1), incarnation: try row.uint32(2))
        }
        try selectRecovering.query(doing: "loading the recovery mark") { _ in state.recovering = true }
        try selectTrim.query(doing: "loading the trim point") { row in
            state.trimmedThrough = try row.uint64(0)
        }
        try selectAccepted.query(doing: "loading accepted values") { row in
            let instance = try row.uint64(0)
            let proposal = try row.withBytes(3) { blob in
                do {
                    return try Wire.decodeProposal(blob)
                } catch {
                    throw StoreError.corrupt(db.path, "accepted proposal of instance \(instance): \((error as? Wire.DecodeError)?.reason ?? "\(error)")")
                }
            }
            let entry = AcceptedEntry(
                instance: instance,
                ballot: Ballot(round: try row.uint64(1), proposer: try row.uint32(2), incarnation: try row.uint32(4)),
                proposal: proposal)
            if try row.uint64(5) != 0 { state.inherited.append(entry) } else { state.accepted.append(entry) }
        }
        // Instances are stored as signed bit patterns, so SQL sorts any at or past 2^63 (only a hostile
        // proposer could send one) first; move them back to the end to restore unsigned order.
        if let split = state.accepted.firstIndex(where: { $0.instance < 1 << 63 }), split > 0 {
            state.accepted = Array(state.accepted[split...] + state.accepted[..<split])
        }
        if let split = state.inherited.firstIndex(where: { $0.instance < 1 << 63 }), split > 0 {
            state.inherited = Array(state.inherited[split...] + state.inherited[..<split])
        }
        return state
    }

    /// Persists a write in one transaction: the promise if raised, then each accepted entry, replacing
    /// what the instance held (so of two entries for one instance, the later wins).
    public func write(_ w: AcceptorWrite) throws {
        if w.isEmpty { return }
        try db.transaction(doing: "writing acceptor state") {
            if let promised = w.promised {
                try upsertPromise.run(doing: "writing the promise") { bind in
                    try bind(1, promised.round)
                    try bind(2, promised.proposer)
                    try bind(3, promised.incarnation)
                }
            }
            if let recovering = w.recovering {
                try (recovering ? markRecovering : clearRecovering).run(doing: "writing the recovery mark") { _ in }
            }
            // Inherited entries first: a vote in the same instance, later in the burst, replaces one.
            for (entries, inherited) in [(w.inherited, UInt32(1)), (w.accepted, UInt32(0))] {
                for entry in entries {
                    try upsertAccepted.run(doing: "writing an accepted value") { bind in
                        try bind(1, entry.instance)
                        try bind(2, entry.ballot.round)
                        try bind(3, entry.ballot.proposer)
                        try bind(4, blob: Wire.encode(entry.proposal))
                        try bind(5, entry.ballot.incarnation)
                        try bind(6, inherited)
                    }
                }
            }
            if let through = w.trimThrough, through < 1 << 63 {
                try deleteTrimmed.run(doing: "trimming accepted values") { bind in try bind(1, through) }
                try upsertTrim.run(doing: "writing the trim point") { bind in try bind(1, through) }
            }
        }
    }
}

import PaxosCore

/// A learner's durable state in SQLite: every value it delivered, by output position, and the first
/// instance it has not delivered.
///
/// `sqlite3 learner-1.sqlite 'SELECT value FROM learned ORDER BY position'` prints exactly the lines the
/// learner printed: values that are valid UTF-8 are stored as TEXT, others as BLOBs.
public final class LearnerStore {
    private let db: Database
    private let insertLearned: Statement
    private let upsertProgress: Statement
    private let selectProgress: Statement
    private let selectLastPosition: Statement
    private let selectDelivered: Statement
    private let selectValues: Statement

    /// Opens (creating and migrating if needed) the learner database at `path`.
    public init(path: String, synchronous: Synchronous = .full) throws {
        db = try Database(path: path, kind: .learner, synchronous: synchronous)
        // Plain INSERT: writing a position twice is a bug in the caller, and should fail loudly.
        insertLearned = try db.prepare("""
            INSERT INTO learned (position, value, client, incarnation, sequence, instance)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """)
        upsertProgress = try db.prepare("INSERT OR REPLACE INTO progress (id, next_instance) VALUES (1, ?1)")
        selectProgress = try db.prepare("SELECT next_instance FROM progress WHERE id = 1")
        selectLastPosition = try db.prepare("SELECT position FROM learned ORDER BY position DESC LIMIT 1")
        selectDelivered = try db.prepare("SELECT client, incarnation, sequence FROM learned ORDER BY position")
        selectValues = try db.prepare(
            "SELECT value FROM learned WHERE position >= ?1 ORDER BY position LIMIT ?2")
    }

    deinit { db.close() }

    /// Closes the database; later calls throw. Idempotent.
    public func close() { db.close() }

    public var path: String { db.path }

    /// The learner's state: next instance (1 if none delivered), next position (1 + the last one
    /// written, or 1), and the id of every delivered submission in output order.
    public func load() throws -> LearnerDurableState {
        var state = LearnerDurableState()
        try selectProgress.query(doing: "loading progress") { row in
            state.nextInstance = try row.uint64(0)
        }
        // Positions count up from 1, one per value, so they never reach 2^63 and sort correctly as Int64.
        try selectLastPosition.query(doing: "loading the last position") { row in
            state.nextPosition = try row.uint64(0) + 1
        }
        try selectDelivered.query(doing: "loading delivered ids") { row in
            state.delivered.append(SubmissionID(
                client: try row.uint32(0), incarnation: try row.uint64(1), sequence: try row.uint64(2)))
        }
        return state
    }

    /// Persists decided instances in one transaction: a row per delivery, and progress set past the last
    /// instance (so instances that delivered nothing, like no-ops, still advance it).
    public func write(_ instances: [DeliveredInstance]) throws {
        guard let last = instances.last else { return }
        try db.transaction(doing: "writing learner deliveries") {
            for instance in instances {
                for delivery in instance.deliveries {
                    try insertLearned.run(doing: "writing a delivered value") { bind in
                        try bind(1, delivery.position)
                        try bind(2, textOrBlob: delivery.submission.value)
                        try bind(3, delivery.submission.id.client)
                        try bind(4, delivery.submission.id.incarnation)
                        try bind(5, delivery.submission.id.sequence)
                        try bind(6, instance.instance)
                    }
                }
            }
            try upsertProgress.run(doing: "writing progress") { bind in
                try bind(1, last.instance + 1)
            }
        }
    }

    /// Delivered values from `fromPosition` on, in output order, at most `limit` of them; for tests and tools.
    public func values(fromPosition: UInt64 = 1, limit: Int = Int.max) throws -> [[UInt8]] {
        var values: [[UInt8]] = []
        guard limit > 0 else { return values }
        try selectValues.query(doing: "reading delivered values", bind: { bind in
            try bind(1, fromPosition)
            try bind(2, Int64(limit))
        }) { row in
            values.append(try row.bytes(0))
        }
        return values
    }
}

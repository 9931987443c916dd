import CSQLite
import PaxosCore

/// A learner's durable state in SQLite: every value it delivered, by output position, the first instance
/// it has not delivered, and the regular file it prints into (see `LearnerOutput`).
///
/// `sqlite3 learner-1.sqlite 'SELECT value FROM learned ORDER BY position'` prints exactly the lines the
/// learner printed: values that are valid UTF-8 are stored as TEXT, others as BLOBs.
public final class LearnerStore {
    private let db: Database
    /// Inserts of 64, 32, 16, 8, 4, 2 and 1 rows (`insertLearned[k]` takes `rowsPerInsert >> k`): a burst's
    /// values go in chunks of 64, the rest in at most six statements more. Each statement run has a fixed
    /// cost (reset, opening the table, seeking its end) that a row-per-statement insert paid per value.
    private let insertLearned: [Statement]
    static let rowsPerInsert = 64
    /// The values of the chunk being inserted, side by side, bound where they lie (SQLite does not copy
    /// them); a value that does not fit any more is bound with a copy instead.
    private let chunkBytes: UnsafeMutableRawBufferPointer
    private var chunk: [(instance: Instance, delivery: Delivery)] = []
    private let upsertProgress: Statement
    private let selectProgress: Statement
    private let selectLastPosition: Statement
    private let selectDelivered: Statement
    private let selectValues: Statement
    private let upsertOutput: Statement
    private let selectOutput: Statement

    /// Opens (creating and migrating if needed) the learner database at `path`.
    public init(path: String, synchronous: Synchronous = .full) throws {
        db = try Database(path: path, kind: .learner, synchronous: synchronous)
        // Plain INSERT: writing a position twice is a bug in the caller, and should fail loudly.
        var inserts: [Statement] = []
        var rows = Self.rowsPerInsert
        while rows >= 1 {
            let values = (0..<rows).map { r in "(" + (1...6).map { "?\(r * 6 + $0)" }.joined(separator: ", ") + ")" }
            inserts.append(try db.prepare("""
                INSERT INTO learned (position, value, client, incarnation, sequence, instance)
                VALUES \(values.joined(separator: ", "))
                """))
            rows /= 2
        }
        insertLearned = inserts
        chunk.reserveCapacity(Self.rowsPerInsert)
        chunkBytes = .allocate(byteCount: 64 << 10, alignment: 8)
        upsertProgress = try db.prepare("INSERT OR REPLACE INTO progress (id, next_instance) VALUES (1, ?1)")
        selectProgress = try db.prepare("SELECT next_instance FROM progress WHERE id = 1")
        selectLastPosition = try db.prepare("SELECT position FROM learned ORDER BY position DESC LIMIT 1")
        selectDelivered = try db.prepare("SELECT client, incarnation, sequence FROM learned ORDER BY position")
        selectValues = try db.prepare(
            "SELECT value FROM learned WHERE position >= ?1 ORDER BY position LIMIT ?2")
        upsertOutput = try db.prepare("""
            INSERT OR REPLACE INTO output (id, device, inode, first_position, modified) VALUES (1, ?1, ?2, ?3, ?4)
            """)
        selectOutput = try db.prepare("SELECT device, inode, first_position, modified FROM output WHERE id = 1")
    }

    deinit {
        db.close()
        chunkBytes.deallocate()
    }

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
            defer { chunk.removeAll(keepingCapacity: true) }
            for instance in instances {
                for delivery in instance.deliveries {
                    chunk.append((instance.instance, delivery))
                    if chunk.count == Self.rowsPerInsert { try insertChunk() }
                }
            }
            try insertChunk()
            try upsertProgress.run(doing: "writing progress") { bind in
                try bind(1, last.instance + 1)
            }
        }
    }

    /// Inserts the rows of `chunk` (at most `rowsPerInsert`), in as few statements as its size's bits, and
    /// empties it.
    private func insertChunk() throws {
        var from = 0
        for (k, statement) in insertLearned.enumerated() {
            let rows = Self.rowsPerInsert >> k
            while chunk.count - from >= rows {
                var used = 0
                try statement.run(doing: "writing delivered values") { bind in
                    for r in 0..<rows {
                        let (instance, delivery) = chunk[from + r]
                        let p = Int32(r * 6)
                        try bind(p + 1, delivery.position)
                        let value = delivery.submission.value
                        if value.count <= chunkBytes.count - used {
                            let target = UnsafeMutableRawBufferPointer(rebasing: chunkBytes[used..<used + value.count])
                            value.withUnsafeBytes { target.copyMemory(from: $0) }
                            used += value.count
                            try bind(p + 2, textOrBlobInPlace: UnsafeRawBufferPointer(target))
                        } else {
                            try bind(p + 2, textOrBlob: value)
                        }
                        try bind(p + 3, delivery.submission.id.client)
                        try bind(p + 4, delivery.submission.id.incarnation)
                        try bind(p + 5, delivery.submission.id.sequence)
                        try bind(p + 6, instance)
                    }
                }
                from += rows
            }
        }
        chunk.removeAll(keepingCapacity: true)
    }

    /// The output recorded by `recordOutput`, or nil if the learner never printed into a regular file.
    public func output() throws -> LearnerOutput? {
        var output: LearnerOutput?
        try selectOutput.query(doing: "loading the output file's identity") { row in
            output = LearnerOutput(device: try row.uint64(0), inode: try row.uint64(1),
                                   firstPosition: try row.uint64(2), modified: try row.int64(3))
        }
        return output
    }

    /// Records the file the learner prints into from now on, replacing the previous one. A single
    /// statement, committed (and synced, as every commit) when this returns: call it before printing.
    public func recordOutput(_ output: LearnerOutput) throws {
        try upsertOutput.run(doing: "recording the output file's identity") { bind in
            try bind(1, output.device)
            try bind(2, output.inode)
            try bind(3, output.firstPosition)
            try bind(4, output.modified)
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

/// The regular file a learner prints into, as it recorded it when it began printing there (when the
/// file was empty): which file, and where in the sequence of deliveries its first line is.
public struct LearnerOutput: Equatable, Sendable {
    /// The file's st_dev and st_ino.
    public var device: UInt64
    public var inode: UInt64
    /// The position of the value on the file's first line.
    public var firstPosition: UInt64
    /// The file's modification time (nanoseconds since the epoch) when recorded, while it was empty.
    public var modified: Int64

    public init(device: UInt64, inode: UInt64, firstPosition: UInt64, modified: Int64) {
        self.device = device
        self.inode = inode
        self.firstPosition = firstPosition
        self.modified = modified
    }
}

extension LearnerStore {
    /// The values the learner printed to its current output file, in order: those from the position it
    /// recorded when it began that file (earlier runs' values stay in the database but not in the file).
    /// Read without writing anything: no creation, no migration, no lock. For checkers and tools looking
    /// at a stopped learner's file; a file that is not a paxos learner database is refused.
    public static func learnedValues(readingOnly path: String) throws -> [[UInt8]] {
        var handle: OpaquePointer?
        defer { sqlite3_close_v2(handle) }
        func failure(_ rc: Int32, _ doing: String) -> StoreError {
            StoreError.sqlite(rc, path: path, doing: doing,
                              message: handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc)))
        }
        var rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK else { throw failure(rc, "opening read-only") }
        sqlite3_busy_timeout(handle, 5_000)
        var stmt: OpaquePointer?
        defer { sqlite3_finalize(stmt) }
        rc = sqlite3_prepare_v2(handle, "PRAGMA application_id", -1, &stmt, nil)
        guard rc == SQLITE_OK else { throw failure(rc, "reading the header") }
        rc = sqlite3_step(stmt)
        guard rc == SQLITE_ROW else { throw failure(rc, "reading the header") }
        let id = sqlite3_column_int(stmt, 0)
        guard id == StoreKind.learner.applicationID else {
            let what = StoreKind(applicationID: id).map { "a paxos \($0) database" } ?? "not a paxos database"
            throw StoreError(path: path, reason: StoreKind(applicationID: id).map { .wrongKind(found: $0) } ?? .foreignDatabase,
                             "\(path) is \(what), not a learner database")
        }
        sqlite3_finalize(stmt)
        stmt = nil
        // From the position where the learner began its current output file (migration 0002): a second
        // course run in the same folder prints to a fresh file while the database keeps both runs.
        rc = sqlite3_prepare_v2(handle, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'output'", -1, &stmt, nil)
        guard rc == SQLITE_OK, sqlite3_step(stmt) == SQLITE_ROW else { throw failure(rc, "reading the schema") }
        let hasOutput = sqlite3_column_int(stmt, 0) > 0
        sqlite3_finalize(stmt)
        stmt = nil
        let query = hasOutput
            ? "SELECT value FROM learned WHERE position >= coalesce((SELECT first_position FROM output WHERE id = 1), 1) ORDER BY position"
            : "SELECT value FROM learned ORDER BY position"
        rc = sqlite3_prepare_v2(handle, query, -1, &stmt, nil)
        guard rc == SQLITE_OK else { throw failure(rc, "reading learned values") }
        var values: [[UInt8]] = []
        while true {
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return values }
            guard rc == SQLITE_ROW else { throw failure(rc, "reading learned values") }
            let count = Int(sqlite3_column_bytes(stmt, 0))
            if let bytes = sqlite3_column_blob(stmt, 0), count > 0 {
                values.append([UInt8](UnsafeRawBufferPointer(start: bytes, count: count)))
            } else {
                values.append([])
            }
        }
    }
}

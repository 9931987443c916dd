import CSQLite

/// One SQLite connection to one store's file: opening (with the refusals and migrations), prepared
/// statements and transactions. Not thread-safe; each store owns one and uses it from one thread.
final class Database {
    let path: String
    private var handle: OpaquePointer?
    /// Every statement prepared on this connection, finalized on close (SQLite cannot close otherwise).
    private var statements: [Statement] = []
    private var begin: Statement?
    private var commit: Statement?
    private var rollback: Statement?

    /// Opens (creating if absent) the database at `path` as `kind`, refusing without writing anything a
    /// file that is not SQLite, is another kind's, or has a newer schema; then migrates it to the latest
    /// schema this binary knows.
    init(path: String, kind: StoreKind, synchronous: Synchronous) throws {
        self.path = path
        var h: OpaquePointer?
        // NOMUTEX: a connection is never shared between threads, so SQLite's own locking is wasted.
        let rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let h else {
            let message = h.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(h)
            throw StoreError.sqlite(rc, path: path, doing: "opening", message: message)
        }
        handle = h
        do {
            try setUp(kind: kind, synchronous: synchronous)
        } catch let error as StoreError {
            close()
            throw error.namingDamage()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    private func setUp(kind: StoreKind, synchronous: Synchronous) throws {
        guard let handle else { throw StoreError.closed(path) }
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, 5_000)

        // SQLite silently opens a write-protected file read-only; a store that cannot write is useless.
        // Checked before the first read: reading a WAL database read-only would leave -wal and -shm files
        // behind (a read-only connection cannot remove them on close).
        if sqlite3_db_readonly(handle, "main") == 1 {
            throw StoreError(path: path, reason: .readOnly, "\(path): database is read-only (check the file's permissions and mount)")
        }

        // Inspect before changing anything: these reads are the first to touch the file, so a file that
        // is not SQLite fails here (SQLITE_NOTADB) and is never written.
        let applicationID = Int32(truncatingIfNeeded: try scalar("PRAGMA application_id", doing: "reading the header"))
        let version = Int(try scalar("PRAGMA user_version", doing: "reading the header"))
        if applicationID != kind.applicationID {
            if let other = StoreKind(applicationID: applicationID) {
                throw StoreError(path: path, reason: .wrongKind(found: other),
                                 "\(path) is a paxos \(other) database, not \(kind == .acceptor ? "an" : "a") \(kind) database; refusing to open it")
            }
            let tables = try scalar("SELECT count(*) FROM sqlite_schema", doing: "reading the schema")
            if applicationID != 0 || version != 0 || tables != 0 {
                throw StoreError(path: path, reason: .foreignDatabase,
                                 "\(path) is a SQLite database but not a paxos \(kind) database; refusing to open it")
            }
            // Otherwise the file is new (or empty): the migrations below stamp it.
        }
        let supported = kind.migrations.count
        if version > supported {
            throw StoreError(path: path, reason: .newerSchema(version: version, supported: supported),
                             "\(path) has schema version \(version), newer than this binary supports (\(supported)); use a newer paxos")
        }

        // WAL: a commit appends to one file and syncs it once, instead of journaling pages twice.
        try execute("PRAGMA journal_mode = WAL", doing: "enabling WAL")
        try execute("PRAGMA synchronous = \(synchronous.pragmaValue)", doing: "setting synchronous")
        // Debian's and Ubuntu's SQLite zero every deleted byte by default (SQLITE_SECURE_DELETE): an
        // acceptor's trim then rewrote, zeroed, every value it forgot (about 16 MB per trim of 1,024
        // instances in the closed-loop benchmark, in all three acceptors at once), and the disk stalled
        // every commit behind it for ~250 ms. Nothing here needs scrubbing: the learners keep every value.
        try execute("PRAGMA secure_delete = OFF", doing: "turning off secure delete")

        begin = try prepare("BEGIN IMMEDIATE")
        commit = try prepare("COMMIT")
        rollback = try prepare("ROLLBACK")

        if version < supported {
            try transaction(doing: "migrating the schema") {
                // Read again under the write lock: another process may have migrated meanwhile.
                let current = Int(try scalar("PRAGMA user_version", doing: "reading the schema version"))
                guard current < supported else { return }
                for migration in kind.migrations[current...] {
                    try execute(migration.sql, doing: "applying migration \(kind)/\(migration.name)")
                }
                // Both pragmas write the header inside this transaction, so they commit with the schema.
                try execute("PRAGMA application_id = \(kind.applicationID)", doing: "stamping the database kind")
                try execute("PRAGMA user_version = \(supported)", doing: "recording the schema version")
            }
        }
    }

    /// Finalizes every statement and closes the connection. Idempotent.
    func close() {
        for statement in statements { statement.finalize() }
        statements = []
        begin = nil
        commit = nil
        rollback = nil
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Prepares a statement kept for the life of the connection (SQLITE_PREPARE_PERSISTENT tells SQLite so).
    func prepare(_ sql: String) throws -> Statement {
        guard let handle else { throw StoreError.closed(path) }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw error(rc, doing: "preparing \(sql.prefix(40))")
        }
        let statement = Statement(stmt, database: self)
        statements.append(statement)
        return statement
    }

    /// Runs `body` in one write transaction, rolling back if it (or the commit) fails.
    ///
    /// BEGIN IMMEDIATE takes the write lock up front, so a busy database is waited for (busy_timeout)
    /// before any work, rather than failing on a lock upgrade halfway through.
    func transaction<T>(doing: String, _ body: () throws -> T) throws -> T {
        guard let handle, let begin, let commit, let rollback else { throw StoreError.closed(path) }
        try begin.run(doing: doing)
        do {
            let result = try body()
            try commit.run(doing: doing)
            return result
        } catch {
            // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL); autocommit says so.
            if sqlite3_get_autocommit(handle) == 0 { try? rollback.run(doing: "rolling back") }
            throw error
        }
    }

    /// Runs SQL (possibly several statements) once, without caching; for opening and migrations.
    func execute(_ sql: String, doing: String) throws {
        guard let handle else { throw StoreError.closed(path) }
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, doing: doing) }
    }

    /// The single integer an uncached query returns (0 when it returns no row).
    private func scalar(_ sql: String, doing: String) throws -> Int64 {
        guard let handle else { throw StoreError.closed(path) }
        var stmt: OpaquePointer?
        var rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        defer { sqlite3_finalize(stmt) }
        guard rc == SQLITE_OK else { throw error(rc, doing: doing) }
        rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW: return sqlite3_column_int64(stmt, 0)
        case SQLITE_DONE: return 0
        default: throw error(rc, doing: doing)
        }
    }

    func error(_ rc: Int32, doing: String) -> StoreError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return StoreError.sqlite(rc, path: path, doing: doing, message: message)
    }
}

/// A prepared statement, reused across calls: bind, step, then always reset so it holds no read
/// snapshot between uses (an open snapshot would stop WAL checkpoints).
final class Statement {
    private var handle: OpaquePointer?
    private unowned let database: Database

    fileprivate init(_ handle: OpaquePointer, database: Database) {
        self.handle = handle
        self.database = database
    }

    fileprivate func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    /// Binds `bind`'s values, steps through every row calling `row`, and resets.
    func query(doing: String, bind: (Binder) throws -> Void = { _ in }, row: (Row) throws -> Void) throws {
        guard let handle else { throw StoreError.closed(database.path) }
        defer { sqlite3_reset(handle) }
        try bind(Binder(handle: handle, database: database, doing: doing))
        let current = Row(handle: handle, path: database.path)
        while true {
            let rc = sqlite3_step(handle)
            switch rc {
            case SQLITE_ROW: try row(current)
            case SQLITE_DONE: return
            default: throw database.error(rc, doing: doing)
            }
        }
    }

    /// Binds and runs a statement that returns no rows.
    func run(doing: String, bind: (Binder) throws -> Void = { _ in }) throws {
        try query(doing: doing, bind: bind) { _ in }
    }
}

/// Binds parameters (numbered from 1) of a statement about to run.
struct Binder {
    fileprivate let handle: OpaquePointer
    fileprivate let database: Database
    fileprivate let doing: String

    func callAsFunction(_ index: Int32, _ value: Int64) throws {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    /// Unsigned numbers are stored as their Int64 bit patterns, so all 64 bits round-trip.
    func callAsFunction(_ index: Int32, _ value: UInt64) throws {
        try self(index, Int64(bitPattern: value))
    }

    func callAsFunction(_ index: Int32, _ value: UInt32) throws {
        try self(index, Int64(value))
    }

    /// Binds bytes as TEXT when they are valid UTF-8 (so the sqlite3 shell shows them as text), else as
    /// a BLOB; either way reading the column back yields the same bytes.
    func callAsFunction(_ index: Int32, textOrBlob bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in try bindTextOrBlob(index, buffer, csqlite_transient()) }
    }

    /// Binds bytes as ``callAsFunction(_:textOrBlob:)`` does, without SQLite copying them: they must stay
    /// where they are, unchanged, until the statement has run and been reset (or is bound again).
    func callAsFunction(_ index: Int32, textOrBlobInPlace buffer: UnsafeRawBufferPointer) throws {
        try bindTextOrBlob(index, buffer, csqlite_static())
    }

    /// The two above: `destructor` says whether SQLite copies the bytes (transient) or reads them in place (static).
    private func bindTextOrBlob(_ index: Int32, _ buffer: UnsafeRawBufferPointer, _ destructor: sqlite3_destructor_type?) throws {
        // A null pointer would bind SQL NULL, so zero-length values point at a static empty string.
        guard let base = buffer.baseAddress, !buffer.isEmpty else {
            return try check(sqlite3_bind_text(handle, index, "", 0, csqlite_transient()))
        }
        if isValidUTF8(buffer) {
            try check(sqlite3_bind_text64(handle, index, base.assumingMemoryBound(to: CChar.self),
                                          UInt64(buffer.count), destructor, UInt8(SQLITE_UTF8)))
        } else {
            try check(sqlite3_bind_blob64(handle, index, base, UInt64(buffer.count), destructor))
        }
    }

    /// Binds bytes as a BLOB (never NULL, even when empty).
    func callAsFunction(_ index: Int32, blob bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress, !buffer.isEmpty else {
                return try check(sqlite3_bind_zeroblob(handle, index, 0))
            }
            try check(sqlite3_bind_blob64(handle, index, base, UInt64(buffer.count), csqlite_transient()))
        }
    }

    private func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK else { throw database.error(rc, doing: doing) }
    }
}

/// The current row of a running query; columns are numbered from 0.
struct Row {
    fileprivate let handle: OpaquePointer
    fileprivate let path: String

    /// An integer column; anything else means the file was tampered with.
    func int64(_ column: Int32) throws -> Int64 {
        guard sqlite3_column_type(handle, column) == SQLITE_INTEGER else {
            throw StoreError.corrupt(path, "column \(String(cString: sqlite3_column_name(handle, column))) is not an integer")
        }
        return sqlite3_column_int64(handle, column)
    }

    func uint64(_ column: Int32) throws -> UInt64 {
        UInt64(bitPattern: try int64(column))
    }

    func uint32(_ column: Int32) throws -> UInt32 {
        let value = try int64(column)
        guard let narrow = UInt32(exactly: value) else {
            throw StoreError.corrupt(path, "column \(String(cString: sqlite3_column_name(handle, column))) holds \(value), beyond 32 bits")
        }
        return narrow
    }

    /// A TEXT or BLOB column's bytes, exactly as stored (SQLite hands TEXT over unconverted here).
    func withBytes<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_TEXT, SQLITE_BLOB: break
        default:
            throw StoreError.corrupt(path, "column \(String(cString: sqlite3_column_name(handle, column))) is neither text nor a blob")
        }
        // sqlite3_column_blob before sqlite3_column_bytes, as SQLite documents; a zero-length value is NULL.
        let base = sqlite3_column_blob(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        return try body(UnsafeRawBufferPointer(start: count == 0 ? nil : base, count: count))
    }

    func bytes(_ column: Int32) throws -> [UInt8] {
        try withBytes(column) { [UInt8]($0) }
    }
}

/// Whether bytes are well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF), without
/// allocating.
func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    // Most lines are ASCII: skip it eight bytes at a time (no byte with its top bit set), then one by one.
    // An ASCII byte is a whole scalar, so the parser below starts at the first other byte.
    var start = 0
    while start + 8 <= bytes.count,
          bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
        start += 8
    }
    while start < bytes.count && bytes[start] < 0x80 { start += 1 }
    guard start < bytes.count else { return true }
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = UnsafeRawBufferPointer(rebasing: bytes[start...]).makeIterator()
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid: continue
        case .emptyInput: return true
        case .error: return false
        }
    }
}

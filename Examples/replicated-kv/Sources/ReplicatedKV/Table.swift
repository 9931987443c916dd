import Foundation
import KVSQLite
import Synchronization

/// A replica's table in its own SQLite file: the keys and values, and the position of the last command
/// applied, updated in the same transaction as the command (so a restart resumes exactly after it).
public final class Table: Sendable {
    struct Connection: ~Copyable {
        let db: OpaquePointer
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let connection: Mutex<OpaquePointer>

    public init(path: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else {
            throw Failure(description: "cannot open \(path)")
        }
        connection = Mutex(db)
        try execute("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS applied (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL);
            INSERT OR IGNORE INTO applied VALUES (1, 0);
            """)
    }

    deinit { connection.withLock { _ = sqlite3_close($0) } }

    /// The position of the last command applied: the replica's cursor into the broadcast.
    public var appliedPosition: UInt64 {
        get throws { try query("SELECT position FROM applied", []).first.flatMap { UInt64($0) } ?? 0 }
    }

    /// Applies one delivered command (nil for a read marker) and records its position, in one transaction.
    public func apply(_ command: Command?, at position: UInt64) throws {
        var statements: [(String, [String])] = [("UPDATE applied SET position = ?", ["\(position)"])]
        switch command?.operation {
        case .put?: statements.append(("INSERT INTO kv VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                       [command!.key, command!.value ?? ""]))
        case .delete?: statements.append(("DELETE FROM kv WHERE key = ?", [command!.key]))
        case .read?, nil: break
        }
        try execute("BEGIN")
        do {
            for (sql, arguments) in statements { _ = try query(sql, arguments) }
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    public func value(of key: String) throws -> String? {
        try query("SELECT value FROM kv WHERE key = ?", [key]).first
    }

    /// Every key and its value, ordered by key.
    public func all() throws -> [String: String] {
        let rows = try query("SELECT key || char(0) || value FROM kv ORDER BY key", [])
        return Dictionary(uniqueKeysWithValues: rows.map { row in
            let parts = row.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        })
    }

    private func execute(_ sql: String) throws {
        try connection.withLock { db in
            var error: UnsafeMutablePointer<CChar>?
            guard sqlite3_exec(db, sql, nil, nil, &error) == SQLITE_OK else {
                defer { sqlite3_free(error) }
                throw Failure(description: error.map { String(cString: $0) } ?? "sqlite error")
            }
        }
    }

    /// Runs one statement with text arguments; returns the first column of each row.
    private func query(_ sql: String, _ arguments: [String]) throws -> [String] {
        try connection.withLock { db in
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else {
                throw Failure(description: String(cString: sqlite3_errmsg(db)))
            }
            defer { sqlite3_finalize(statement) }
            let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
            for (index, argument) in arguments.enumerated() {
                sqlite3_bind_text(statement, Int32(index + 1), argument, -1, transient)
            }
            var rows: [String] = []
            while true {
                switch sqlite3_step(statement) {
                case SQLITE_ROW: rows.append(sqlite3_column_text(statement, 0).map { String(cString: $0) } ?? "")
                case SQLITE_DONE: return rows
                default: throw Failure(description: String(cString: sqlite3_errmsg(db)))
                }
            }
        }
    }
}

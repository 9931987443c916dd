import CSQLite

/// Why a store could not open or use its database, as one line a person can act on.
public struct StoreError: Error, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// The file is not a SQLite database at all (SQLITE_NOTADB); it was left untouched.
        case notADatabase
        /// A SQLite database, but not one a paxos store created; it was left untouched.
        case foreignDatabase
        /// A paxos database of another kind, e.g. a learner's file opened as an acceptor's.
        case wrongKind(found: StoreKind)
        /// Written by a newer binary whose schema this one does not know; it was left untouched.
        case newerSchema(version: Int, supported: Int)
        /// SQLITE_FULL: the disk (or the file-size limit) is full.
        case diskFull
        /// SQLITE_READONLY, or a file the process may not write.
        case readOnly
        /// SQLITE_BUSY / SQLITE_LOCKED: another process holds the database past the busy timeout.
        case busy
        /// SQLITE_CORRUPT, or a row this binary cannot decode.
        case corrupt
        /// The store was closed before this call.
        case closed
        /// Any other SQLite failure, with its (extended) result code.
        case sqlite(code: Int32)
    }

    public let path: String
    public let reason: Reason
    public let description: String

    init(path: String, reason: Reason, _ description: String) {
        self.path = path
        self.reason = reason
        self.description = description
    }

    /// A failed SQLite call: `doing` says what the store was attempting, `message` is sqlite3_errmsg.
    static func sqlite(_ code: Int32, path: String, doing: String, message: String) -> StoreError {
        let (reason, headline): (Reason, String) =
            switch code & 0xFF {  // the primary code; extended codes only refine it
            case SQLITE_NOTADB: (.notADatabase, "not a SQLite database")
            case SQLITE_FULL: (.diskFull, "disk full")
            case SQLITE_READONLY: (.readOnly, "database is read-only")
            case SQLITE_BUSY, SQLITE_LOCKED: (.busy, "database is locked by another process")
            case SQLITE_CORRUPT: (.corrupt, "database file is corrupt")
            case SQLITE_CANTOPEN: (.sqlite(code: code), "cannot open the file (does its directory exist and is it writable?)")
            case SQLITE_IOERR: (.sqlite(code: code), "I/O error")
            default: (.sqlite(code: code), "SQLite error \(code)")
            }
        return StoreError(path: path, reason: reason, "\(path): \(headline) (\(doing): \(message))")
    }

    /// Opening a damaged file fails with whatever code the damage trips first: SQLITE_CORRUPT mostly, but
    /// garbage in the schema pages can also yield TOOBIG, RANGE, MISMATCH, FORMAT or SCHEMA. While
    /// opening, these mean a corrupt file, and the message says so.
    func namingDamage() -> StoreError {
        guard case .sqlite(let code) = reason,
              [SQLITE_TOOBIG, SQLITE_RANGE, SQLITE_MISMATCH, SQLITE_FORMAT, SQLITE_SCHEMA].contains(code & 0xFF)
        else { return self }
        let generic = "\(path): SQLite error \(code) "
        let detail = description.hasPrefix(generic) ? String(description.dropFirst(generic.count)) : "(\(description))"
        return StoreError(path: path, reason: .corrupt, "\(path): database file is corrupt \(detail)")
    }

    static func closed(_ path: String) -> StoreError {
        StoreError(path: path, reason: .closed, "\(path): the store is closed")
    }

    static func corrupt(_ path: String, _ what: String) -> StoreError {
        StoreError(path: path, reason: .corrupt, "\(path): corrupt row: \(what)")
    }
}

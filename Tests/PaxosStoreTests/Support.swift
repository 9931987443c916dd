import CSQLite
import Foundation
import Testing

/// Runs `body` with a fresh temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("paxos-store-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

extension URL {
    func file(_ name: String) -> String { appendingPathComponent(name).path }
}

/// The bytes of a file, to check a refused database was left exactly as it was.
func contents(_ path: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: path))
}

/// Runs SQL through a raw sqlite3 connection, bypassing the stores (to tamper with a file).
func rawExecute(_ path: String, _ sql: String, create: Bool = false) throws {
    var db: OpaquePointer?
    defer { sqlite3_close_v2(db) }
    let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
    try #require(sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK)
    let rc = sqlite3_exec(db, sql, nil, nil, nil)
    try #require(rc == SQLITE_OK, "\(String(cString: sqlite3_errmsg(db)))")
}

/// The first column of each row of a query, as text, through a raw sqlite3 connection.
func rawQuery(_ path: String, _ sql: String) throws -> [String] {
    var db: OpaquePointer?
    defer { sqlite3_close_v2(db) }
    try #require(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK)
    var stmt: OpaquePointer?
    defer { sqlite3_finalize(stmt) }
    try #require(sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, "\(String(cString: sqlite3_errmsg(db)))")
    var rows: [String] = []
    while sqlite3_step(stmt) == SQLITE_ROW {
        rows.append(sqlite3_column_text(stmt, 0).map { String(cString: $0) } ?? "NULL")
    }
    return rows
}

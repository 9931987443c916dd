import ArgumentParser
import CSQLite
import Foundation
import PaxosCommandLine
import PaxosNode
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// The machine's limits, measured in the same invocation as a run so that every figure reads as a
// fraction of what the machine can do: SQLite commits (WAL, synchronous=FULL, as paxos commits) and raw
// fdatasyncs. The raw multicast rate is BenchMulticast.swift.

struct FsyncProbe: Codable {
    var fdatasyncs: Int
    var per_s: Double
    var p50_ms: Double
    var p99_ms: Double

    /// A 64-byte pwrite + fdatasync loop on one file in `directory` for `seconds`: this machine's disk
    /// alternates between ~0.1 ms and ~4 ms flushes, so each run is bracketed by one.
    static func measure(in directory: String, seconds: Double) throws -> FsyncProbe {
        let path = directory + "/fsync-probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StartupError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd); unlink(path) }
        let bytes = [UInt8](repeating: 0x78, count: 64)
        var times: [UInt64] = []
        let end = monotonicNanoseconds() + UInt64(seconds * 1e9)
        while monotonicNanoseconds() < end {
            _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, 64, 0) }
            let t = monotonicNanoseconds()
            guard fdatasync(fd) == 0 else { throw StartupError("fdatasync: \(String(cString: strerror(errno)))") }
            times.append(monotonicNanoseconds() - t)
        }
        times.sort()
        guard !times.isEmpty else { throw StartupError("no fdatasync completed in \(seconds) s") }
        return FsyncProbe(fdatasyncs: times.count, per_s: Double(times.count) / seconds,
                          p50_ms: Double(times[times.count / 2]) / 1e6,
                          p99_ms: Double(times[min(Int(Double(times.count) * 0.99), times.count - 1)]) / 1e6)
    }
}

struct SQLiteCase: Codable {
    var rows_per_transaction: Int
    var writers: Int
    var transactions_per_s: Double
    var rows_per_s: Double
    var transactions_per_s_per_writer: [Double]
    var commit_ms_p50: Double?
    var commit_ms_p99: Double?
    var commit_ms_mean: Double?
    var seconds: Double
}

struct SQLiteLimits: Codable {
    var mode: String
    var filesystem_of: String
    var results: [SQLiteCase]
    var raw_fdatasync: FsyncProbe?
    var quorum_commit: QuorumCommitProbe?
}

/// The disk's share of a value's way at moderate rates: a learner may deliver a value only once a quorum of
/// acceptors (2 of 3) committed it, and the three commit the same 2A at the same moment. Three writers, each on
/// its own database, commit one 64-byte row at the same scheduled instants, `rounds_per_s` times a second (as
/// acceptors at 10,000 values/s commit ~260 times a second); each commit is timed from its scheduled instant, and
/// a round's quorum time is its second-fastest. Against one writer alone at the same pace: an acceptor on a disk
/// of its own. The paced commit also costs more than back-to-back ones (`sqlite_full_1_row_tx`): an idle disk and
/// core wake up for each.
struct QuorumCommitProbe: Codable {
    var writers: Int
    var rounds: Int
    var rounds_per_s: Double
    var alone_ms_p50: Double
    var alone_ms_p99: Double
    var quorum_ms_p50: Double
    var quorum_ms_p99: Double

    /// Per round, the time by which a majority of the writers' commits were durable (`each[writer][round]`).
    static func quorumTimes(_ each: [[UInt64]]) -> [UInt64] {
        guard let rounds = each.map(\.count).min() else { return [] }
        return (0..<rounds).map { k in each.map { $0[k] }.sorted()[each.count / 2] }
    }

    static func measure(directory: String, writers: Int = 3, roundsPerSecond: Double = 260, seconds: Double = 2) throws -> QuorumCommitProbe {
        let rounds = max(Int(roundsPerSecond * seconds), 1)
        let period = UInt64(1e9 / roundsPerSecond)
        func together(_ n: Int) throws -> [[UInt64]] {
            let startAt = monotonicNanoseconds() + 300_000_000
            return try SQLiteLimit.onThreads(n) { i in
                try SQLiteLimit.pacedWriter(path: "\(directory)/quorum-probe-\(i).sqlite", rounds: rounds,
                                            startAt: startAt, period: period)
            }
        }
        func pct(_ xs: [UInt64], _ p: Double) -> Double { Double(xs.sorted()[min(Int(Double(xs.count) * p), xs.count - 1)]) / 1e6 }
        let alone = try together(1)[0]
        let each = try together(writers)
        let quorum = quorumTimes(each)
        return QuorumCommitProbe(writers: writers, rounds: rounds, rounds_per_s: roundsPerSecond,
                                 alone_ms_p50: pct(alone, 0.5), alone_ms_p99: pct(alone, 0.99),
                                 quorum_ms_p50: pct(quorum, 0.5), quorum_ms_p99: pct(quorum, 0.99))
    }
}

enum SQLiteLimit {
    /// One writer on its own database committing one 64-byte row at `startAt`, `startAt + period`, ...:
    /// each commit's time from its scheduled instant until it is durable (ns), `rounds` of them.
    static func pacedWriter(path: String, rounds: Int, startAt: UInt64, period: UInt64) throws -> [UInt64] {
        try withProbeDatabase(path: path, insert: "INSERT INTO t (v) VALUES (randomblob(64))") { db, exec, insert in
            var times: [UInt64] = []
            times.reserveCapacity(rounds)
            for k in 0..<rounds {
                let due = startAt + UInt64(k) * period
                let now = monotonicNanoseconds()
                if due > now { usleep(UInt32((due - now) / 1_000)) }
                while monotonicNanoseconds() < due {}
                try exec("BEGIN")
                guard sqlite3_step(insert) == SQLITE_DONE else { throw StartupError("insert: \(String(cString: sqlite3_errmsg(db)))") }
                sqlite3_reset(insert)
                try exec("COMMIT")
                times.append(monotonicNanoseconds() - due)
            }
            return times
        }
    }

    /// A fresh database at `path` (WAL, synchronous=FULL, as paxos opens its stores) with one table `t (k, v)`
    /// and `insert` prepared, removed again when `body` returns.
    static func withProbeDatabase<T>(path: String, insert sql: String,
                                     _ body: (OpaquePointer, (String) throws -> Void, OpaquePointer) throws -> T) throws -> T {
        func remove() { for s in ["", "-wal", "-shm"] { unlink(path + s) } }
        remove()
        defer { remove() }
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw StartupError("cannot open SQLite database '\(path)'") }
        defer { sqlite3_close(db) }
        func exec(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
                throw StartupError("\(sql): \(String(cString: sqlite3_errmsg(db)))")
            }
        }
        try exec("PRAGMA journal_mode=WAL")
        try exec("PRAGMA synchronous=FULL")
        try exec("PRAGMA secure_delete=OFF")
        try exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
        var insert: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &insert, nil) == SQLITE_OK, let insert else {
            throw StartupError("prepare: \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(insert) }
        return try body(db, exec, insert)
    }

    /// One writer on its own database: 64-byte rows, `rows` per transaction, for `seconds` from `startAt`.
    /// Returns the commit times (ns) and the elapsed time (s).
    static func writer(path: String, rows: Int, seconds: Double, startAt: UInt64, rowBytes: Int = 64) throws -> (times: [UInt64], elapsed: Double) {
        try withProbeDatabase(path: path, insert: "INSERT INTO t (v) VALUES (?)") { db, exec, insert in
            let row = (0..<rowBytes).map { _ in UInt8.random(in: 0...255) }
            while monotonicNanoseconds() < startAt { usleep(1_000) }
            var times: [UInt64] = []
            let start = monotonicNanoseconds(), end = start + UInt64(seconds * 1e9)
            while monotonicNanoseconds() < end {
                let t = monotonicNanoseconds()
                try exec("BEGIN")
                for _ in 0..<rows {
                    _ = row.withUnsafeBytes { sqlite3_bind_blob(insert, 1, $0.baseAddress, Int32(rowBytes), csqlite_transient()) }
                    guard sqlite3_step(insert) == SQLITE_DONE else { throw StartupError("insert: \(String(cString: sqlite3_errmsg(db)))") }
                    sqlite3_reset(insert)
                }
                try exec("COMMIT")
                times.append(monotonicNanoseconds() - t)
            }
            return (times, Double(monotonicNanoseconds() - start) / 1e9)
        }
    }

    /// `body(0)` ... `body(n - 1)`, each on a thread of its own (the probes' writers block in SQLite and fsync:
    /// threads, not tasks), and their results in that order; the first error, if any, once all returned.
    static func onThreads<T: Sendable>(_ n: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = Mutex<[Result<T, any Error>?]>(Array(repeating: nil, count: n))
        let group = DispatchGroup()
        for i in 0..<n {
            group.enter()
            Thread.detachNewThread {
                let r = Result { try body(i) }
                results.withLock { $0[i] = r }
                group.leave()
            }
        }
        group.wait()
        return try results.withLock { $0 }.map { try $0!.get() }
    }

    /// `writers` threads at once, each on its own database in `directory` (a cluster on one machine has
    /// 3 acceptors and 2 learners committing to the same disk).
    static func measure(directory: String, rows: Int, writers: Int, seconds: Double) throws -> SQLiteCase {
        let startAt = monotonicNanoseconds() + 300_000_000
        let results = try onThreads(writers) { i in
            try writer(path: "\(directory)/sqlite-probe-\(i).sqlite", rows: rows, seconds: seconds, startAt: startAt)
        }
        let commits = results.reduce(0) { $0 + $1.times.count }
        let elapsed = results.map(\.elapsed).max() ?? seconds
        let times = results.flatMap(\.times).sorted()
        func pct(_ p: Double) -> Double? { times.isEmpty ? nil : Double(times[min(Int(Double(times.count) * p), times.count - 1)]) / 1e6 }
        return SQLiteCase(rows_per_transaction: rows, writers: writers, transactions_per_s: Double(commits) / elapsed,
                          rows_per_s: Double(commits * rows) / elapsed,
                          transactions_per_s_per_writer: results.map { Double($0.times.count) / $0.elapsed },
                          commit_ms_p50: pct(0.5), commit_ms_p99: pct(0.99),
                          commit_ms_mean: times.isEmpty ? nil : Double(times.reduce(0, +)) / Double(times.count) / 1e6,
                          seconds: elapsed)
    }

    static func measureAll(directory: String, seconds: Double) throws -> SQLiteLimits {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let before = try FsyncProbe.measure(in: directory, seconds: 1)
        var results: [SQLiteCase] = []
        for writers in [1, 5] {
            for rows in [1, 100] { results.append(try measure(directory: directory, rows: rows, writers: writers, seconds: seconds)) }
        }
        return SQLiteLimits(mode: "WAL, synchronous=FULL", filesystem_of: directory, results: results, raw_fdatasync: before,
                            quorum_commit: try QuorumCommitProbe.measure(directory: directory))
    }
}

/// The disk's write bandwidth, the ceiling of big values (every acceptor and learner writes each value):
/// a sequential write then one fdatasync (as `dd … conv=fdatasync`), and SQLite WAL synchronous=FULL with
/// 64 KiB rows, 16 per transaction, from one writer (its checkpoints included: over seconds they copy
/// every byte from the WAL into the database again).
struct DiskBandwidth: Codable {
    var sequential_bytes: Int
    var sequential_mb_per_s: Double
    var sqlite_row_bytes: Int
    var sqlite_rows_per_transaction: Int
    var sqlite_mb_per_s: Double
    var sqlite_seconds: Double

    static func measure(directory: String, seconds: Double) throws -> DiskBandwidth {
        let path = directory + "/disk-probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StartupError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd); unlink(path) }
        let chunk = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) }
        let total = 256 << 20
        let t0 = monotonicNanoseconds()
        var written = 0
        while written < total {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw StartupError("write: \(String(cString: strerror(errno)))") }
            written += n
        }
        guard fdatasync(fd) == 0 else { throw StartupError("fdatasync: \(String(cString: strerror(errno)))") }
        let sequential = Double(written) / (Double(monotonicNanoseconds() - t0) / 1e9) / 1e6

        let rowBytes = 64 << 10, rows = 16
        let (times, elapsed) = try SQLiteLimit.writer(path: directory + "/disk-probe.sqlite", rows: rows, seconds: seconds,
                                                      startAt: monotonicNanoseconds(), rowBytes: rowBytes)
        return DiskBandwidth(sequential_bytes: written, sequential_mb_per_s: sequential, sqlite_row_bytes: rowBytes,
                             sqlite_rows_per_transaction: rows,
                             sqlite_mb_per_s: Double(times.count * rows * rowBytes) / elapsed / 1e6, sqlite_seconds: elapsed)
    }
}

/// Pretty JSON of a Codable value, keys sorted.
func jsonText<T: Encodable>(_ value: T, pretty: Bool = false) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    try Data((try jsonText(value, pretty: true) + "\n").utf8).write(to: URL(fileURLWithPath: path))
}

func readJSON<T: Decodable>(_ type: T.Type, _ path: String) -> T? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return try? JSONDecoder().decode(T.self, from: data)
}

struct SQLiteLimitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sqlite",
        abstract: "Machine limit: SQLite commits/s (WAL, synchronous=FULL, 64-byte rows; 1 and 100 rows a transaction, 1 and 5 writers), and a quorum's commit (3 writers at once, 260 times a second).",
        discussion: "Put DIR on the filesystem of the paxos state. Prints one JSON object.")
    @Argument(help: "Folder for the probe databases.") var directory: String
    @Option(help: "Seconds per case.") var seconds: Double = 2

    func run() throws {
        try guarded(tool: tool) {
            guard seconds > 0 else { throw StartupError("--seconds must be positive") }
            print(try jsonText(try SQLiteLimit.measureAll(directory: directory, seconds: seconds)))
        }
    }
}

struct FsyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsync", abstract: "Machine limit: raw 64-byte pwrite + fdatasync loop; prints one JSON object.")
    @Argument(help: "Folder for the probe file.") var directory: String
    @Option(help: "Seconds to run.") var seconds: Double = 1

    func run() throws {
        try guarded(tool: tool) {
            guard seconds > 0 else { throw StartupError("--seconds must be positive") }
            print(try jsonText(try FsyncProbe.measure(in: directory, seconds: seconds)))
        }
    }
}

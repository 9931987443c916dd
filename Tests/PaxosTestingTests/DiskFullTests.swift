// A full disk under a running acceptor: what only the kernel can do (a tmpfs that fills up), so root only.
import CSQLite
import Foundation
import PaxosCore
@testable import PaxosNode
import PaxosStore
import PaxosTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A tiny tmpfs mounted on a temporary folder this test created; ``unmount()`` (always called, in a defer)
/// takes it away, lazily if something still holds it. Nothing else is ever mounted or unmounted.
final class TinyTmpfs {
    let path: String
    private var mounted = false

    init(bytes: Int) throws {
        var template = Array("\(NSTemporaryDirectory())/paxos-disk-full.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw StartupError("cannot create a temporary folder") }
        path = String(cString: made)
        guard mount("paxos-diskfull", path, "tmpfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), "size=\(bytes),mode=0755") == 0 else {
            let why = String(cString: strerror(errno))
            rmdir(path)
            throw StartupError("cannot mount a tmpfs on \(path): \(why)")
        }
        mounted = true
    }

    /// Writes zeros into `name` until the file system refuses: returns the errno that stopped it.
    func fill(_ name: String) -> Int32 {
        let fd = open("\(path)/\(name)", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let block = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { return errno }
        }
    }

    func unmount() {
        guard mounted else { return }
        mounted = false
        if umount2(path, 0) != 0 { umount2(path, Int32(MNT_DETACH)) }
        rmdir(path)
    }

    deinit { unmount() }
}

/// What acceptor 1 handed to its transport: every promise's ballot, and every 2B's (instance, ballot).
final class SentByAcceptor: @unchecked Sendable {
    let acceptor: UInt32
    private let lock = NSLock()
    private var promised: [Ballot] = []
    private var votes: [(Instance, Ballot)] = []

    init(acceptor: UInt32) { self.acceptor = acceptor }

    func record(_ who: LiveCluster.NodeID, _ out: Outgoing) {
        guard who == LiveCluster.NodeID(.acceptor, acceptor) else { return }
        lock.lock()
        defer { lock.unlock() }
        switch out.message {
        case .promise(let p): promised.append(p.ballot)
        case .accepted(_, let ballot, let proposals): votes += proposals.map { ($0.instance, ballot) }
        default: break
        }
    }

    var recorded: (promises: [Ballot], votes: [(Instance, Ballot)]) {
        lock.lock()
        defer { lock.unlock() }
        return (promised, votes)
    }
}

/// `PRAGMA integrity_check`'s rows, through a raw read-only connection.
func integrityCheck(_ path: String) -> [String] {
    var db: OpaquePointer?
    defer { sqlite3_close_v2(db) }
    guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
        return ["cannot open: \(String(cString: sqlite3_errmsg(db)))"]
    }
    var stmt: OpaquePointer?
    defer { sqlite3_finalize(stmt) }
    guard sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nil) == SQLITE_OK else {
        return ["cannot check: \(String(cString: sqlite3_errmsg(db)))"]
    }
    var rows: [String] = []
    while sqlite3_step(stmt) == SQLITE_ROW { rows.append(sqlite3_column_text(stmt, 0).map { String(cString: $0) } ?? "NULL") }
    return rows
}

@Suite(.serialized) struct DiskFullTests {
    /// Acceptor 1 of 3 keeps its database on a 2 MB tmpfs. A client's values are decided with all three;
    /// then the tmpfs is filled up and a second client's values must make acceptor 1 stop (its write fails)
    /// with storage failure (exit status 4) and one error line naming its file, without having sent any
    /// promise or 2B that is not in its database, leaving a valid database; the two others decide the rest.
    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func anAcceptorWhoseDiskFillsUpStopsAndTheOthersDecide() async throws {
        let tmpfs = try TinyTmpfs(bytes: 2 << 20)
        defer { tmpfs.unmount() }
        let sent = SentByAcceptor(acceptor: 1)
        // Small batches: the first client's values take several instances, so acceptor 1 sends several 2Bs.
        let cluster = try LiveCluster(.init(acceptors: 3, proposers: 1, learners: 1, configLines: ["batch-bytes 64"],
                                            stateFolders: [.init(.acceptor, 1): tmpfs.path],
                                            onSend: { sent.record($0, $1) }))
        defer { cluster.shutdown() }
        try cluster.start()
        let count = 40
        let first = (1...count).map { Array("\($0)".utf8) }
        let second = ((count + 1)...(2 * count)).map { Array("\($0)".utf8) }

        try cluster.submit(client: 1, values: first, timeout: 15)
        try #require(try await cluster.waitForStop(.client, 1, timeout: 20) == .finished,
                     "client 1 (all acceptors up) did not finish")
        try #require(cluster.isRunning(.acceptor, 1),
                     "acceptor 1 stopped before its disk was full: \(String(describing: cluster.stopReason(.acceptor, 1)))")

        let filled = tmpfs.fill("filler")
        try #require(filled == ENOSPC, "could not fill the tmpfs: \(String(cString: strerror(filled)))")

        try cluster.submit(client: 2, values: second, timeout: 15)
        let client2 = try await cluster.waitForStop(.client, 2, timeout: 20)
        _ = try await cluster.waitForStop(.acceptor, 1, timeout: 5)
        _ = try await cluster.waitUntil(timeout: 5) { cluster.delivered(learner: 1).count >= 2 * count }
        let othersRunning = [(Role.acceptor, UInt32(2)), (.acceptor, 3), (.proposer, 1), (.learner, 1)]
            .filter { !cluster.isRunning($0.0, $0.1) }.map { "\($0.0) \($0.1)" }

        // 1. Acceptor 1 stopped by itself, for its storage (exit status 4), and the one line its process
        //    prints names the full disk and its file.
        let stop = cluster.stopReason(.acceptor, 1)
        #expect(stop != nil, "acceptor 1 was still running with a full disk (values decided without it writing?)")
        if let stop {
            let reason = try stop.get()
            guard case .storageFailed = reason else {
                Issue.record("acceptor 1 stopped for \(reason), not a storage failure")
                return
            }
            #expect(reason.exitCode == 4)
            let line = "paxos: error: \(NodeStopped(role: .acceptor, id: 1, reason: reason))"
            #expect(line.range(of: "acceptor-1.sqlite: disk full", options: .caseInsensitive) != nil,
                    "acceptor 1's error line is not the disk-full error: \(line)")
            #expect(!line.unicodeScalars.contains { $0.properties.generalCategory == .control },
                    "acceptor 1's error is more than one line: \(line)")
        }

        // 2. What it left is a valid database: checked on a copy outside the full tmpfs (its WAL included),
        //    by SQLite's integrity check and by the store itself.
        let copy = cluster.directory + "/acceptor-1-copy"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        let files = try FileManager.default.contentsOfDirectory(atPath: tmpfs.path).filter { $0.hasPrefix("acceptor-1.sqlite") }
        try #require(files.contains("acceptor-1.sqlite"), "no database left behind: \(files)")
        for f in files { try FileManager.default.copyItem(atPath: "\(tmpfs.path)/\(f)", toPath: "\(copy)/\(f)") }
        let database = copy + "/acceptor-1.sqlite"
        #expect(integrityCheck(database) == ["ok"])
        let store = try AcceptorStore(path: database)
        let state = try store.load()
        store.close()

        // 3. Every promise and 2B acceptor 1 sent is in that database: a promise at least as high, and each
        //    instance accepted at a ballot at least as high.
        let (promises, votes) = sent.recorded
        #expect(!votes.isEmpty, "no 2B from acceptor 1 was recorded: nothing to compare")
        var unpersisted: [String] = []
        for ballot in promises where state.promised < ballot {
            unpersisted.append("promise \(ballot) sent, database holds \(state.promised)")
        }
        let accepted = Dictionary(state.accepted.map { ($0.instance, $0.ballot) }, uniquingKeysWith: max)
        for (instance, ballot) in votes where accepted[instance].map({ $0 < ballot }) ?? true {
            unpersisted.append("2B instance \(instance) ballot \(ballot) sent, database holds \(accepted[instance].map { "\($0)" } ?? "nothing")")
        }
        #expect(unpersisted.isEmpty,
                "\(unpersisted.count) of \(promises.count + votes.count) sent messages are not in the database: \(unpersisted.prefix(5))")

        // 4. The two other acceptors decided everything: client 2 done, the learner delivered every value
        //    once, and nothing else stopped.
        #expect(client2 == .finished, "client 2 (acceptor 1 out of space) ended with \(String(describing: client2))")
        let learned = cluster.deliveredValues(learner: 1)
        #expect(learned.count == 2 * count && Set(learned) == Set(first + second),
                "learner 1 delivered \(learned.count) values, not 1...\(2 * count) once each")
        #expect(othersRunning.isEmpty, "stopped along the way: \(othersRunning)")
        #expect(cluster.problems.isEmpty, "\(cluster.problems)")
    }
}

import Foundation
import PaxosCore
import Testing
@testable import PaxosStore

@Suite struct AcceptorStoreTests {
    static let a = Submission(id: SubmissionID(client: 1, incarnation: 0xDEAD_BEEF_0000_0001, sequence: 1), value: Array("alpha".utf8))
    static let b = Submission(id: SubmissionID(client: 2, incarnation: .max, sequence: 7), value: Array("β ünïcödé".utf8))
    static let empty = Submission(id: SubmissionID(client: .max, incarnation: 0, sequence: 0), value: [])

    @Test func freshStoreIsEmpty() throws {
        try withTemporaryDirectory { dir in
            let store = try AcceptorStore(path: dir.file("acceptor-1.sqlite"))
            #expect(try store.load() == AcceptorDurableState())
        }
    }

    @Test func trimmingDeletesThroughThePointAndSurvivesReopen() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("acceptor-1.sqlite")
            let ballot = Ballot(round: 1, proposer: 1)
            do {
                let store = try AcceptorStore(path: path)
                try store.write(AcceptorWrite(promised: ballot, accepted: (1...5).map {
                    AcceptedEntry(instance: $0, ballot: ballot, proposal: .noop)
                }))
                try store.write(AcceptorWrite(trimThrough: 3))
                store.close()
            }
            let state = try AcceptorStore(path: path).load()
            #expect(state.trimmedThrough == 3)
            #expect(state.accepted.map(\.instance) == [4, 5])
            #expect(try rawQuery(path, "SELECT COUNT(*) FROM accepted") == ["2"])
        }
    }

    /// A trim frees what it forgets without writing it again: a SQLite built with SECURE_DELETE (Debian's,
    /// Ubuntu's) zeroes every deleted byte, so forgetting 3 MiB of values wrote 3 MiB more to the WAL, and in
    /// the closed-loop benchmark each trim stalled the disk under all three acceptors at once.
    @Test func trimmingWritesLittleOfWhatItForgets() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("acceptor-1.sqlite")
            let ballot = Ballot(round: 1, proposer: 1)
            let store = try AcceptorStore(path: path)
            // 200 instances of 16 KiB each (overflow pages, as a batch of a few hundred values makes).
            let value = [UInt8](repeating: 0xA5, count: 16 << 10)
            let forgotten = 200 * value.count
            try store.write(AcceptorWrite(promised: ballot, accepted: (1...200).map { i in
                AcceptedEntry(instance: i, ballot: ballot, proposal: .batch([
                    Submission(id: SubmissionID(client: 1, incarnation: 1, sequence: i), value: value)]))
            }))
            // An empty WAL (from another connection, as a checkpoint would leave it), so what the trim
            // writes is the WAL's size afterwards.
            try rawExecute(path, "PRAGMA wal_checkpoint(TRUNCATE)")
            #expect(try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int == 0)
            try store.write(AcceptorWrite(trimThrough: 200))
            let written = try #require(FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int)
            #expect(written < forgotten / 10, "a trim of \(forgotten) bytes wrote \(written) bytes to the WAL")
            #expect(try store.load().accepted.isEmpty)
        }
    }

    @Test func aVersionOneDatabaseIsMigratedInPlace() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("acceptor-1.sqlite")
            // What the first release wrote: schema 0001 only, one accepted value.
            try rawExecute(path, StoreKind.acceptor.migrations[0].sql, create: true)
            try rawExecute(path, "INSERT INTO accepted VALUES (7, 2, 1, x'00'); PRAGMA application_id = \(StoreKind.acceptor.applicationID); PRAGMA user_version = 1")
            let state = try AcceptorStore(path: path).load()
            #expect(state.accepted.map(\.instance) == [7])
            #expect(state.trimmedThrough == 0)
            #expect(try rawQuery(path, "PRAGMA user_version") == ["\(StoreKind.acceptor.migrations.count)"])
        }
    }

    @Test func roundTripAndReopen() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("acceptor-1.sqlite")
            let entries = [
                AcceptedEntry(instance: 1, ballot: Ballot(round: 3, proposer: 2), proposal: .batch([Self.a, Self.b])),
                AcceptedEntry(instance: 2, ballot: Ballot(round: 3, proposer: 2), proposal: .noop),
                AcceptedEntry(instance: 5, ballot: Ballot(round: .max, proposer: .max), proposal: .batch([Self.empty])),
            ]
            let expected = AcceptorDurableState(promised: Ballot(round: 4, proposer: 1), accepted: entries)
            do {
                let store = try AcceptorStore(path: path)
                // Written out of order and in two transactions; loaded back by instance.
                try store.write(AcceptorWrite(promised: Ballot(round: 3, proposer: 2), accepted: [entries[2], entries[0]]))
                try store.write(AcceptorWrite(promised: Ballot(round: 4, proposer: 1), accepted: [entries[1]]))
                try store.write(AcceptorWrite())
                #expect(try store.load() == expected)
                store.close()
            }
            // A new process: only the file remains.
            let reopened = try AcceptorStore(path: path, synchronous: .normal)
            #expect(try reopened.load() == expected)
        }
    }

    @Test func laterAcceptedEntryReplacesEarlier() throws {
        try withTemporaryDirectory { dir in
            let store = try AcceptorStore(path: dir.file("acceptor.sqlite"), synchronous: .off)
            let first = AcceptedEntry(instance: 9, ballot: Ballot(round: 1, proposer: 1), proposal: .batch([Self.a]))
            let second = AcceptedEntry(instance: 9, ballot: Ballot(round: 2, proposer: 3), proposal: .batch([Self.b]))
            let third = AcceptedEntry(instance: 9, ballot: Ballot(round: 5, proposer: 1), proposal: .noop)
            // Within one write the later entry wins...
            try store.write(AcceptorWrite(accepted: [first, second]))
            #expect(try store.load().accepted == [second])
            // ...and so does a later write.
            try store.write(AcceptorWrite(promised: Ballot(round: 5, proposer: 1), accepted: [third]))
            #expect(try store.load() == AcceptorDurableState(promised: Ballot(round: 5, proposer: 1), accepted: [third]))
        }
    }

    @Test func instancesPast2To63KeepUnsignedOrder() throws {
        try withTemporaryDirectory { dir in
            let store = try AcceptorStore(path: dir.file("acceptor.sqlite"))
            let instances: [Instance] = [.max, 1 << 63, 3, (1 << 63) - 1]
            try store.write(AcceptorWrite(accepted: instances.map {
                AcceptedEntry(instance: $0, ballot: Ballot(round: 1, proposer: 1), proposal: .noop)
            }))
            #expect(try store.load().accepted.map(\.instance) == instances.sorted())
        }
    }

    @Test func corruptProposalBlobThrows() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("acceptor.sqlite")
            do {
                let store = try AcceptorStore(path: path)
                try store.write(AcceptorWrite(accepted: [
                    AcceptedEntry(instance: 1, ballot: Ballot(round: 1, proposer: 1), proposal: .batch([Self.a])),
                ]))
            }
            // A batch claiming 255 submissions in two bytes.
            try rawExecute(path, "UPDATE accepted SET proposal = x'01ff01' WHERE instance = 1")
            let store = try AcceptorStore(path: path)
            let error = #expect(throws: StoreError.self) { try store.load() }
            #expect(error?.reason == .corrupt)
            #expect(error?.description.contains("instance 1") == true)

            // A value of the wrong type in a column is corrupt too, not a silent zero.
            try rawExecute(path, "UPDATE accepted SET proposal = x'00', round = 'x' WHERE instance = 1")
            #expect(throws: StoreError.self) { try store.load() }
        }
    }

    @Test func closedStoreThrowsAndCloseIsIdempotent() throws {
        try withTemporaryDirectory { dir in
            let store = try AcceptorStore(path: dir.file("acceptor.sqlite"))
            store.close()
            store.close()
            let error = #expect(throws: StoreError.self) { try store.load() }
            #expect(error?.reason == .closed)
            #expect(throws: StoreError.self) { try store.write(AcceptorWrite(promised: Ballot(round: 1, proposer: 1))) }
        }
    }
}

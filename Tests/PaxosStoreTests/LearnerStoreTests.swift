import Foundation
import PaxosCore
import Testing
@testable import PaxosStore

@Suite struct LearnerStoreTests {
    static func delivery(_ position: UInt64, _ value: [UInt8], client: UInt32 = 1, incarnation: UInt64 = 42) -> Delivery {
        Delivery(position: position, submission: Submission(
            id: SubmissionID(client: client, incarnation: incarnation, sequence: position * 10), value: value))
    }

    @Test func freshStoreStartsAtOne() throws {
        try withTemporaryDirectory { dir in
            let store = try LearnerStore(path: dir.file("learner-1.sqlite"))
            #expect(try store.load() == LearnerDurableState(nextInstance: 1, nextPosition: 1, delivered: []))
            #expect(try store.values() == [])
        }
    }

    @Test func roundTripAndReopen() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("learner-1.sqlite")
            let d1 = Self.delivery(1, Array("one".utf8), incarnation: .max)
            let d2 = Self.delivery(2, Array("two".utf8), client: .max)
            let d3 = Self.delivery(3, Array("three".utf8), incarnation: 1 << 63)
            let expected = LearnerDurableState(nextInstance: 6, nextPosition: 4,
                                               delivered: [d1, d2, d3].map(\.submission.id))
            do {
                let store = try LearnerStore(path: path)
                try store.write([DeliveredInstance(instance: 1, deliveries: [d1, d2])])
                // Instance 4 was a no-op and 5 repeated delivered submissions: progress still moves.
                try store.write([
                    DeliveredInstance(instance: 2, deliveries: []),
                    DeliveredInstance(instance: 3, deliveries: [d3]),
                    DeliveredInstance(instance: 4, deliveries: []),
                    DeliveredInstance(instance: 5, deliveries: []),
                ])
                try store.write([])
                #expect(try store.load() == expected)
            }
            let reopened = try LearnerStore(path: path)
            #expect(try reopened.load() == expected)
            #expect(try reopened.values() == [d1, d2, d3].map(\.submission.value))
            #expect(try reopened.values(fromPosition: 2) == [d2, d3].map(\.submission.value))
            #expect(try reopened.values(fromPosition: 2, limit: 1) == [d2.submission.value])
            #expect(try reopened.values(limit: 0) == [])
            #expect(try reopened.values(fromPosition: 9) == [])
        }
    }

    @Test func outputIsRecordedReplacedAndKeptAcrossReopening() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("learner-1.sqlite")
            let second = LearnerOutput(device: 2049, inode: 77, firstPosition: 40_001, modified: 1_700_000_000_123_456_789)
            do {
                let store = try LearnerStore(path: path)
                #expect(try store.output() == nil)
                // Every bit of the unsigned fields round-trips.
                let first = LearnerOutput(device: .max, inode: 1 << 63, firstPosition: 1, modified: -5)
                try store.recordOutput(first)
                #expect(try store.output() == first)
                try store.recordOutput(second)
                #expect(try store.output() == second)
            }
            #expect(try rawQuery(path, "SELECT count(*) FROM output") == ["1"])
            let reopened = try LearnerStore(path: path)
            #expect(try reopened.output() == second)
            // The record is no delivery: the learner's state and values are as they were.
            #expect(try reopened.load() == LearnerDurableState())
            #expect(try reopened.values() == [])
        }
    }

    @Test func valuesKeepTheirExactBytes() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("learner.sqlite")
            let values: [[UInt8]] = [
                Array("héllo wörld — 日本語 🎉".utf8),
                [],                               // an empty line
                Array("42".utf8),                 // looks like a number; must stay text
                Array(" 1e3 ".utf8),
                [0xFF, 0xFE, 0x00, 0x41],         // not UTF-8
                [0xC0, 0xAF],                     // overlong encoding of "/": not UTF-8
                [0xED, 0xA0, 0x80],               // a UTF-16 surrogate: not UTF-8
                Array("tab\tand\\backslash'quote\"".utf8),
            ]
            let store = try LearnerStore(path: path)
            try store.write(values.enumerated().map { i, v in
                DeliveredInstance(instance: UInt64(i + 1), deliveries: [Self.delivery(UInt64(i + 1), v)])
            })
            #expect(try store.values() == values)
            store.close()
            // Valid UTF-8 is TEXT, so the sqlite3 shell prints it as the learner did; the rest are BLOBs.
            #expect(try rawQuery(path, "SELECT typeof(value) FROM learned ORDER BY position")
                == ["text", "text", "text", "text", "blob", "blob", "blob", "text"])
            #expect(try rawQuery(path, "SELECT value FROM learned WHERE position = 1") == ["héllo wörld — 日本語 🎉"])
            #expect(try LearnerStore(path: path).values() == values)
        }
    }

    /// A burst goes in multi-row inserts (64 rows, then 32, 16, ... for the rest), its values bound where
    /// they lie in a 64 KiB buffer, or copied by SQLite once that is full: every row must still hold its
    /// own position, value (TEXT or BLOB), id and instance, whatever statement and binding carried it.
    @Test func aBurstOfEverySizeKeepsEveryRow() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("learner.sqlite")
            let store = try LearnerStore(path: path)
            var position: UInt64 = 0
            var expected: [[UInt8]] = []
            var instances: [UInt64] = []
            func burst(_ sizes: [Int], startingAt instance: UInt64) -> [DeliveredInstance] {
                sizes.enumerated().map { k, size in
                    DeliveredInstance(instance: instance + UInt64(k), deliveries: (0..<size).map { _ in
                        position += 1
                        let value: [UInt8] = switch position % 7 {
                        case 0: [0xFF, UInt8(position % 251)]                              // a BLOB
                        case 3: Array("é\(position)".utf8)                                // not ASCII, UTF-8
                        case 5 where position % 3 == 0: []                                  // an empty line
                        case 6 where position < 200: [UInt8](repeating: 0x61, count: 30_000)  // fills the buffer
                        default: Array("v\(position)".utf8)
                        }
                        expected.append(value)
                        instances.append(instance + UInt64(k))
                        return Self.delivery(position, value)
                    })
                }
            }
            // 64 + 64 + 37 rows over three instances (two full chunks, then 32 + 4 + 1), a no-op instance,
            // then bursts of 1 and 63 rows (32 + 16 + 8 + 4 + 2 + 1).
            try store.write(burst([70, 0, 95], startingAt: 1))
            try store.write(burst([1], startingAt: 4))
            try store.write(burst([63], startingAt: 5))
            #expect(try store.values() == expected)
            #expect(try store.load().nextInstance == 6)
            #expect(try store.load().delivered == (1...position).map { SubmissionID(client: 1, incarnation: 42, sequence: $0 * 10) })
            #expect(try rawQuery(path, "SELECT instance FROM learned ORDER BY position") == instances.map { "\($0)" })
            #expect(try rawQuery(path, "SELECT typeof(value) FROM learned ORDER BY position")
                == expected.map { $0.first == 0xFF ? "blob" : "text" })
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")))
    func sqliteShellPrintsTheDeliveredLines() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("learner-1.sqlite")
            let lines = ["first line", "ça va? ✓", "", "  spaced  ", "last"]
            do {
                let store = try LearnerStore(path: path)
                try store.recordOutput(LearnerOutput(device: 1, inode: 2, firstPosition: 3, modified: 4))
                try store.write(lines.enumerated().map { i, line in
                    DeliveredInstance(instance: UInt64(i + 1), deliveries: [Self.delivery(UInt64(i + 1), Array(line.utf8))])
                })
            }
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            shell.arguments = [path, "SELECT value FROM learned ORDER BY position"]
            let output = Pipe()
            shell.standardOutput = output
            try shell.run()
            let printed = output.fileHandleForReading.readDataToEndOfFile()
            shell.waitUntilExit()
            #expect(shell.terminationStatus == 0)
            #expect(printed == Data(lines.map { $0 + "\n" }.joined().utf8))
        }
    }

    @Test func failedWriteRollsBackTheWholeTransaction() throws {
        try withTemporaryDirectory { dir in
            let store = try LearnerStore(path: dir.file("learner.sqlite"))
            let d1 = Self.delivery(1, Array("a".utf8))
            try store.write([DeliveredInstance(instance: 1, deliveries: [d1])])
            // Position 1 again: the insert fails, and instance 2's row and the progress go with it.
            let error = #expect(throws: StoreError.self) {
                try store.write([
                    DeliveredInstance(instance: 2, deliveries: [Self.delivery(2, Array("b".utf8))]),
                    DeliveredInstance(instance: 3, deliveries: [Self.delivery(1, Array("c".utf8))]),
                ])
            }
            #expect(error?.description.contains("learner.sqlite") == true)
            #expect(try store.load() == LearnerDurableState(nextInstance: 2, nextPosition: 2, delivered: [d1.submission.id]))
            // And the store is still usable.
            try store.write([DeliveredInstance(instance: 2, deliveries: [Self.delivery(2, Array("b".utf8))])])
            #expect(try store.values() == [Array("a".utf8), Array("b".utf8)])
        }
    }

    /// A second course run in the same folder prints to a fresh file: the checkers compare that file with
    /// the values from where the learner began it, not with every run's.
    @Test func learnedValuesStartAtTheCurrentOutput() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("learner-1.sqlite")
            do {
                let store = try LearnerStore(path: path)
                defer { store.close() }
                try store.write([DeliveredInstance(instance: 1, deliveries: (1...4).map { Self.delivery($0, Array("v\($0)".utf8)) })])
                #expect(try LearnerStore.learnedValues(readingOnly: path).count == 4)
                try store.recordOutput(LearnerOutput(device: 1, inode: 2, firstPosition: 3, modified: 0))
            }
            #expect(try LearnerStore.learnedValues(readingOnly: path) == [Array("v3".utf8), Array("v4".utf8)])
        }
    }
}

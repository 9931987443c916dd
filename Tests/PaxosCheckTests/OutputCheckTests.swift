import Foundation
import PaxosCore
import PaxosStore
import PaxosCheck
import Testing

/// `paxos check` on fixtures in temporary folders: run.sh's log folder, or named files.
@Suite struct OutputCheckTests {
    final class Folder {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "paxos-check-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: path + "/paxos-state", withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        @discardableResult
        func write(_ name: String, _ text: String) -> String {
            _ = FileManager.default.createFile(atPath: path + "/" + name, contents: Data(text.utf8))
            return path + "/" + name
        }

        /// A learner database holding `lines` in order, as learner `id` writes it.
        func database(_ id: Int, _ lines: [String]) throws {
            let store = try LearnerStore(path: "\(path)/paxos-state/learner-\(id).sqlite")
            defer { store.close() }
            try store.write(lines.enumerated().map { k, line in
                DeliveredInstance(instance: UInt64(k + 1), deliveries: [Delivery(position: UInt64(k + 1), submission: Submission(
                    id: SubmissionID(client: 1, incarnation: 1, sequence: UInt64(k + 1)), value: Array(line.utf8)))])
            })
        }

        /// run.sh's folder: values<i>.log, learner<i>.log and the learners' databases.
        func run(values: [String], learners: [String], databases: [Int: [String]]? = nil) throws {
            for (i, v) in values.enumerated() { write("values\(i + 1).log", v) }
            for (i, l) in learners.enumerated() { write("learner\(i + 1).log", l) }
            for (id, lines) in databases ?? Dictionary(uniqueKeysWithValues: learners.enumerated().map {
                ($0 + 1, $1.split(separator: "\n").map(String.init))
            }) { try database(id, lines) }
        }
    }

    static func verdict(_ arguments: [String]) throws -> OutputCheck.Verdict {
        guard case .check(let check) = try OutputCheck.parse(arguments) else {
            Issue.record("not a check: \(arguments)")
            return OutputCheck.Verdict()
        }
        return check.run()
    }

    @Test func aGoodRunPassesAllFive() throws {
        let f = try Folder()
        // 7 is submitted twice and must be delivered twice.
        try f.run(values: ["7\n3\n7\n", "12\n"], learners: ["3\n7\n12\n7\n", "3\n7\n12\n7\n"])
        let v = try Self.verdict([f.path])
        #expect(v.lines == [
            "PASS Test 1: all 2 learner outputs are identical (4 lines)",
            "PASS Test 2: every learned value was proposed",
            "PASS Test 3: every learner learned the 3 distinct proposed values",
            "PASS Test 4: every learner delivered each of the 4 submissions exactly once",
            "PASS Test 5: 2 learner database(s) equal the learner outputs",
            "5 passed, 0 failed",
        ])
        #expect(v.ok)
    }

    @Test func differentOutputsFailTest1LikeCmp() throws {
        let f = try Folder()
        try f.run(values: ["1\n2\n3\n"], learners: ["1\n2\n3\n", "1\n3\n2\n", "1\n2\n"])
        let v = try Self.verdict([f.path])
        #expect(v.lines[0] == "FAIL Test 1: learner2.log differs from learner1.log (3 vs 3 lines; char 3, line 2); "
                + "learner3.log differs from learner1.log (2 vs 3 lines; EOF on \(f.path)/learner3.log after byte 4, line 2)")
        #expect(!v.ok)
    }

    @Test func lostDuplicatedAndForeignValues() throws {
        let f = try Folder()
        // learner 1 loses one 7 and repeats 3; learner 2 prints a value nobody proposed, cut off.
        try f.run(values: ["7\n3\n7\n"], learners: ["3\n7\n3\n", "3\n7\n7\n99"])
        let v = try Self.verdict([f.path])
        #expect(v.lines[1] == "FAIL Test 2: learner2.log: 1 distinct values never proposed (e.g. 99); learner2.log: last line has no newline (cut-off write)")
        #expect(v.lines[2] == "FAIL Test 3: learner2.log: learned values never proposed (see Test 2)")
        #expect(v.lines[3] == "FAIL Test 4: learner1.log: 3 lines for 3 submissions, 1 deliveries missing (e.g. 7), 1 surplus (e.g. 3); "
                + "learner2.log: 4 lines for 3 submissions, 0 deliveries missing, 1 surplus (e.g. 99)")
        #expect(v.lines.last == "0 passed, 5 failed")
    }

    @Test func unlearnedValuesFailTest3() throws {
        let f = try Folder()
        try f.run(values: ["1\n2\n3\n4\n5\n"], learners: ["1\n"])
        let v = try Self.verdict([f.path])
        #expect(v.lines[0] == "PASS Test 1: identical outputs (only one learner)")
        #expect(v.lines[2] == "FAIL Test 3: learner1.log: 4 proposed values never learned (e.g. 2, 3, 4)")
    }

    @Test func expectEmpty() throws {
        let f = try Folder()
        try f.run(values: ["1\n2\n"], learners: ["", ""], databases: [:])
        #expect(try Self.verdict(["--expect-empty", f.path]).lines == [
            "PASS Test 1: all 2 learner outputs are identical (0 lines)",
            "PASS Test 2: every learned value was proposed",
            "PASS Test 3: nothing learned, as expected without a quorum",
            "SKIP Test 5: no learner databases in \(f.path)/paxos-state",
            "3 passed, 0 failed",
        ])
        f.write("learner2.log", "1\n")
        #expect(try Self.verdict(["--expect-empty", f.path]).lines[2]
                == "FAIL Test 3: expected nothing learned, but learner2.log has 1 lines")
    }

    @Test func databaseThatDiffersOrIsMissing() throws {
        let f = try Folder()
        try f.run(values: ["1\n2\n"], learners: ["1\n2\n", "1\n2\n"], databases: [1: ["1", "5"]])
        let v = try Self.verdict([f.path])
        #expect(v.lines[4] == "FAIL Test 5: learner1.log differs from \(f.path)/paxos-state/learner-1.sqlite (2 rows vs 2 lines; char 3, line 2); "
                + "learner2.log: no database \(f.path)/paxos-state/learner-2.sqlite")
    }

    @Test func aDatabaseWithoutItsOutputIsAMissingFile() throws {
        let f = try Folder()
        try f.run(values: ["1\n"], learners: ["1\n"], databases: [1: ["1"], 2: ["1"]])
        let v = try Self.verdict([f.path])
        #expect(v.lines[0] == "FAIL inputs: missing \(f.path)/learner2.log")
        #expect(v.lines[1].hasPrefix("FAIL Test 1: learner2.log differs from learner1.log (0 vs 1 lines; EOF on /dev/null which is empty)"))
    }

    @Test func namedFilesWithStateOrDatabases() throws {
        let f = try Folder()
        let prop = f.write("prop1", "4\n5\n")
        let learn1 = f.write("learn1", "5\n4\n"), learn2 = f.write("learn2", "5\n4\n")
        try f.database(1, ["5", "4"])
        try f.database(2, ["5", "4"])
        var v = try Self.verdict(["--state", f.path + "/paxos-state", "--values", prop, "--learned", learn1, learn2])
        #expect(v.lines.last == "5 passed, 0 failed")
        v = try Self.verdict(["--values", prop, "--learned", learn1, learn2])
        #expect(v.lines[4] == "SKIP Test 5: no state directory given (--state DIR)")
        v = try Self.verdict(["--values", prop, "--learned", learn2, "--databases", f.path + "/paxos-state/learner-2.sqlite"])
        #expect(v.lines[4] == "PASS Test 5: 1 learner database(s) equal the learner outputs")
        // A database of learner 1 named for the 2nd file is read as learner 2's (and matches).
        v = try Self.verdict(["--values", prop, "--learned", learn1, learn2, "--databases",
                              f.path + "/paxos-state/learner-1.sqlite", f.path + "/nothing.sqlite"])
        #expect(v.lines[4] == "FAIL Test 5: learn2: no database \(f.path)/nothing.sqlite")
    }

    @Test func aForeignFileIsNotReadAsADatabase() throws {
        let f = try Folder()
        try f.run(values: ["1\n"], learners: ["1\n"], databases: [:])
        f.write("paxos-state/learner-1.sqlite", "not sqlite")
        let v = try Self.verdict([f.path])
        #expect(v.lines[4].hasPrefix("FAIL Test 5: learner1.log: cannot read \(f.path)/paxos-state/learner-1.sqlite"))
    }

    @Test func usageErrors() throws {
        for bad in [["--frobnicate"], ["--values", "a"], ["--learned", "a"], ["a", "b"], ["--state"],
                    ["x", "--values", "a", "--learned", "b"], ["--prefix"], ["--prefix", "a", "--values", "b"],
                    ["/nonexistent-\(UUID().uuidString)"]] {
            #expect(throws: OutputCheck.UsageError.self, "\(bad)") { try OutputCheck.parse(bad) }
        }
        guard case .help = try OutputCheck.parse(["--help"]) else { Issue.record("--help"); return }
    }

    @Test func growingOutputsArePrefixesOfOneSequence() throws {
        let f = try Folder()
        let a = f.write("learn1", "1\n2\n3\n"), b = f.write("learn2", "1\n2\n3"), c = f.write("learn3", "")
        // learn2's unterminated "3" is a write in progress, not a line yet.
        #expect(OutputCheck.prefixProblem([a, b, c]) == nil)
        let d = f.write("learn4", "1\n5\n")
        #expect(OutputCheck.prefixProblem([a, b, d]) == "learn4's 2 lines are not a prefix of learn1's output: line 2 is '5', not '2'")
        guard case .prefix(let files) = try OutputCheck.parse(["--prefix", a, b]) else { Issue.record("--prefix"); return }
        #expect(files == [a, b])
    }
}

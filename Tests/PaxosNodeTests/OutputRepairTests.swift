import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PaxosCore
import PaxosNode
import PaxosStore
import Testing

/// A restarted learner completes its own output file from its database (kill -9 between commit and
/// print), hands back what it printed past its database (kill -9 between print and commit), starts a
/// new output in an empty file, and refuses any other file, leaving it as it is.
/// Files are opened as a shell would for `>` (O_TRUNC) and `>>` (O_APPEND).
@Suite struct OutputRepairTests {
    /// A temporary folder with a learner database and an output file path.
    final class Scene {
        let dir: String
        var store: LearnerStore
        let output: String

        init() throws {
            dir = NSTemporaryDirectory() + "output-repair-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            store = try LearnerStore(path: dir + "/learner-1.sqlite")
            output = dir + "/learn1"
        }

        deinit {
            store.close()
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// The learner's next position.
        var next: UInt64 { get throws { try store.load().nextPosition } }

        /// Commits `values` as the next deliveries, one instance each (what a burst does before printing).
        @discardableResult
        func deliver(_ values: [String]) throws -> [String] {
            let state = try store.load()
            try store.write(values.enumerated().map { i, value in
                let position = state.nextPosition + UInt64(i)
                return DeliveredInstance(instance: state.nextInstance + UInt64(i), deliveries: [Delivery(
                    position: position,
                    submission: Submission(id: SubmissionID(client: 1, incarnation: 1, sequence: position), value: Array(value.utf8)))])
            })
            return values
        }

        /// Opens the output as the shell does: `>` truncates (same inode), `>>` appends; both create.
        func open(_ redirection: String) -> Int32 {
            let fd = Glibc.open(output, O_WRONLY | O_CREAT | (redirection == ">>" ? O_APPEND : O_TRUNC), 0o644)
            #expect(fd >= 0)
            return fd
        }

        /// Starts a learner's output on `fd`: what the learner does before printing.
        func repair(_ fd: Int32) throws -> OutputRepair.Outcome {
            try OutputRepair.repair(fd: fd, store: store, nextPosition: try next)
        }

        /// Prints lines through `fd` as the learner does after a commit.
        func print(_ fd: Int32, _ lines: [String]) throws {
            try OutputRepair.writeAll(fd: fd, bytes: Array(lines.map { $0 + "\n" }.joined().utf8))
        }

        var text: String { String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self) }

        /// Rewrites the output in place (`>`, same inode).
        func overwrite(_ text: String) throws {
            let fd = open(">")
            defer { close(fd) }
            try OutputRepair.writeAll(fd: fd, bytes: Array(text.utf8))
        }

        func identity() -> (UInt64, UInt64) {
            var info = stat()
            #expect(stat(output, &info) == 0)
            return (UInt64(info.st_dev), UInt64(info.st_ino))
        }
    }

    static func lines(_ range: ClosedRange<Int>) -> [String] { range.map { "v\($0)" } }
    static func text(_ range: ClosedRange<Int>) -> String { range.map { "v\($0)\n" }.joined() }

    /// More than a file timestamp's granularity, so a later `>` changes the file's mtime.
    static func tick() { usleep(50_000) }

    @Test func emptyFileIsRecordedAsANewOutputBeforeAnythingIsPrinted() throws {
        let s = try Scene()
        let fd = s.open(">")
        defer { close(fd) }
        #expect(try s.repair(fd) == .started(first: 1))
        let recorded = try #require(try s.store.output())
        #expect(recorded.device == s.identity().0 && recorded.inode == s.identity().1)
        #expect(recorded.firstPosition == 1)
        #expect(s.text == "")
    }

    @Test func killedBetweenCommitAndPrintAppendsExactlyTheMissingValues() throws {
        let s = try Scene()
        var fd = s.open(">")
        #expect(try s.repair(fd) == .started(first: 1))
        try s.print(fd, try s.deliver(Self.lines(1...3)))
        try s.deliver(Self.lines(4...6))  // committed, then kill -9 before printing
        close(fd)
        fd = s.open(">>")
        defer { close(fd) }
        #expect(try s.repair(fd) == .completed(first: 1, kept: 3, appended: 3, cut: false))
        #expect(s.text == Self.text(1...6))
        // Printing goes on after them, and a complete file is left as it is on the next restart.
        try s.print(fd, try s.deliver(Self.lines(7...7)))
        #expect(try s.repair(fd) == .completed(first: 1, kept: 7, appended: 0, cut: false))
        #expect(s.text == Self.text(1...7))
    }

    @Test func cutsAHalfWrittenLastLineFirst() throws {
        let s = try Scene()
        var fd = s.open(">")
        #expect(try s.repair(fd) == .started(first: 1))
        try s.deliver(["7", "7", "12", "héllo", ""])
        try OutputRepair.writeAll(fd: fd, bytes: Array("7\n7\n1".utf8))  // killed in the middle of a write
        close(fd)
        fd = s.open(">>")
        defer { close(fd) }
        #expect(try s.repair(fd) == .completed(first: 1, kept: 2, appended: 3, cut: true))
        #expect(s.text == "7\n7\n12\nhéllo\n\n")
    }

    @Test func writesAtTheEndEvenWithoutAppendMode() throws {
        let s = try Scene()
        var fd = s.open(">")
        #expect(try s.repair(fd) == .started(first: 1))
        try s.print(fd, try s.deliver(Self.lines(1...2)))
        try s.deliver(Self.lines(3...4))
        close(fd)
        fd = Glibc.open(s.output, O_WRONLY)  // `1<>learn1`: neither appending nor truncating
        defer { close(fd) }
        #expect(try s.repair(fd) == .completed(first: 1, kept: 2, appended: 2, cut: false))
        #expect(s.text == Self.text(1...4))
    }

    /// The learner recorded an empty output, committed values and was killed before it printed any:
    /// the file, untouched since, is completed from its first position (else those values would be
    /// missing from it). A `>` after that (a new run) makes it a new output instead.
    @Test func emptyOutputUntouchedSinceRecordedIsCompletedFromItsStart() throws {
        let s = try Scene()
        try s.deliver(Self.lines(1...2))
        var fd = s.open(">")
        #expect(try s.repair(fd) == .started(first: 3))
        try s.deliver(Self.lines(3...5))
        close(fd)
        fd = s.open(">>")
        #expect(try s.repair(fd) == .completed(first: 3, kept: 0, appended: 3, cut: false))
        #expect(s.text == Self.text(3...5))
        close(fd)

        Self.tick()
        fd = s.open(">")
        defer { close(fd) }
        try s.deliver(Self.lines(6...6))
        #expect(try s.repair(fd) == .started(first: 7))
        #expect(s.text == "")
    }

    /// The course's second run in the same folder: the database carries run 1's values, the shell's `>`
    /// truncates the output (same inode), learner killed with -9 and restarted with `>>`. Only the tail
    /// of run 2 that the file lacks is appended, never run 1's history.
    @Test func secondRunTruncatedSameInodeThenRestartedAppendsOnlyTheMissingTail() throws {
        let s = try Scene()
        var fd = s.open(">")
        #expect(try s.repair(fd) == .started(first: 1))
        try s.print(fd, try s.deliver(Self.lines(1...5)))
        close(fd)
        let firstRun = s.identity()

        Self.tick()
        fd = s.open(">")  // run 2
        #expect(s.identity().1 == firstRun.1, "`>` keeps the inode")
        #expect(try s.repair(fd) == .started(first: 6))
        try s.print(fd, try s.deliver(Self.lines(6...7)))
        try s.deliver(Self.lines(8...10))  // kill -9 before printing
        close(fd)

        fd = s.open(">>")
        defer { close(fd) }
        #expect(try s.repair(fd) == .completed(first: 6, kept: 2, appended: 3, cut: false))
        #expect(s.text == Self.text(6...10))
        #expect(try s.store.values().count == 10)
    }

    /// The database was deleted; the old output is still there: the learner would deliver from position
    /// 1 again. Refused, the file and the record left as they are.
    @Test func deletedDatabaseWithAnOldOutputIsRefused() throws {
        let s = try Scene()
        var fd = s.open(">")
        #expect(try s.repair(fd) == .started(first: 1))
        try s.print(fd, try s.deliver(Self.lines(1...5)))
        close(fd)
        s.store.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: s.dir + "/learner-1.sqlite" + suffix) }
        s.store = try LearnerStore(path: s.dir + "/learner-1.sqlite")

        fd = s.open(">>")
        defer { close(fd) }
        let error = #expect(throws: OutputRepair.Unrecognised.self) { try s.repair(fd) }
        #expect(error?.path == s.output && error?.lines == 5 && error?.nextPosition == 1)
        #expect(s.text == Self.text(1...5))
        #expect(try s.store.output() == nil)
    }

    /// `>> notes` on an unrelated file: appending would count its lines as delivered positions (the old
    /// behaviour printed x1…x5 then 106…110, skipping 101–105). Refused, file unchanged.
    @Test func unrelatedFileIsRefusedAndUnchanged() throws {
        let s = try Scene()
        var fd = s.open(">")
        #expect(try s.repair(fd) == .started(first: 1))
        try s.print(fd, try s.deliver((1...105).map { "\(100 + $0)" }))
        close(fd)
        let recorded = try s.store.output()

        let notes = s.dir + "/notes"
        let foreign = (1...5).map { "x\($0)\n" }.joined()
        _ = FileManager.default.createFile(atPath: notes, contents: Data(foreign.utf8))
        fd = Glibc.open(notes, O_WRONLY | O_APPEND)
        defer { close(fd) }
        let error = #expect(throws: OutputRepair.Unrecognised.self) { try s.repair(fd) }
        #expect(error?.description == "standard output '\(notes)' already holds 5 lines this learner did not write; "
            + "give the learner an empty file (or its own output) — it resumes at position 106")
        #expect(FileManager.default.contents(atPath: notes) == Data(foreign.utf8))
        #expect(try s.store.output() == recorded)
    }

    /// Printed into a regular file before its commit, killed in between: the output holds complete
    /// lines past the database (and perhaps part of one more). They are kept and handed back to be learned
    /// again without printing; the partial line is cut (it was never printed whole: it will be).
    @Test func killedBetweenPrintAndCommitKeepsThePrintedLinesAhead() throws {
        let s = try Scene()
        var fd = s.open(">")
        #expect(try s.repair(fd) == .started(first: 1))
        try s.print(fd, try s.deliver(Self.lines(1...3)))
        try s.print(fd, Self.lines(4...5))  // printed, then kill -9 before the commit
        try OutputRepair.writeAll(fd: fd, bytes: Array("v".utf8))  // and half of the next line
        close(fd)
        fd = s.open(">>")
        defer { close(fd) }
        let repaired = try OutputRepair.repairing(fd: fd, store: s.store, nextPosition: try s.next)
        #expect(repaired.outcome == .ahead(first: 1, kept: 3, ahead: 2, cut: true))
        #expect(repaired.printedAhead == [Array("v4".utf8), Array("v5".utf8)])
        #expect(s.text == Self.text(1...5))
        #expect(try s.next == 4)  // the database is not touched: those positions are learned again

        // Only part of a line past the database: cut, nothing ahead.
        try s.overwrite(Self.text(1...3) + "v4")
        let partial = try OutputRepair.repairing(fd: fd, store: s.store, nextPosition: try s.next)
        #expect(partial.outcome == .completed(first: 1, kept: 3, appended: 0, cut: true) && partial.printedAhead.isEmpty)
        #expect(s.text == Self.text(1...3))
    }

    /// Its own file (same inode) holding lines it did not print, or a last line that is not the start of
    /// the next value: refused, unchanged.
    @Test func ownFileWithLinesItDidNotWriteIsRefused() throws {
        let s = try Scene()
        var fd = s.open(">")
        #expect(try s.repair(fd) == .started(first: 1))
        try s.print(fd, try s.deliver(Self.lines(1...3)))
        try s.deliver(Self.lines(4...5))
        close(fd)
        for (contents, lines) in [("other\n", 1), ("v1\nv2\nvX\n", 3), ("v1\nv2\nv3\nw", 4), ("v1\nv2\nv3\nv4\nw5\n", 5),
                                  ("\0\0\0\0v4\n", 1)] {
            try s.overwrite(contents)
            fd = s.open(">>")
            let error = #expect(throws: OutputRepair.Unrecognised.self) { try s.repair(fd) }
            close(fd)
            #expect(error?.lines == UInt64(lines), "\(contents.debugDescription)")
            #expect(s.text == contents)
        }
    }

    @Test(arguments: [false, true])
    func pipesAndDevNullAreLeftAloneAndNotRecorded(devNull: Bool) throws {
        let s = try Scene()
        try s.deliver(Self.lines(1...3))
        var fds: [Int32] = [-1, -1]
        if devNull { fds[1] = Glibc.open("/dev/null", O_WRONLY) } else { #expect(pipe(&fds) == 0) }
        defer { for fd in fds where fd >= 0 { close(fd) } }
        #expect(try s.repair(fds[1]) == .untouched)
        #expect(try s.store.output() == nil)
    }
}

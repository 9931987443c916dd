import Foundation
import PaxosNode
import Testing

/// A restarted learner completes its output file from its database (kill -9 between commit and print).
@Suite struct OutputRepairTests {
    let values: [[UInt8]] = ["7", "7", "12", "héllo", ""].map { Array($0.utf8) }

    func withFile(_ contents: String, append: Bool = true, _ body: (Int32, String) throws -> Void) throws {
        let path = NSTemporaryDirectory() + "output-repair-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_WRONLY | (append ? O_APPEND : 0))
        #expect(fd >= 0)
        defer { close(fd) }
        try body(fd, path)
    }

    func load(_ from: UInt64) -> [[UInt8]] { Array(values[Int(from - 1)...]) }

    func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path)!, as: UTF8.self) }

    @Test func appendsTheValuesTheFileLacks() throws {
        try withFile("7\n7\n") { fd, path in
            let outcome = try OutputRepair.repair(fd: fd, delivered: 5, values: load)
            #expect(outcome == .completed(kept: 2, appended: 3, cut: false))
            #expect(text(path) == "7\n7\n12\nhéllo\n\n")
        }
    }

    @Test func cutsAHalfWrittenLineFirst() throws {
        try withFile("7\n7\n1") { fd, path in
            let outcome = try OutputRepair.repair(fd: fd, delivered: 5, values: load)
            #expect(outcome == .completed(kept: 2, appended: 3, cut: true))
            #expect(text(path) == "7\n7\n12\nhéllo\n\n")
        }
    }

    @Test func writesAtTheEndEvenWithoutAppendMode() throws {
        try withFile("7\n7\n12\n", append: false) { fd, path in
            let outcome = try OutputRepair.repair(fd: fd, delivered: 5, values: load)
            #expect(outcome == .completed(kept: 3, appended: 2, cut: false))
            #expect(text(path) == "7\n7\n12\nhéllo\n\n")
        }
    }

    @Test func leavesCompleteEmptyAndForeignFilesAlone() throws {
        try withFile("7\n7\n12\nhéllo\n\n") { fd, _ in
            let outcome = try OutputRepair.repair(fd: fd, delivered: 5, values: load)
            #expect(outcome == .untouched)
        }
        try withFile("") { fd, _ in
            let outcome = try OutputRepair.repair(fd: fd, delivered: 5, values: load)
            #expect(outcome == .untouched)
        }
        try withFile("1\n2\n3\n4\n5\n6\n") { fd, path in
            let outcome = try OutputRepair.repair(fd: fd, delivered: 5, values: load)
            #expect(outcome == .foreign(lines: 6))
            #expect(text(path) == "1\n2\n3\n4\n5\n6\n")
        }
    }

    @Test func leavesPipesAlone() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let outcome = try OutputRepair.repair(fd: fds[1], delivered: 5, values: load)
            #expect(outcome == .untouched)
    }
}

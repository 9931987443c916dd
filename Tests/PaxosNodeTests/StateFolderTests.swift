import Foundation
import Testing
@testable import PaxosNode

/// `paxos reset`: deletes the processes' files and nothing else, never under a running process.
@Suite struct StateFolderTests {
    let folder: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.path + "/state-folder-\(UInt64.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in ["acceptor-1.sqlite", "acceptor-1.sqlite-wal", "acceptor-1.lock", "learner-2.sqlite", "learner-2.lock",
                     "learner-2.status", "proposer-1.prom", "notes.txt", "learner-x.sqlite", "learner-1.sqlite.bak"] {
            _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data("x".utf8))
        }
    }

    func remaining() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder).sorted() }

    @Test func deletesOnlyTheProcessesFiles() throws {
        let removed = try StateFolder.reset(folder)
        #expect(removed == ["acceptor-1.lock", "acceptor-1.sqlite", "acceptor-1.sqlite-wal", "learner-2.lock",
                            "learner-2.sqlite", "learner-2.status", "proposer-1.prom"])
        #expect(try remaining() == ["learner-1.sqlite.bak", "learner-x.sqlite", "notes.txt"])
        try FileManager.default.removeItem(atPath: folder)
    }

    @Test func refusesWhileAProcessHoldsItsLock() throws {
        // A running process holds its lock for its whole life; a second open file description can't take it.
        let fd = open(folder + "/learner-2.lock", O_RDWR)
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        #expect(StateFolder.running(in: folder) == ["learner 2"])
        let before = try remaining()
        #expect(throws: StartupError.self) { try StateFolder.reset(folder) }
        #expect(try remaining() == before)
        close(fd)
        #expect(StateFolder.running(in: folder).isEmpty)
        #expect(try StateFolder.reset(folder).count == 7)
        try FileManager.default.removeItem(atPath: folder)
    }

    @Test func aMissingFolderHasNothingToDelete() throws {
        #expect(try StateFolder.reset(folder + "/absent").isEmpty)
        try FileManager.default.removeItem(atPath: folder)
    }
}

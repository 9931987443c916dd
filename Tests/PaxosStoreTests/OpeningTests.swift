import CSQLite
import Foundation
import PaxosCore
import Testing
@testable import PaxosStore

/// What opening accepts, migrates and refuses — refused files must be left byte for byte as they were.
@Suite struct OpeningTests {
    @Test(arguments: StoreKind.allCases)
    func newFileIsStampedWithKindAndVersion(kind: StoreKind) throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("\(kind).sqlite")
            try open(kind, path).close()
            #expect(try rawQuery(path, "PRAGMA application_id") == ["\(kind.applicationID)"])
            #expect(try rawQuery(path, "PRAGMA user_version") == ["\(kind.migrations.count)"])
            #expect(try rawQuery(path, "PRAGMA journal_mode") == ["wal"])
            // Opening again finds nothing to migrate.
            try open(kind, path).close()
            #expect(try rawQuery(path, "PRAGMA user_version") == ["\(kind.migrations.count)"])
        }
    }

    @Test func newerSchemaIsRefusedAndUntouched() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("learner-1.sqlite")
            try LearnerStore(path: path).write([DeliveredInstance(instance: 1, deliveries: [])])
            try rawExecute(path, "PRAGMA user_version = 99")
            let before = try contents(path)
            let error = #expect(throws: StoreError.self) { try LearnerStore(path: path) }
            #expect(error?.reason == .newerSchema(version: 99, supported: StoreKind.learner.migrations.count))
            #expect(error?.description == "\(path) has schema version 99, newer than this binary supports (\(StoreKind.learner.migrations.count)); use a newer paxos")
            #expect(try contents(path) == before)
            #expect(try rawQuery(path, "PRAGMA user_version") == ["99"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func garbageFileIsRefusedAndUntouched(kind: StoreKind) throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("garbage.sqlite")
            var generator = SystemRandomNumberGenerator()
            let garbage = Data((0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try garbage.write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: StoreError.self) { try open(kind, path) }
            #expect(error?.reason == .notADatabase)
            #expect(error?.description.hasPrefix("\(path): not a SQLite database") == true)
            #expect(try contents(path) == garbage)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["garbage.sqlite"])
        }
    }

    /// A valid header (still a paxos acceptor database of schema 1) over garbage pages: whatever the
    /// damage trips first, the file is named corrupt and left as it is.
    @Test(arguments: 0..<12)
    func damagedPagesAreRefusedAndUntouched(seed: UInt64) throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("acceptor-1.sqlite")
            let store = try AcceptorStore(path: path)
            let ballot = Ballot(round: 3, proposer: 1)
            try store.write(AcceptorWrite(promised: ballot, accepted: (1...200).map {
                AcceptedEntry(instance: $0, ballot: ballot, proposal: .batch([Submission(
                    id: SubmissionID(client: 1, incarnation: 1, sequence: $0), value: Array(repeating: 0x61, count: 40))]))
            }))
            store.close()
            var bytes = [UInt8](try contents(path))
            try #require(bytes.count >= 2 * 4096)
            var generator = SplitMix64(seed: seed)
            for i in 4096..<bytes.count { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
            for i in 200..<4000 { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
            let damaged = Data(bytes)
            try damaged.write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: StoreError.self) { try AcceptorStore(path: path) }
            #expect(error?.reason == .corrupt || error?.reason == .notADatabase, "\(error.map(String.init(describing:)) ?? "")")
            #expect(error?.description.hasPrefix("\(path): ") == true)
            #expect(error?.description.contains(/corrupt|malformed|not a SQLite database/) == true)
            #expect(try contents(path) == damaged)
        }
    }

    @Test func textFileIsRefusedAndUntouched() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("notes.txt")
            let text = Data("these are not the droids you are looking for\n".utf8)
            try text.write(to: URL(fileURLWithPath: path))
            #expect(throws: StoreError.self) { try AcceptorStore(path: path) }
            #expect(try contents(path) == text)
        }
    }

    @Test func wrongKindIsRefusedAndUntouched() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("learner-1.sqlite")
            try LearnerStore(path: path).close()
            let before = try contents(path)
            let error = #expect(throws: StoreError.self) { try AcceptorStore(path: path) }
            #expect(error?.reason == .wrongKind(found: .learner))
            #expect(error?.description == "\(path) is a paxos learner database, not an acceptor database; refusing to open it")
            #expect(throws: StoreError.self) { try ProposerStore(path: path) }
            #expect(try contents(path) == before)
            _ = try LearnerStore(path: path)
        }
    }

    @Test func foreignDatabaseIsRefusedAndUntouched() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("other.sqlite")
            try rawExecute(path, "CREATE TABLE notes (body TEXT)", create: true)
            let before = try contents(path)
            let error = #expect(throws: StoreError.self) { try LearnerStore(path: path) }
            #expect(error?.reason == .foreignDatabase)
            #expect(error?.description == "\(path) is a SQLite database but not a paxos learner database; refusing to open it")
            #expect(try contents(path) == before)
        }
    }

    // Root may write anything, so the permission check only shows for other users.
    @Test(.enabled(if: getuid() != 0, "root may write a write-protected file: the refusal shows for other users only (the bind-mounted read-only tests cover root)"))
    func writeProtectedFileIsRefused() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("acceptor.sqlite")
            try AcceptorStore(path: path).close()
            try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: path)
            let error = #expect(throws: StoreError.self) { try AcceptorStore(path: path) }
            #expect(error?.reason == .readOnly)
        }
    }

    @Test func sqliteFailuresHaveRecognisableMessages() {
        let full = StoreError.sqlite(SQLITE_FULL, path: "/p/a.sqlite", doing: "writing acceptor state", message: "database or disk is full")
        #expect(full.reason == .diskFull)
        #expect(full.description == "/p/a.sqlite: disk full (writing acceptor state: database or disk is full)")
        // Extended codes (primary | detail << 8) are macros Swift cannot import; spelled out here.
        let fsyncFailed = SQLITE_IOERR | (4 << 8)
        #expect(StoreError.sqlite(SQLITE_READONLY | (4 << 8), path: "/p", doing: "", message: "").reason == .readOnly)
        #expect(StoreError.sqlite(SQLITE_NOTADB, path: "/p", doing: "", message: "").reason == .notADatabase)
        #expect(StoreError.sqlite(SQLITE_BUSY | (2 << 8), path: "/p", doing: "", message: "").reason == .busy)
        #expect(StoreError.sqlite(fsyncFailed, path: "/p", doing: "", message: "").reason == .sqlite(code: fsyncFailed))
    }

    @Test func missingDirectoryIsAClearError() throws {
        try withTemporaryDirectory { dir in
            let error = #expect(throws: StoreError.self) {
                try ProposerStore(path: dir.appendingPathComponent("no/such/dir/proposer.sqlite").path)
            }
            #expect(error?.description.contains("cannot open") == true)
        }
    }

    private func open(_ kind: StoreKind, _ path: String) throws -> Closable {
        switch kind {
        case .acceptor: try AcceptorStore(path: path)
        case .learner: try LearnerStore(path: path)
        case .proposer: try ProposerStore(path: path)
        }
    }
}

protocol Closable { func close() }
extension AcceptorStore: Closable {}
extension LearnerStore: Closable {}
extension ProposerStore: Closable {}

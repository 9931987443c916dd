import Foundation
import Testing
@testable import PaxosStore

/// The SQL under `migrations/` (readable, reviewable) and the copies embedded in the binary (so it runs
/// anywhere) must never drift apart.
@Suite struct MigrationsTests {
    /// The repository root: this file is Tests/PaxosStoreTests/MigrationsTests.swift.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = root.appendingPathComponent("migrations")

    @Test(arguments: StoreKind.allCases)
    func filesMatchEmbeddedMigrations(kind: StoreKind) throws {
        let folder = Self.directory.appendingPathComponent(kind.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == kind.migrations.map(\.name), "files under migrations/\(kind) and the embedded list differ")
        for (name, migration) in zip(names, kind.migrations) {
            let file = try Data(contentsOf: folder.appendingPathComponent(name))
            #expect(file == Data(migration.sql.utf8), "migrations/\(kind)/\(name) differs from its embedded copy")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func migrationsAreNumberedFromOneWithoutGaps(kind: StoreKind) {
        for (index, migration) in kind.migrations.enumerated() {
            #expect(migration.name.hasPrefix(String(format: "%04d_", index + 1)), "\(kind)/\(migration.name)")
            #expect(migration.name.hasSuffix(".sql"))
        }
        #expect(!kind.migrations.isEmpty)
    }

    /// A learner database from before `0002_output.sql` opens with its values intact and no output
    /// recorded (so a restart treats a non-empty output as one it does not know).
    @Test func learnerDatabaseAtSchemaOneGainsTheOutputTable() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("learner-1.sqlite")
            try rawExecute(path, StoreKind.learner.migrations[0].sql + """
                INSERT INTO learned VALUES (1, 'one', 1, 1, 1, 1), (2, 'two', 1, 1, 2, 1);
                INSERT INTO progress VALUES (1, 2);
                PRAGMA application_id = \(StoreKind.learner.applicationID);
                PRAGMA user_version = 1;
                """, create: true)
            let store = try LearnerStore(path: path)
            #expect(try rawQuery(path, "PRAGMA user_version") == ["\(StoreKind.learner.migrations.count)"])
            #expect(try store.output() == nil)
            #expect(try store.values() == [Array("one".utf8), Array("two".utf8)])
            #expect(try store.load().nextPosition == 3)
        }
    }

    @Test func everyFolderIsAKind() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
        #expect(folders == StoreKind.allCases.map(\.rawValue).sorted())
    }

    @Test func applicationIDsAreDistinct() {
        #expect(Set(StoreKind.allCases.map(\.applicationID)).count == StoreKind.allCases.count)
        #expect(StoreKind.allCases.allSatisfy { StoreKind(applicationID: $0.applicationID) == $0 && $0.applicationID != 0 })
    }
}

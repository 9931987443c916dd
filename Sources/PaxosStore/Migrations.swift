/// The schema of each kind of database, embedded so the binary works wherever it is copied.
///
/// The source of truth reads better as plain files: `migrations/<kind>/NNNN_name.sql` at the repository
/// root. These literals must stay byte-identical to those files, in the same order; a test in
/// PaxosStoreTests compares them. To change a schema, add a new numbered file AND append it here;
/// never edit a migration that has shipped, since databases in the field already applied it.
public struct Migration: Hashable, Sendable {
    /// The file's name under `migrations/<kind>/`; its number is the schema version it brings a database to.
    public let name: String
    /// SQL run inside the opening transaction.
    public let sql: String
}

extension StoreKind {
    /// This kind's migrations in the order they apply; a database's `user_version` counts how many ran.
    public var migrations: [Migration] {
        switch self {
        case .acceptor: Migrations.acceptor
        case .learner: Migrations.learner
        case .proposer: Migrations.proposer
        }
    }
}

enum Migrations {
    static let acceptor: [Migration] = [
        Migration(name: "0001_initial.sql", sql: #"""
            -- An acceptor's promise (a single row) and the latest proposal it accepted in each instance.
            -- Rounds and instances are unsigned 64-bit numbers stored as their signed bit patterns.
            CREATE TABLE promise (
                id       INTEGER PRIMARY KEY CHECK (id = 1),
                round    INTEGER NOT NULL,
                proposer INTEGER NOT NULL
            );

            CREATE TABLE accepted (
                instance INTEGER PRIMARY KEY,
                round    INTEGER NOT NULL,
                proposer INTEGER NOT NULL,
                proposal BLOB NOT NULL -- PaxosStore's compact proposal encoding
            );

            """#),
        Migration(name: "0002_trim.sql", sql: #"""
            -- Instances through `through` were delivered by every learner and deleted from `accepted`.
            CREATE TABLE trim (
                id      INTEGER PRIMARY KEY CHECK (id = 1),
                through INTEGER NOT NULL
            );

            """#),
        Migration(name: "0003_recovery.sql", sql: #"""
            -- Ballots carry the proposer process's incarnation, so two processes with one proposer id never share
            -- a ballot. `inherited` marks an entry a recovery copied from other acceptors: reported in promises,
            -- never as this acceptor's own vote. A row in `recovery` means the acceptor started without state and
            -- has not finished recovering it (a promise it made meanwhile is not history).
            ALTER TABLE promise ADD COLUMN incarnation INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE accepted ADD COLUMN incarnation INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE accepted ADD COLUMN inherited INTEGER NOT NULL DEFAULT 0;

            CREATE TABLE recovery (
                id INTEGER PRIMARY KEY CHECK (id = 1)
            );

            """#),
    ]

    static let learner: [Migration] = [
        Migration(name: "0001_initial.sql", sql: #"""
            -- Every value a learner delivered, by output position, and the first instance it has not delivered.
            -- `value` is TEXT when the line is valid UTF-8, so the sqlite3 shell prints it exactly as the learner
            -- did, and a BLOB otherwise (TEXT affinity never converts a blob, nor text that looks like a number).
            -- Incarnations, sequences, positions and instances are unsigned 64-bit numbers stored as their
            -- signed bit patterns.
            CREATE TABLE learned (
                position    INTEGER PRIMARY KEY,
                value       TEXT NOT NULL,
                client      INTEGER NOT NULL,
                incarnation INTEGER NOT NULL,
                sequence    INTEGER NOT NULL,
                instance    INTEGER NOT NULL
            );

            CREATE TABLE progress (
                id            INTEGER PRIMARY KEY CHECK (id = 1),
                next_instance INTEGER NOT NULL
            );

            """#),
        Migration(name: "0002_output.sql", sql: #"""
            -- The regular file the learner prints into (its standard output), so that a restart completes only an
            -- output it knows. A single row, written before the first value is printed into a new output; none while
            -- the learner has printed only to pipes, terminals or /dev/null.
            -- `device` and `inode`: the file's st_dev and st_ino, its identity.
            -- `first_position`: the position (as in `learned`) of the value on the file's first line; the file holds
            -- the values from there on, one per line, and never more than were delivered.
            -- `modified`: the file's st_mtime in nanoseconds when the row was written, while the file was empty. An
            -- empty file that still has it was neither written nor truncated (`>`) since: the learner printed
            -- nothing into it yet, so it is completed from `first_position`. Any other empty file is a new output.
            -- Devices, inodes and positions are unsigned 64-bit numbers stored as their signed bit patterns.
            CREATE TABLE output (
                id             INTEGER PRIMARY KEY CHECK (id = 1),
                device         INTEGER NOT NULL,
                inode          INTEGER NOT NULL,
                first_position INTEGER NOT NULL,
                modified       INTEGER NOT NULL
            );

            """#),
    ]

    static let proposer: [Migration] = [
        Migration(name: "0001_initial.sql", sql: #"""
            -- The highest ballot round a proposer ever used (a single row), so a restart never reuses a ballot.
            CREATE TABLE ballot (
                id            INTEGER PRIMARY KEY CHECK (id = 1),
                highest_round INTEGER NOT NULL
            );

            """#),
    ]
}

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

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

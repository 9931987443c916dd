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

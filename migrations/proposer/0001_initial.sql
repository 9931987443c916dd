-- The highest ballot round a proposer ever used (a single row), so a restart never reuses a ballot.
CREATE TABLE ballot (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    highest_round INTEGER NOT NULL
);

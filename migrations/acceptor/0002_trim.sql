-- Instances through `through` were delivered by every learner and deleted from `accepted`.
CREATE TABLE trim (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL
);

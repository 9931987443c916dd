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

#!/usr/bin/env python3
"""SQLite commit rate of this machine, for scripts/bench.sh (the durable-storage limit).

  bench-sqlite.py DIR [SECONDS]
  bench-sqlite.py --fsync DIR [SECONDS]

In DIR (put it on the filesystem of the paxos state), for SECONDS (default 2) each: WAL with
synchronous=FULL (the paxos default), 64-byte rows, 1 row per transaction and 100 rows per transaction,
with one writer process, then with 5 writer processes at once, each on its own database (a cluster on
one machine has 3 acceptors and 2 learners committing to the same disk). Prints one JSON object: per
case the commits/s and rows/s over all writers and the commit time (p50, p99, mean, in ms).

--fsync: only a raw probe, a 64-byte pwrite + fdatasync loop on one file for SECONDS (default 1), to
bracket each benchmark run: this machine's disk alternates between ~0.1 ms and ~4 ms flushes.
"""
import json
import multiprocessing
import os
import sqlite3
import sys
import time


def writer(path, rows_per_tx, seconds, start_at, queue):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
    row = os.urandom(64)
    times = []
    while time.monotonic() < start_at:
        time.sleep(0.001)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        t = time.monotonic()
        db.execute("BEGIN")
        for _ in range(rows_per_tx):
            db.execute("INSERT INTO t (v) VALUES (?)", (row,))
        db.execute("COMMIT")
        times.append(time.monotonic() - t)
    elapsed = time.monotonic() - start
    db.close()
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    queue.put((len(times), elapsed, times))


def case(directory, rows_per_tx, writers, seconds):
    queue = multiprocessing.Queue()
    start_at = time.monotonic() + 0.3
    procs = [multiprocessing.Process(target=writer, args=(os.path.join(directory, f"sqlite-probe-{i}.sqlite"),
                                                           rows_per_tx, seconds, start_at, queue))
             for i in range(writers)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    commits = sum(r[0] for r in results)
    elapsed = max(r[1] for r in results)
    times = sorted(t for r in results for t in r[2])

    def pct(p):
        return times[min(int(len(times) * p), len(times) - 1)] * 1000 if times else None

    return {"rows_per_transaction": rows_per_tx, "writers": writers,
            "transactions_per_s": commits / elapsed, "rows_per_s": commits * rows_per_tx / elapsed,
            "transactions_per_s_per_writer": [r[0] / r[1] for r in results],
            "commit_ms_p50": pct(0.5), "commit_ms_p99": pct(0.99),
            "commit_ms_mean": sum(times) / len(times) * 1000 if times else None, "seconds": elapsed}


def fsync_probe(directory, seconds):
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        os.pwrite(fd, b"x" * 64, 0)
        t = time.monotonic()
        os.fdatasync(fd)
        times.append(time.monotonic() - t)
    os.close(fd)
    os.remove(path)
    times.sort()
    return {"fdatasyncs": len(times), "per_s": len(times) / seconds,
            "p50_ms": times[len(times) // 2] * 1000, "p99_ms": times[int(len(times) * 0.99)] * 1000}


def main():
    if sys.argv[1] == "--fsync":
        directory = sys.argv[2]
        seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
        print(json.dumps(fsync_probe(directory, seconds)))
        return 0
    directory = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    os.makedirs(directory, exist_ok=True)
    before = fsync_probe(directory, 1.0)
    results = [case(directory, rows, writers, seconds) for writers in (1, 5) for rows in (1, 100)]
    print(json.dumps({"mode": "WAL, synchronous=FULL", "filesystem_of": directory, "results": results,
                      "raw_fdatasync": before}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Throughput through the Paxos library vs the process path, alternated in one window (BENCHMARKS.md): runs
# `paxos-bench api-compare` (Sources/paxos-bench/ApiCompare.swift), which for each round starts a fresh cluster of
# `paxos` processes (3 acceptors, 1 proposer) on loopback on a random group and ports, then either
#   process: `paxos learner 1 > out` and `paxos client 1 < fifo`, both running before the clock starts; timed from
#            writing N lines into the fifo until the learner's output holds N lines (looked at every 10 ms);
#   api:     `paxos-bench api 1 <config> -n N --tasks T --batch B`: an in-process Learner and Client (the library),
#            N values from T concurrent tasks, B values per submission, timed from the first submission to the
#            N-th delivery.
# and prints values/s and CPU-s per 100,000 values of each side's own processes per round, their means and the ratio.
#            With --writer: handed over one at a time into one Client.withSubmissions stream from T tasks (--tasks 1:
#            one writer), outcomes read in order as they come.
# Usage: scripts/bench-api.sh [-n N] [--tasks T] [--batch B | --writer] [--rounds R] [--bin DIR]   (DIR: a release build folder)
set -euo pipefail
cd "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
n=100000; tasks=4096; batch=1; rounds=3; bin=.build/release; writer=()
while (($#)); do
    case "$1" in
        -n) n="$2"; shift 2 ;;
        --tasks) tasks="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --writer) writer=(--writer); shift ;;
        --rounds) rounds="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        *) echo "bench-api.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ -x $bin/paxos && -x $bin/paxos-bench ]] || { echo "bench-api.sh: build first: swift build -c release --product paxos && swift build -c release --product paxos-bench" >&2; exit 2; }
exec "$bin/paxos-bench" api-compare -n "$n" --tasks "$tasks" --batch "$batch" --rounds "$rounds" --bin "$bin" "${writer[@]}"

#!/usr/bin/env bash
# Throughput through the Paxos library vs the process path, alternated in one window (BENCHMARKS.md):
# each round starts a fresh cluster of `paxos` processes (3 acceptors, 1 proposer) on loopback on a random group
# and free ports, then either
#   process: `paxos learner 1 > out` and `paxos client 1 < fifo`, both running before the clock starts (as the
#            api side's are); timed from writing `seq N` into the fifo until the learner's output holds N lines
#            (polled every 10 ms);
#   api:     `paxos-bench api 1 <config> -n N --tasks T`: an in-process Learner and Client (the library),
#            N values submitted from T concurrent tasks, B values per submission (each task waits for B at a
#            time), timed from the first submission to the N-th delivery. The process client reads up to
#            4 x client-window (16,384) values ahead of the decisions; T x B is what the api side offers.
# Usage: scripts/bench-api.sh [-n N] [--tasks T] [--batch B] [--rounds R] [--bin DIR]   (DIR: a release build folder)
set -euo pipefail
cd "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
n=100000; tasks=4096; batch=1; rounds=3; bin=.build/release
while (($#)); do
    case "$1" in
        -n) n="$2"; shift 2 ;;
        --tasks) tasks="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        *) echo "bench-api.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
paxos="$bin/paxos"; bench="$bin/paxos-bench"
[[ -x $paxos && -x $bench ]] || { echo "bench-api.sh: build first: swift build -c release --product paxos && swift build -c release --product paxos-bench" >&2; exit 2; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
now() { date +%s.%N; }

cluster() {  # writes $dir/paxos.conf and starts acceptors 1-3 and proposer 1
    dir=$(mktemp -d /tmp/paxos-bench-api.XXXXXX)
    local g="239.$((RANDOM % 254 + 1)).$((RANDOM % 256)).$((RANDOM % 254 + 1))" p=$((20000 + RANDOM % 30000))
    printf 'clients %s %d\nproposers %s %d\nacceptors %s %d\nlearners %s %d\nlearner-count 1\n' \
        "$g" $p "$g" $((p + 1)) "$g" $((p + 2)) "$g" $((p + 3)) > "$dir/paxos.conf"
    pids=()
    for a in 1 2 3; do "$paxos" acceptor $a "$dir/paxos.conf" --log-level error & pids+=($!); done
    "$paxos" proposer 1 "$dir/paxos.conf" --log-level error & pids+=($!)
    sleep 1
}

for ((r = 1; r <= rounds; r++)); do
    cluster
    "$paxos" learner 1 "$dir/paxos.conf" --log-level error > "$dir/out" & pids+=($!)
    # The client starts (its process, state, sockets) before the clock, reading a fifo this script holds open.
    mkfifo "$dir/in"
    exec 3<> "$dir/in"
    "$paxos" client 1 "$dir/paxos.conf" --log-level error < "$dir/in" & pids+=($!)
    sleep 0.5
    start=$(now)
    seq 1 "$n" >&3
    exec 3>&-
    while (($(wc -l < "$dir/out") < n)); do sleep 0.01; done
    end=$(now)
    awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "process: %d values in %.2f s: %.0f values/s\n", n, e - s, n / (e - s) }'
    cleanup; rm -rf "$dir"

    cluster
    batching=(); ((batch == 1)) || batching=(--batch "$batch")  # a bench built before --batch runs too
    "$bench" api 1 "$dir/paxos.conf" -n "$n" --tasks "$tasks" "${batching[@]}"
    cleanup; rm -rf "$dir"
done
echo "load: $(uptime)"

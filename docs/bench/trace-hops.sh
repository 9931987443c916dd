#!/usr/bin/env bash
# Follows values hop by hop through a bench run (BENCHMARKS.md, "Where the open loop's milliseconds go"):
# starts scripts/bench.sh in the background, records every syscall of the cluster's processes for 3 s
# (perf record raw_syscalls), then docs/bench/hops.py OUT reads OUT.script and OUT.roles.
#   usage (root): docs/bench/trace-hops.sh BIN_DIR OUT DELAY_SECONDS -- bench.sh arguments...
#   e.g. docs/bench/trace-hops.sh .build-rel/release /tmp/tr/a 9 -- --rate 10000 -d 14 && python3 docs/bench/hops.py /tmp/tr/a
# BIN_DIR holds paxos and paxos-bench; DELAY must land inside the load (the cluster starts in ~5 s).
set -u
bindir=$(cd "$1" && pwd) out=$2 delay=$3
shift 4
cd "$(dirname "$0")/../.."
PAXOS_BIN=$bindir/paxos nice -n 10 scripts/bench.sh "$@" --no-limits --no-plot --out "$out" > "$out.log" 2>&1 &
sleep "$delay"
pids=$(ps -eo pid,args | grep -E "$bindir/paxos(-bench)? (acceptor|learner|proposer|client)" | grep -v grep | awk '{print $1}')
: > "$out.roles"
for p in $pids; do
  r=$(ps -o args= -p "$p" | awk '{print substr($2,1,1) $3}')   # a1, l2, p1, c2 ...
  for t in $(ls "/proc/$p/task"); do echo "$t $r" >> "$out.roles"; done
done
perf record -q -e raw_syscalls:sys_enter,raw_syscalls:sys_exit -p "$(echo $pids | tr ' ' ,)" -o "$out.perf.data" -- sleep 3 2>/dev/null
wait
perf script -i "$out.perf.data" -F tid,time,event,trace 2>/dev/null > "$out.script"
grep -E 'latency submission|fdatasync beside' "$out.log" | head -3

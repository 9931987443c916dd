#!/usr/bin/env bash
# Resident memory over a long run (BENCHMARKS.md): the full cluster (2 clients, 2 proposers,
# 3 acceptors, 2 learners) decides N values per client while every process's RSS is sampled each
# second; memory must not grow with the number of values.
#
# Usage: scripts/bench-memory.sh [-n VALUES_PER_CLIENT] [--out DIR]
#
# Runs in a private network namespace (root needed) and stops only its own processes.
# Results: DIR/memory.md and DIR/rss.txt (default logs/memory).
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

n=5000000
out=""
while (($#)); do
    case $1 in
        -n) n=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
done
is_posint "$n" || die "-n needs a positive number"
root=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
out=${out:-$root/logs/memory}
rm -rf "$out" && mkdir -p "$out"
namespaced_run paxos-memory
conf=$out/paxos.conf
write_config "$conf" 239.0.0.1 5000

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
roles=(acceptor1 acceptor2 acceptor3 learner1 learner2 proposer1 proposer2 client1 client2)
for i in 1 2 3; do spawn "acceptor$i" /dev/null "$out/acceptor$i.log" "$out/acceptor$i.err" "$PAXOS_BIN" acceptor "$i" "$conf"; done
for i in 1 2; do spawn "learner$i" /dev/null /dev/null "$out/learner$i.err" "$PAXOS_BIN" learner "$i" "$conf"; done
for i in 1 2; do spawn "proposer$i" /dev/null "$out/proposer$i.log" "$out/proposer$i.err" "$PAXOS_BIN" proposer "$i" "$conf"; done
sleep 1
mkfifo "$out/feed1" "$out/feed2"
# The inputs are generated on the fly: a file of ten million lines is not the point here.
for i in 1 2; do
    spawn "client$i" "$out/feed$i" "$out/client$i.log" "$out/client$i.err" "$PAXOS_BIN" client "$i" "$conf" --timeout 3600
    (seq 1 "$n" >"$out/feed$i") &
done
start=$(now_ms)
echo "t_s ${roles[*]} learned" >"$out/rss.txt"
delivered() { awk '$1 == "values" {print $2}' "$out/paxos-state/learner-1.status" 2>/dev/null || echo 0; }
while is_running client1 || is_running client2; do
    line="$((($(now_ms) - start) / 1000))"
    for r in "${roles[@]}"; do line+=" $(rss_kb "${PID_OF[$r]:-0}")"; done
    echo "$line $(delivered)" >>"$out/rss.txt"
    sleep 1
done
elapsed=$(($(now_ms) - start))
reap client1
reap client2
((${STATUS_OF[client1]} == 0 && ${STATUS_OF[client2]} == 0)) || die "a client failed (see $out/client*.err)"
sleep 1.2
total=$((2 * n))
{
    echo "# Memory over $total values ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    echo "- $total values decided in $(fmt_s "$elapsed") s ($((total * 1000 / elapsed)) values/s); learner 1 reports $(delivered) delivered"
    echo "- resident memory in kB: at 10 s, at the end, and the maximum (samples each second in rss.txt)"
    echo
    echo "| process | RSS at 10 s | RSS at end | max |"
    echo "|---|---|---|---|"
    awk -v names="${roles[*]}" 'BEGIN {split(names, r, " ")}
        NR > 1 && $1 >= 10 && !seen {for (k = 1; k <= 9; k++) first[k] = $(k + 1); seen = 1}
        NR > 1 {for (k = 1; k <= 9; k++) {if ($(k + 1) > 0) last[k] = $(k + 1); if ($(k + 1) > max[k]) max[k] = $(k + 1)}}
        END {for (k = 1; k <= 9; k++) printf "| %s | %d | %d | %d |\n", r[k], first[k], last[k], max[k]}' "$out/rss.txt"
} | tee "$out/memory.md"

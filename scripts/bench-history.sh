#!/usr/bin/env bash
# Long-history measurements (BENCHMARKS.md): builds a log of about N instances, then measures
#   1. how fast a learner that starts N instances behind catches up (instances/s),
#   2. how long an acceptor holding that history takes to load it when restarted,
#   3. the resident memory of every process while the history grows (sampled each second).
#
# Usage: scripts/bench-history.sh [-n INSTANCES] [--out DIR]
#
# Values are 40-character lines and batches are capped at 64 bytes, so each instance carries one
# value and N values make N instances. Learner 2 is not started until the end, so the acceptors
# (learner-count 2) cannot trim and keep the whole history; acceptor 3 is restarted before that. Runs in a private network namespace
# (root needed); stops only its own processes. Results: DIR/history.md (default logs/history).
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

n=1000000
out=""
while (($#)); do
    case $1 in
        -n) n=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
done
is_posint "$n" || die "-n needs a positive number"
root=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
out=${out:-$root/logs/history}
rm -rf "$out" && mkdir -p "$out"
namespaced_run paxos-history

conf=$out/paxos.conf
write_config "$conf" 239.0.0.1 5000
printf 'batch-bytes 64\nwindow 1024\nclient-window 8192\n' >>"$conf"
seq -f "%040g" 1 "$n" >"$out/values"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
status_field() { awk -v k="$2" '$1 == k {print $2}' "$out/paxos-state/$1.status" 2>/dev/null || echo 0; }

for i in 1 2 3; do spawn "acceptor$i" /dev/null "$out/acceptor$i.log" "$out/acceptor$i.err" "$PAXOS_BIN" acceptor "$i" "$conf"; done
spawn learner1 /dev/null "$out/learner1.log" "$out/learner1.err" "$PAXOS_BIN" learner 1 "$conf"
spawn proposer1 /dev/null "$out/proposer1.log" "$out/proposer1.err" "$PAXOS_BIN" proposer 1 "$conf"
sleep 1

note "building a history of $n instances"
start=$(now_ms)
spawn client1 "$out/values" "$out/client1.log" "$out/client1.err" "$PAXOS_BIN" client 1 "$conf" --timeout 3600
echo "t_s acceptor1_kb proposer1_kb learner1_kb client1_kb delivered" >"$out/rss.txt"
while is_running client1; do
    t=$(($(now_ms) - start))
    echo "$((t / 1000)) $(rss_kb "${PID_OF[acceptor1]}") $(rss_kb "${PID_OF[proposer1]}") $(rss_kb "${PID_OF[learner1]}") $(rss_kb "${PID_OF[client1]}") $(count_lines "$out/learner1.log")" >>"$out/rss.txt"
    sleep 1
done
reap client1
built_ms=$(($(now_ms) - start))
while (($(count_lines "$out/learner1.log") < n)); do sleep 0.1; done
sleep 1.2 # the status file is rewritten every second
instances=$(status_field learner-1 instance)
note "history built: $n values, about $instances instances, in $(fmt_s "$built_ms") s"

note "restarting acceptor 3 with its history"
kill9 acceptor3
starts_before=$(grep -c 'acceptor 3 starts' "$out/acceptor3.err" || true)
spawn acceptor3 /dev/null "+$out/acceptor3.log" "$out/acceptor3.err" "$PAXOS_BIN" acceptor 3 "$conf"
while (($(grep -c 'acceptor 3 starts' "$out/acceptor3.err" || true) <= starts_before)); do sleep 0.05; done
line=$(grep 'acceptor 3 starts' "$out/acceptor3.err" | tail -n 1)
loaded=$(sed -n 's/.*loadedIn=\([^ ]*\).*/\1/p' <<<"$line")
accepted=$(sed -n 's/.* accepted=\([0-9]*\).*/\1/p' <<<"$line")

note "starting learner 2, $instances instances behind"
start=$(now_ms)
spawn learner2 /dev/null "$out/learner2.log" "$out/learner2.err" "$PAXOS_BIN" learner 2 "$conf"
deadline=$((start + 600000))
while (($(count_lines "$out/learner2.log") < n)); do
    (($(now_ms) < deadline)) || die "learner 2 did not catch up within 600 s"
    sleep 0.05
done
catchup_ms=$(($(now_ms) - start))
cmp -s "$out/learner1.log" "$out/learner2.log" || die "learner 2's output differs from learner 1's"

rate=$((instances * 1000 / (catchup_ms > 0 ? catchup_ms : 1)))
{
    echo "# Long-history run ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    echo "- history: $n values in $instances instances, decided in $(fmt_s "$built_ms") s"
    echo "- learner 2 started $instances instances behind: caught up in $(fmt_s "$catchup_ms") s = $rate instances/s (output identical to learner 1)"
    echo "- acceptor 3 restarted holding $accepted accepted instances: loaded in $loaded"
    echo "- resident memory (kB) every second while the history grew: $out/rss.txt"
    awk 'NR == 2 {a=$2; p=$3; l=$4; c=$5} NR > 1 {la=$2; lp=$3; ll=$4; lc=$5}
         END {printf "- RSS first → last sample: acceptor1 %d → %d kB, proposer1 %d → %d kB, learner1 %d → %d kB, client1 %d → %d kB\n", a, la, p, lp, l, ll, c, lc}' "$out/rss.txt"
} | tee "$out/history.md"

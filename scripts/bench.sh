#!/usr/bin/env bash
# Throughput and latency benchmark: the full cluster (2 clients, 2 proposers, 3 acceptors, 2
# learners, default config, synchronous full) inside a private network namespace, plus, in the same
# run, the machine's limits (raw loopback multicast rate, SQLite commit rate) so that every figure
# reads as a fraction of what the machine can do.
#
# Usage: scripts/bench.sh [--closed] [--rate R] [--classic] [-n N] [-d SECONDS] [--out DIR]
#                         [--classic-n N] [--timeout T] [--no-limits] [--no-plot] [--keep-state]
#                         [--profile] [--synchronous full|normal|off] [--build]
#
#   --closed        closed loop: each client is fed N values as fast as its client window allows
#                   (the default when no mode is given)
#   --rate R        open loop: each client is fed R/2 values per second for SECONDS (R in total)
#   --classic       the classic course timeline: acceptors, 1 s, learners, 1 s, proposers, 1 s,
#                   both clients with --classic-n values each (plain clients and learners, no
#                   benchmark options); measures how long until both learners have everything
#                   (pass if <= 5 s)
#                   Modes combine: each runs on a fresh cluster and state, one after the other.
#   -n N            closed loop: values per client (default 500000)
#   -d SECONDS      open loop: seconds of load (default 10)
#   --classic-n N   classic: values per client (default 100000)
#   --out DIR       results folder (default: ${TMPDIR:-/tmp}/paxos-bench.<date>-<time>)
#   --timeout T     seconds a run may take from the clients' start (default 180)
#   --no-limits     skip the machine-limit measurements
#   --no-plot       skip the PNG plots
#   --keep-state    keep the SQLite state and the learners' outputs of every run
#   --profile       closed/open runs: from 1 s after the clients start, sample every CPU for 2 s
#                   (perf record -e cpu-clock -a -g: perf-by-process.txt, perf-by-symbol.txt)
#                   and then trace the syscalls of acceptor 1, learner 1 and proposer 1 for 1.5 s
#                   (perf trace -s: perf-trace.txt; threads.txt names the thread ids).
#                   Profiling slows the run: use it for a separate run, not for the figures
#   --synchronous M SQLite synchronous level of acceptors and learners: full (default, the
#                   durable setting the targets are about), normal or off (diagnostic: how much of
#                   a figure is the disk's)
#   --build         build the release binary even if one exists
#
# Needs root (a private network namespace: multicast never leaves it), iproute2, python3 and the
# sqlite3 module. The binary is $PAXOS_BIN if set, else the repository's release build (built if
# missing or with --build). The plots need matplotlib: installed with pip if missing, else skipped.
#
# Writes into DIR: results.md and results.json (everything), limits/ (machine limits), and per run
# (closed, open-R, classic) its config, latency logs, report/ (bench-report's results.json,
# throughput.csv, latency.csv), cpu.json and bench.png.
# Exit status: 0 when every run delivered every value to both learners and every process behaved
# (the targets are reported, not enforced), 1 otherwise, 2 on a usage error.
set -euo pipefail
# shellcheck disable=SC2034 # FORCE_BUILD is read by ensure_binary in lib/common.sh
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

usage() { sed -n '/^# Usage:/,/^#   --build/s/^# \{0,1\}//p' "$0"; }

closed=0
rate=""
classic=0
n=500000
seconds=10
classic_n=100000
out=""
timeout=180
limits=1
plot=1
keep_state=0
profile=0
synchronous=full

GROUP=239.0.0.1
PORT_BASE=5000
STAGE=1          # classic timeline: seconds between the stages
WARMUP=2         # closed/open: seconds between the proposers' start and the clients'
POLL_LOAD=0.1    # seconds between two looks at the learners' outputs (closed/open: the exact times
POLL_CLASSIC=0.05 # come from the latency logs; classic: this is the resolution of its figure)
CLASSIC_TARGET_MS=5000

parse_args() {
    need() { (($# >= 2)) || die "option $1 needs a value (see --help)"; }
    while (($#)); do
        case $1 in
            --closed) closed=1 ;;
            --rate) need "$@"; rate=$2; shift ;;
            --classic) classic=1 ;;
            -n) need "$@"; n=$2; shift ;;
            -d) need "$@"; seconds=$2; shift ;;
            --classic-n) need "$@"; classic_n=$2; shift ;;
            --out) need "$@"; out=$2; shift ;;
            --timeout) need "$@"; timeout=$2; shift ;;
            --no-limits) limits=0 ;;
            --no-plot) plot=0 ;;
            --keep-state) keep_state=1 ;;
            --profile) profile=1 ;;
            --synchronous) need "$@"; synchronous=$2; shift ;;
            --build) FORCE_BUILD=1 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
        shift
    done
    [[ -z $rate ]] || is_posint "$rate" || die "--rate needs a positive whole number of values/s, not '$rate'"
    [[ -z $rate ]] || ((rate >= 2)) || die "--rate must be at least 2 (R/2 per client)"
    is_posint "$n" || die "-n needs a positive integer, not '$n'"
    is_posint "$seconds" || die "-d needs a positive whole number of seconds, not '$seconds'"
    is_posint "$classic_n" || die "--classic-n needs a positive integer, not '$classic_n'"
    is_posint "$timeout" || die "--timeout needs a positive whole number of seconds"
    [[ $synchronous =~ ^(full|normal|off)$ ]] || die "--synchronous must be full, normal or off"
    ((closed || classic)) || [[ -n $rate ]] || closed=1
    ((EUID == 0)) || die "needs root: the cluster runs in a private network namespace (try sudo)"
    command -v ip >/dev/null || die "ip (iproute2) is missing: apt-get install -y iproute2"
    command -v python3 >/dev/null || die "python3 is missing"
}

# --- helpers -----------------------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)

# cpu_ticks PID: utime + stime of a live process, in clock ticks (fields 14 and 15 of stat; the
# command name in parentheses may hold spaces, so count from the closing parenthesis).
cpu_ticks() {
    local stat rest
    stat=$(<"/proc/$1/stat") || { echo 0; return; }
    rest=${stat##*) }
    # shellcheck disable=SC2206 # word splitting wanted
    local f=($rest)
    echo $((f[11] + f[12]))
}

# busy_ticks: the machine's busy CPU time so far (all CPUs, everything but idle and iowait).
busy_ticks() {
    local user nice system irq softirq steal
    read -r _ user nice system _ _ irq softirq steal _ </proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# values FILE N SEED: N random integers 0..32767 (the course's range), one a line.
gen_random_values() {
    awk -v n="$2" -v seed="$3" 'BEGIN { srand(seed); for (i = 0; i < n; i++) print int(rand() * 32768) }' >"$1"
}

# udp_counters: the namespace's UDP counters (/proc/net/snmp is per network namespace), as
# "name value" lines: InDatagrams, InErrors, RcvbufErrors (datagrams dropped for a full receive buffer).
udp_counters() {
    "${NS_EXEC[@]}" cat /proc/net/snmp | awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else {
        for (i = 2; i <= NF; i++) print n[i], $i } }'
}

# udp_json BEFORE AFTER FILE: the differences, as JSON.
udp_json() {
    awk 'NR == FNR { b[$1] = $2; next } { printf "%s\"%s\": %d", (n++ ? ", " : "{"), $1, $2 - b[$1] } END { print "}" }' \
        "$1" "$2" >"$3"
}

# fsync_probe FILE: 1 s of raw 64-byte fdatasyncs beside the state (this disk's flush time varies).
fsync_probe() {
    python3 "$SCRIPTS_DIR/lib/bench-sqlite.py" --fsync "$run_dir" 1 >"$1" || echo '{}' >"$1"
}

ensure_matplotlib() {
    python3 -c 'import matplotlib' 2>/dev/null && return 0
    note "matplotlib is missing: pip install matplotlib"
    python3 -m pip install --quiet matplotlib >&2 && python3 -c 'import matplotlib' 2>/dev/null
}

# --- machine limits ----------------------------------------------------------------------------

measure_limits() {
    local dir=$out/limits
    mkdir -p "$dir"
    note "machine limits: raw multicast on the namespace's loopback (64-byte datagrams, 3 s)"
    local recv_pids=() r
    for receivers in 1 3; do
        recv_pids=()
        for ((r = 1; r <= receivers; r++)); do
            "${NS_EXEC[@]}" "$PAXOS_BIN" bench-mcast recv --group 239.255.0.99 --port 9999 --seconds 3 \
                >"$dir/mcast-1to$receivers-recv$r.json" 2>/dev/null &
            recv_pids+=($!)
        done
        sleep 0.5
        "${NS_EXEC[@]}" "$PAXOS_BIN" bench-mcast send --group 239.255.0.99 --port 9999 --seconds 3 --size 64 \
            >"$dir/mcast-1to$receivers-send.json"
        for r in "${recv_pids[@]}"; do wait "$r" || true; done
    done
    note "machine limits: SQLite commits (WAL, synchronous=FULL, 64-byte rows; 1 and 5 writers, 2 s each) in $dir"
    python3 "$SCRIPTS_DIR/lib/bench-sqlite.py" "$dir" 2 >"$dir/sqlite.json"
}

# --- one run -----------------------------------------------------------------------------------

run_dir=""
declare -A SERVER_CPU=()      # label -> clock ticks used by the process until just before the stop
declare -A SERVER_CPU_AT0=()  # label -> clock ticks used when the clients started

# snapshot_server_cpu: SERVER_CPU_AT0 for every running process (the clients are not started yet).
snapshot_server_cpu() {
    local label
    SERVER_CPU_AT0=()
    for label in "${LABELS[@]}"; do
        if is_running "$label"; then SERVER_CPU_AT0[$label]=$(cpu_ticks "${PID_OF[$label]}"); fi
    done
}

# start_server ROLE ID [extra options...]
start_server() {
    local role=$1 id=$2
    shift 2
    spawn "$role$id" /dev/null "$run_dir/$role$id.log" "$run_dir/$role$id.err" \
        "$PAXOS_BIN" "$role" "$id" "$run_dir/paxos.conf" "$@"
}

# wait_learned BYTES T0_MS LIMIT_MS POLL: polls the sizes of the learners' outputs (cheaper than
# counting lines: the polling must not load the machine it measures) until both hold BYTES, the
# bytes of all the values (sets done_ms, ms after T0), the limit, or a learner died.
done_ms=""
wait_learned() {
    local expected=$1 t0=$2 limit=$3 poll=$4 s1 s2 now
    done_ms=""
    while :; do
        now=$(now_ms)
        { read -r s1 && read -r s2; } < <(stat -c %s "$run_dir/learner1.log" "$run_dir/learner2.log")
        if ((s1 >= expected && s2 >= expected)); then
            done_ms=$((now - t0))
            return 0
        fi
        if ((now - t0 >= limit)); then
            note "timed out: learner1 $s1, learner2 $s2 of $expected bytes"
            return 1
        fi
        if ! is_running learner1 || ! is_running learner2; then
            note "a learner stopped"
            return 1
        fi
        sleep "$poll"
    done
}

# socket_drops FILE: per live process, the datagrams its sockets dropped (the "drops" column of the
# namespace's /proc/net/udp, sockets matched to processes by inode).
socket_drops() {
    local label pid fd link inode
    declare -A owner=()
    for label in "${!PID_OF[@]}"; do
        pid=${PID_OF[$label]}
        for fd in /proc/"$pid"/fd/*; do
            link=$(readlink "$fd" 2>/dev/null) || continue
            [[ $link == socket:* ]] || continue
            inode=${link#socket:[}
            owner[${inode%]}]=$label
        done
    done
    "${NS_EXEC[@]}" cat /proc/net/udp | awk 'NR > 1 { split($2, a, ":"); print a[2], $10, $NF }' |
        while read -r port inode drops; do
            [[ -n ${owner[$inode]:-} ]] && echo "${owner[$inode]} port $((16#$port)) drops $drops"
        done | sort >"$1"
}

# stop_cluster: reads every live process's CPU time, then SIGTERM (stop_all) and the exit check.
run_failed=0
stop_cluster() {
    local label pid
    socket_drops "$run_dir/socket-drops.txt"
    SERVER_CPU=()
    for label in "${LABELS[@]}"; do
        pid=${PID_OF[$label]:-}
        if [[ -n $pid ]] && is_running "$label"; then SERVER_CPU[$label]=$(cpu_ticks "$pid"); fi
    done
    stop_all
    local line
    while IFS= read -r line; do
        note "FAIL: $line"
        run_failed=1
    done < <(exit_problems)
    forget_procs
}

# write_cpu_json FILE BUSY_TICKS: the servers' CPU seconds (over their life, and from the clients'
# start to the stop) and the machine's busy CPU seconds from the clients' start until all was learned.
write_cpu_json() {
    local file=$1 busy=$2 label sep=""
    secs() { awk -v t="$1" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", t / h }'; }
    {
        printf '{"clk_tck": %d, "machine_busy_s": %s, "servers": {' "$CLK_TCK" "$(secs "$busy")"
        for label in "${!SERVER_CPU[@]}"; do
            printf '%s"%s": %s' "$sep" "$label" "$(secs "${SERVER_CPU[$label]}")"
            sep=", "
        done
        printf '}, "servers_during_load": {'
        sep=""
        for label in "${!SERVER_CPU[@]}"; do
            printf '%s"%s": %s' "$sep" "$label" "$(secs $((SERVER_CPU[$label] - ${SERVER_CPU_AT0[$label]:-0})))"
            sep=", "
        done
        printf '}}\n'
    } >"$file"
}

# run_load MODE: closed or open loop with latency logs, bench-report and the plot.
run_load() {
    local mode=$1 name per_client client_opts=()
    if [[ $mode == closed ]]; then
        name=closed
        per_client=$n
    else
        name=open-$rate
        per_client=$((rate * seconds / 2))
        client_opts=(--rate "$(awk -v r="$rate" 'BEGIN{printf "%g", r/2}')")
    fi
    run_dir=$out/$name
    mkdir -p "$run_dir"
    write_config "$run_dir/paxos.conf" "$GROUP" "$PORT_BASE"
    echo "synchronous $synchronous" >>"$run_dir/paxos.conf"
    gen_random_values "$run_dir/values1.log" "$per_client" 1
    gen_random_values "$run_dir/values2.log" "$per_client" 2
    local expected=$((2 * per_client))
    if [[ $mode == closed ]]; then
        note "run $name: closed loop, 2 clients x $per_client values"
    else
        note "run $name: open loop, 2 clients x $((rate / 2)) values/s for ${seconds}s ($per_client values each)"
    fi
    loadavg >"$run_dir/load-before"
    fsync_probe "$run_dir/fsync-before.json"

    local i
    for i in 1 2 3; do start_server acceptor "$i"; done
    for i in 1 2; do start_server learner "$i" --latency-log "$run_dir/learner$i.lat"; done
    for i in 1 2; do start_server proposer "$i"; done
    sleep "$WARMUP"
    local busy0 t0
    udp_counters >"$run_dir/udp-before.txt"
    snapshot_server_cpu
    busy0=$(busy_ticks)
    t0=$(now_ms)
    for i in 1 2; do
        spawn "client$i" "$run_dir/values$i.log" "$run_dir/client$i.log" "&1" \
            "$PAXOS_BIN" client "$i" "$run_dir/paxos.conf" --timeout "$timeout" \
            --latency-log "$run_dir/client$i.lat" "${client_opts[@]}"
    done
    local profiler=""
    if ((profile)); then
        profile_load &
        profiler=$!
    fi
    wait_learned "$(($(stat -c %s "$run_dir/values1.log") + $(stat -c %s "$run_dir/values2.log")))" \
        "$t0" $((timeout * 1000)) "$POLL_LOAD" || run_failed=1
    local busy1
    busy1=$(busy_ticks)
    udp_counters >"$run_dir/udp-after.txt"
    udp_json "$run_dir/udp-before.txt" "$run_dir/udp-after.txt" "$run_dir/udp.json"
    [[ -z $profiler ]] || wait "$profiler" || true
    # Clients exit by themselves once everything is decided; give them a moment to write their logs.
    local deadline=$(($(now_ms) + 5000))
    while { is_running client1 || is_running client2; } && (($(now_ms) < deadline)); do sleep 0.05; done
    stop_cluster
    loadavg >"$run_dir/load-after"
    fsync_probe "$run_dir/fsync-after.json"
    write_cpu_json "$run_dir/cpu.json" $((busy1 - busy0))
    note "run $name: everything learned by both learners after $(fmt_s "${done_ms:-0}")s"
    check_outputs "$run_dir" || run_failed=1

    "$PAXOS_BIN" bench-report --label "$name" --out "$run_dir/report" \
        --client-log "$run_dir/client1.lat" --client-log "$run_dir/client2.lat" \
        --learner-log "$run_dir/learner1.lat" --learner-log "$run_dir/learner2.lat" | tee "$run_dir/report.txt" >&2 ||
        { note "bench-report failed"; run_failed=1; }
    plot_run "$run_dir" "$name"
    finish_run_dir "$run_dir"
}

# profile_load: (in the background) perf record of every CPU, then perf trace of three processes.
profile_load() {
    command -v perf >/dev/null || { note "perf is missing: no profile"; return 0; }
    local pids="${PID_OF[acceptor1]},${PID_OF[learner1]},${PID_OF[proposer1]}" demangle=(cat)
    command -v swift-demangle >/dev/null && demangle=(swift-demangle --simplified)
    sleep 1
    # Samples are per thread: name every thread of our processes after its process.
    local label task
    for label in "${!PID_OF[@]}"; do
        for task in /proc/"${PID_OF[$label]}"/task/*; do echo "${task##*/} $label"; done
    done 2>/dev/null | sort >"$run_dir/threads.txt"
    perf record -q -e cpu-clock -F 999 -a -g -o "$run_dir/perf.data" -- sleep 2 >/dev/null 2>&1 || return 0
    perf trace -s -p "$pids" -o "$run_dir/perf-trace.txt" -- sleep 1.5 >/dev/null 2>&1 || true
    perf report -i "$run_dir/perf.data" --no-children --sort pid,dso -g none --stdio 2>/dev/null |
        grep -v '^$' >"$run_dir/perf-by-thread.txt" || true
    # Share of all samples per process (and per library within it); other processes as "other".
    awk 'NR == FNR { role[$1] = $2; next }
         /^#/ || NF < 3 { next }
         { pct = $1; sub(/%/, "", pct); split($2, t, ":"); r = (t[1] in role) ? role[t[1]] : "other:" t[2]
           total[r] += pct; lib[r " " $3] += pct }
         END { for (r in total) printf "%6.2f%%  %s\n", total[r], r
               print ""
               for (k in lib) if (lib[k] >= 0.5) printf "%6.2f%%  %s\n", lib[k], k }' \
        "$run_dir/threads.txt" "$run_dir/perf-by-thread.txt" | sort -t% -k1 -rn >"$run_dir/perf-by-process.txt" || true
    # The 15 hottest symbols of each of our processes (share of all samples).
    perf report -i "$run_dir/perf.data" --no-children --sort pid,sym -g none --stdio 2>/dev/null |
        awk 'NR == FNR { role[$1] = $2; next }
             /^#/ || NF < 4 { next }
             { split($2, t, ":"); if (!(t[1] in role)) next; r = role[t[1]]
               if (++n[r] > 15) next
               line = $0; sub(/^ *[0-9.]+% +[^ ]+ +/, "", line); printf "%-10s %s  %s\n", r, $1, line }' \
            "$run_dir/threads.txt" - | sort -s -k1,1 | "${demangle[@]}" >"$run_dir/perf-by-symbol.txt" || true
    note "profile: $run_dir/perf-by-process.txt, perf-by-symbol.txt, perf-trace.txt (threads.txt names the threads)"
}

# run_classic: the course timeline with plain processes, timed by the learners' line counts.
run_classic() {
    run_dir=$out/classic
    mkdir -p "$run_dir"
    write_config "$run_dir/paxos.conf" "$GROUP" "$PORT_BASE"
    echo "synchronous $synchronous" >>"$run_dir/paxos.conf"
    gen_random_values "$run_dir/values1.log" "$classic_n" 3
    gen_random_values "$run_dir/values2.log" "$classic_n" 4
    local expected=$((2 * classic_n)) i
    note "run classic: acceptors, ${STAGE}s, learners, ${STAGE}s, proposers, ${STAGE}s, 2 clients x $classic_n values"
    loadavg >"$run_dir/load-before"
    fsync_probe "$run_dir/fsync-before.json"
    for i in 1 2 3; do start_server acceptor "$i"; done
    sleep "$STAGE"
    for i in 1 2; do start_server learner "$i"; done
    sleep "$STAGE"
    for i in 1 2; do start_server proposer "$i"; done
    sleep "$STAGE"
    local busy0 t0
    udp_counters >"$run_dir/udp-before.txt"
    snapshot_server_cpu
    busy0=$(busy_ticks)
    t0=$(now_ms)
    for i in 1 2; do
        spawn "client$i" "$run_dir/values$i.log" "$run_dir/client$i.log" "&1" \
            "$PAXOS_BIN" client "$i" "$run_dir/paxos.conf" --timeout "$timeout"
    done
    wait_learned "$(($(stat -c %s "$run_dir/values1.log") + $(stat -c %s "$run_dir/values2.log")))" \
        "$t0" $((timeout * 1000)) "$POLL_CLASSIC" || run_failed=1
    local busy1
    busy1=$(busy_ticks)
    udp_counters >"$run_dir/udp-after.txt"
    udp_json "$run_dir/udp-before.txt" "$run_dir/udp-after.txt" "$run_dir/udp.json"
    local deadline=$(($(now_ms) + 5000))
    while { is_running client1 || is_running client2; } && (($(now_ms) < deadline)); do sleep 0.05; done
    stop_cluster
    loadavg >"$run_dir/load-after"
    fsync_probe "$run_dir/fsync-after.json"
    write_cpu_json "$run_dir/cpu.json" $((busy1 - busy0))
    local verdict=FAIL
    [[ -n $done_ms ]] && ((done_ms <= CLASSIC_TARGET_MS)) && verdict=PASS
    printf '{"values_per_client": %d, "expected": %d, "all_learned_after_ms": %s, "target_ms": %d, "verdict": "%s"}\n' \
        "$classic_n" "$expected" "${done_ms:-null}" "$CLASSIC_TARGET_MS" "$verdict" >"$run_dir/classic.json"
    note "run classic: $verdict: all $expected values learned by both learners $(fmt_s "${done_ms:-0}")s after the clients started"
    check_outputs "$run_dir" || run_failed=1
    finish_run_dir "$run_dir"
}

# check_outputs DIR: the course's checks (identical outputs, exactly once) on the run's files.
check_outputs() {
    local dir=$1
    if "$SCRIPTS_DIR/check.sh" --state "$dir/paxos-state" --values "$dir/values1.log" "$dir/values2.log" \
        --learned "$dir/learner1.log" "$dir/learner2.log" >"$dir/check.txt" 2>&1; then
        note "checks passed ($(tail -n 1 "$dir/check.txt"))"
    else
        note "FAIL: checks failed, see $dir/check.txt"
        return 1
    fi
}

plot_run() {
    ((plot)) || return 0
    if ((have_matplotlib)); then
        python3 "$SCRIPTS_DIR/lib/bench-plot.py" "$1/report" "$1/bench.png" "$2" >&2 || note "the plot failed"
    fi
}

# finish_run_dir DIR: drops the bulky files unless --keep-state.
finish_run_dir() {
    ((keep_state)) && return 0
    rm -rf "$1/paxos-state"
    rm -f "$1"/learner?.log "$1"/values?.log "$1/perf.data"
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if ((${#PID_OF[@]} > 0)); then
        note "stopping the processes started by this run"
        stop_all
    fi
    netns_delete
    exit "$rc"
}

# --- main --------------------------------------------------------------------------------------

have_matplotlib=0

main() {
    parse_args "$@"
    ensure_binary
    "$PAXOS_BIN" bench-report --help >/dev/null 2>&1 ||
        die "$PAXOS_BIN has no bench-report subcommand: rebuild it (--build) or set PAXOS_BIN"
    [[ -n $out ]] || out=${TMPDIR:-/tmp}/paxos-bench.$(date +%Y%m%d-%H%M%S)
    mkdir -p "$out"
    out=$(CDPATH='' cd -P -- "$out" && pwd -P)
    if ((plot)); then
        if ensure_matplotlib; then have_matplotlib=1; else note "matplotlib unavailable: no PNG plots"; fi
    fi

    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    netns_create "paxos-bench-$$" || die "could not create a network namespace"
    note "binary $PAXOS_BIN; results in $out; network namespace $NETNS"
    {
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "kernel: $(uname -sr)"
        echo "cpus: $(nproc)"
        echo "cpu model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
        echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
        echo "filesystem: $(df -hT "$out" | awk 'NR==2 {print $1" "$2}')"
        echo "load at start: $(loadavg)"
        echo "synchronous: $synchronous (acceptors and learners)"
        echo "binary: $PAXOS_BIN"
        echo "git: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') ($(git -C "$REPO_ROOT" status --short 2>/dev/null | grep -c . || true) changed files in the work tree)"
    } >"$out/machine.txt"

    ((limits)) && measure_limits
    ((closed)) && run_load closed
    [[ -n $rate ]] && run_load open
    ((classic)) && run_classic
    netns_delete

    echo "load at end: $(loadavg)" >>"$out/machine.txt"
    python3 "$SCRIPTS_DIR/lib/bench-summary.py" "$out" >&2 || { note "the summary failed"; run_failed=1; }
    note "results: $out/results.md, $out/results.json"
    ((run_failed == 0))
}

main "$@"

#!/usr/bin/env bash
# Runs a whole Paxos system on this machine, waits until every learner has learned every value,
# stops it, and runs scripts/check.sh on the logs (the course's 2025 harness, plus --kill and
# --timeout). Run it from anywhere; it works on the repository it belongs to.
#
# Usage: scripts/run.sh [-n N] [--loss P] [--catchup] [--kill] [-s SLEEP] [--ip IP]
#                       [-c CLIENTS] [-p PROPOSERS] [-a ACCEPTORS] [-l LEARNERS] [-d]
#                       [--keep-state] [--timeout T] [--port-base B] [--logs DIR] [--build]
#
#   -n N            values per client (default 1000), random integers 0..32767
#   --loss P        drop a fraction P (0..1) of the datagrams arriving for the group (needs root)
#   --catchup       learner 2 starts late: after client 1, before client 2 (run_catch_up.sh)
#   --kill          once values flow: kill -9 and restart acceptor 1, then learner 1, then
#                   proposer 1 (the default leader), each with the same id and state
#   -s SLEEP        seconds between the start stages (default 1)
#   --ip IP         multicast group of the generated config (default 239.0.0.1)
#   -c/-p/-a/-l     clients (2), proposers (2), acceptors (3, at most 3: the quorum is always a
#                   majority of three; with 1 nothing may be learned, and that is what is checked)
#   -d              debug logs (--log-level debug) from every process
#   --keep-state    keep logs/paxos-state and append to the logs, so this run continues the last
#                   one (same -c and -l); the checks then cover both runs together
#   --timeout T     seconds to wait, from the clients' start, for everything to be learned (60)
#   --port-base B   ports B, B+1000, B+2000, B+3000 for clients..learners (default 5000)
#   --logs DIR      where the logs go (default: logs/ at the repository root)
#   --build         run `swift build -c release --product paxos` first even if a binary exists
#
# Logs: values<i>.log (client i's input), <role><i>.log (stdout) and <role><i>.err (stderr),
# client<i>.log (the client's stdout and stderr), paxos.conf, paxos-state/.
# As root everything runs in a private network namespace created for the run and removed
# afterwards (loss rules included); otherwise on the host's loopback, and --loss is refused.
# The binary is $PAXOS_BIN if set, else the repository's release build (built if missing or with
# --build: an existing binary is NOT rebuilt after source changes without --build).
# Exit status: 0 when everything was learned, every process behaved and all checks passed.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

usage() { sed -n '/^# Usage:/,/^#   --build/s/^# \{0,1\}//p' "$0"; }

n=1000
loss=0
catchup=0
kill_test=0
stage=1
ip=239.0.0.1
clients=2
proposers=2
acceptors=3
learners=2
debug=0
keep_state=0
timeout=60
port_base=5000
logdir=$REPO_ROOT/logs

KILL_GAP=0.5 # seconds between a kill -9 and the restart, and between the restarts
SETTLE_MS=500 # keep running this long once all is learned, so that late duplicates show up

parse_args() {
    need() { (($# >= 2)) || die "option $1 needs a value (see --help)"; }
    while (($#)); do
        case $1 in
            -n) need "$@"; n=$2; shift ;;
            --loss) need "$@"; loss=$2; shift ;;
            --catchup) catchup=1 ;;
            --kill) kill_test=1 ;;
            -s) need "$@"; stage=$2; shift ;;
            --ip) need "$@"; ip=$2; shift ;;
            -c) need "$@"; clients=$2; shift ;;
            -p) need "$@"; proposers=$2; shift ;;
            -a) need "$@"; acceptors=$2; shift ;;
            -l) need "$@"; learners=$2; shift ;;
            -d) debug=1 ;;
            --keep-state) keep_state=1 ;;
            --timeout) need "$@"; timeout=$2; shift ;;
            --port-base) need "$@"; port_base=$2; shift ;;
            --logs) need "$@"; logdir=$2; shift ;;
            --build) FORCE_BUILD=1 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
        shift
    done
    is_posint "$n" || die "-n needs a positive integer, not '$n'"
    is_probability "$loss" || die "--loss needs a probability between 0 and 1, not '$loss'"
    is_seconds "$stage" || die "-s needs seconds, not '$stage'"
    is_posint "$timeout" || die "--timeout needs a positive number of seconds, not '$timeout'"
    is_posint "$clients" || die "-c needs a positive integer"
    is_posint "$proposers" || die "-p needs a positive integer"
    is_posint "$learners" || die "-l needs a positive integer"
    [[ $acceptors =~ ^[123]$ ]] || die "-a must be 1, 2 or 3: the quorum is a majority of three acceptors"
    if ! is_posint "$port_base" || ((port_base > 62535)); then die "--port-base must be 1..62535"; fi
    [[ $ip =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--ip needs an IPv4 address, not '$ip'"
    ((!catchup || learners >= 2)) || die "--catchup needs at least 2 learners"
    if ! is_zero "$loss" && ((EUID != 0)); then
        die "--loss needs root: the loss rule lives in a private network namespace (try sudo)"
    fi
}

# --- logs and inputs ---------------------------------------------------------------------------

conf=""
expected=0
expect_empty=0
append="" # "+" when outputs are appended to (--keep-state)

prepare_logs() {
    mkdir -p "$logdir"
    logdir=$(CDPATH='' cd -P -- "$logdir" && pwd -P)
    conf=$logdir/paxos.conf
    if ((keep_state)); then
        append=+
    else
        # Only what this script writes: --logs may name a folder holding other things.
        rm -rf "$logdir/paxos-state"
        rm -f "$logdir"/*.log "$logdir"/*.err "$conf"
    fi
    mkdir -p "$logdir/paxos-state"
    write_config "$conf" "$ip" "$port_base"
    # Acceptors forget an instance once every configured learner delivered it: count them all.
    ((learners == 2)) || echo "learner-count $learners" >>"$conf"

    local i
    for ((i = 1; i <= clients; i++)); do
        if ((keep_state)); then
            # This run's values go to the client; the history keeps every run's values.
            gen_values "$n" "$logdir/new-values$i.log"
            cat "$logdir/new-values$i.log" >>"$logdir/values$i.log"
        else
            gen_values "$n" "$logdir/values$i.log"
        fi
    done
    expected=0
    local f
    for f in "$logdir"/values*.log; do
        [[ ${f##*/} =~ ^values[0-9]+\.log$ ]] && expected=$((expected + $(count_lines "$f")))
    done
    ((acceptors >= 2)) || expect_empty=1
}

client_input() {
    if ((keep_state)); then echo "$logdir/new-values$1.log"; else echo "$logdir/values$1.log"; fi
}

# --- processes ---------------------------------------------------------------------------------

proc_opts=()

# start ROLE ID [restart]: through the launcher, as the course starts it. A restarted process
# appends to its logs: a learner resumes after its last delivered value, so its log file stays
# its whole output.
start() {
    local role=$1 id=$2 mode=${append}
    [[ ${3:-} == restart ]] && mode=+
    local label=$role$id
    if [[ $role == client ]]; then
        spawn "$label" "$(client_input "$id")" "$mode$logdir/$label.log" "&1" \
            "$SCRIPTS_DIR/client.sh" "$id" "$conf" "${proc_opts[@]}"
    else
        spawn "$label" /dev/null "$mode$logdir/$label.log" "$logdir/$label.err" \
            "$SCRIPTS_DIR/$role.sh" "$id" "$conf" "${proc_opts[@]}"
    fi
}

# crash_and_restart LABEL: kill -9, a moment, the same id again on the same state.
crash_and_restart() {
    local label=$1
    progress_break
    note "kill -9 $label (pid ${PID_OF[$label]:-?}), restarting it in ${KILL_GAP}s"
    kill9 "$label"
    sleep "$KILL_GAP"
    start "${label%%[0-9]*}" "${label##*[!0-9]}" restart
    sleep "$KILL_GAP"
}

# --- progress ----------------------------------------------------------------------------------

t0=0               # ms when the first client started
progress_shown=0   # a \r line is on the terminal
last_plain=0       # ms of the last progress line when stderr is not a terminal
declare -A learned_of=()

read_counts() {
    local i
    for ((i = 1; i <= learners; i++)); do learned_of[$i]=$(count_lines "$logdir/learner$i.log"); done
}

progress_text() {
    local i s
    s="[$(fmt_s $(($(now_ms) - t0)))s] learned:"
    for ((i = 1; i <= learners; i++)); do s+=" learner$i ${learned_of[$i]}/$expected"; done
    echo "$s"
}

progress() {
    if [[ -t 2 ]]; then
        printf '\r%s\033[K' "$(progress_text)" >&2
        progress_shown=1
    elif (($(now_ms) - last_plain >= 5000)); then
        progress_text >&2
        last_plain=$(now_ms)
    fi
}

# Ends the \r line so that the next message starts on its own line.
progress_break() {
    if ((progress_shown)); then
        echo >&2
        progress_shown=0
    fi
}

all_learned() {
    local i
    for ((i = 1; i <= learners; i++)); do ((learned_of[$i] >= expected)) || return 1; done
}

any_learned() {
    local i
    for ((i = 1; i <= learners; i++)); do ((learned_of[$i] == 0)) || return 0; done
    return 1
}

any_learner_running() {
    local i
    for ((i = 1; i <= learners; i++)); do is_running "learner$i" && return 0; done
    return 1
}

# wait_for_learners: polls until every learner has every value (or, without a quorum, until a
# short window has passed), the timeout, or no learner is left. Runs the --kill sequence once
# values flow. Sets done_ms (ms after t0 when all was learned, "" if never).
done_ms=""
wait_for_learners() {
    local limit=$((timeout * 1000)) killed=0 elapsed
    ((expect_empty)) && limit=$((timeout < 5 ? timeout * 1000 : 5000))
    while :; do
        read_counts
        progress
        elapsed=$(($(now_ms) - t0))
        if ((expect_empty)); then
            any_learned && break
        elif all_learned && [[ -z $done_ms ]]; then
            done_ms=$elapsed
        fi
        if ((kill_test && !killed)) &&
            { [[ -n $done_ms ]] || ((elapsed >= 1000 || learned_of[1] * 4 >= expected)); }; then
            killed=1
            crash_and_restart acceptor1
            crash_and_restart learner1
            crash_and_restart proposer1
            continue
        fi
        # Done: keep going a moment longer so that a late duplicate would be seen.
        [[ -n $done_ms ]] && ((elapsed >= done_ms + SETTLE_MS)) && break
        ((elapsed < limit)) || break
        if ! any_learner_running; then
            progress_break
            note "no learner is running any more"
            break
        fi
        sleep 0.1
    done
    read_counts
    progress
    progress_break
}

# --- network -----------------------------------------------------------------------------------

setup_network() {
    if can_use_netns; then
        if ! netns_create "paxos-run-$$"; then
            netns_delete
            is_zero "$loss" || die "could not create a network namespace for the loss rule"
            note "could not create a network namespace: running on the host's loopback"
        fi
    elif ((EUID == 0)); then
        note "ip (iproute2) is missing: running on the host's loopback"
    fi
    is_zero "$loss" || netns_add_loss "$ip" "$loss"
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    progress_break
    if ((${#PID_OF[@]} > 0)); then
        note "stopping the processes started by this run"
        stop_all
    fi
    netns_delete
    exit "$rc"
}

# --- main --------------------------------------------------------------------------------------

main() {
    parse_args "$@"
    ensure_binary
    prepare_logs
    # No --state: the binary's default (paxos-state/ beside the config) is logs/paxos-state,
    # and the course's scripts rely on that default too.
    ((debug)) && proc_opts+=(--log-level debug)

    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    setup_network

    local where="host loopback"
    [[ -n $NETNS ]] && where="network namespace $NETNS"
    note "$clients clients x $n values, $acceptors acceptors, $proposers proposers, $learners learners, loss $loss, $where"
    note "binary $PAXOS_BIN; logs in $logdir"
    ((expect_empty)) && note "$acceptors of 3 acceptors is no majority: nothing may be learned"

    local i
    for ((i = 1; i <= acceptors; i++)); do start acceptor "$i"; done
    sleep "$stage"
    for ((i = 1; i <= learners; i++)); do ((catchup && i == 2)) || start learner "$i"; done
    sleep "$stage"
    for ((i = 1; i <= proposers; i++)); do start proposer "$i"; done
    sleep "$stage"
    t0=$(now_ms)
    start client 1
    if ((catchup)); then
        sleep "$stage"
        start learner 2
        sleep "$stage"
    fi
    for ((i = 2; i <= clients; i++)); do start client "$i"; done

    wait_for_learners
    stop_all
    netns_delete

    local failures=0 line
    if ((expect_empty)); then
        if any_learned; then
            note "FAIL: values were learned without a majority of acceptors"
            failures=$((failures + 1))
        else
            note "nothing learned, as expected"
        fi
    elif [[ -n $done_ms ]]; then
        note "all $expected values learned by every learner $(fmt_s "$done_ms")s after the clients started ($((expected * 1000 / (done_ms > 0 ? done_ms : 1))) values/s)"
    else
        note "FAIL: not everything learned within ${timeout}s: $(progress_text)"
        failures=$((failures + 1))
    fi
    while IFS= read -r line; do
        note "FAIL: $line"
        failures=$((failures + 1))
    done < <(exit_problems)

    local check_opts=()
    ((expect_empty)) && check_opts+=(--expect-empty)
    "$SCRIPTS_DIR/check.sh" "${check_opts[@]}" "$logdir" || failures=$((failures + 1))
    ((failures == 0))
}

main "$@"

#!/usr/bin/env bash
# Runs a whole Paxos system on this machine, waits until every learner has learned every value,
# stops it, and runs `paxos check` on the logs (scripts/check.sh of the course's 2025 harness, plus
# --kill and --timeout). Run it from anywhere; it works on the repository it belongs to.
#
# Usage: scripts/run.sh [-n N] [--loss P] [--catchup] [--kill] [-s SLEEP] [--ip IP]
#                       [-c CLIENTS] [-p PROPOSERS] [-a ACCEPTORS] [-l LEARNERS] [-d]
#                       [--keep-state] [--timeout T] [--port-base B] [--logs DIR] [--build] [--host]
#
#   -n N            values per client (default 1000), random integers 0..32767
#   --loss P        drop a fraction P (0..1) of the datagrams arriving for the group (needs root)
#   --catchup       learner 2 starts late: after client 1, before client 2 (run_catch_up.sh)
#   --kill          once values flow: kill -9 and restart acceptor 1, then learner 1, then
#                   proposer 1 (the default leader), each with the same id and state; the clients
#                   are handed their values over 6 s so that the kills land mid-run
#   -s SLEEP        seconds between the start stages (default 1)
#   --ip IP         multicast group of the generated config (default 239.0.0.1)
#   -c/-p/-a/-l     clients (2), proposers (2), acceptors (3, at most 3: the quorum is always a
#                   majority of three; with 1 nothing may be learned, and that is what is checked)
#   -d              debug logs (--log-level debug) from every process
#   --keep-state    keep logs/paxos-state and append to the logs, so this run continues the last
#                   one (same -c and -l); the checks then cover both runs together
#   --timeout T     seconds to wait, from the clients' start, for everything to be learned (60)
#   --port-base B   ports B, B+1000, B+2000, B+3000 for clients..learners (default 5000 in a
#                   namespace; on the host's loopback, random free ones)
#   --logs DIR      where the logs go (default: logs/ at the repository root)
#   --build         run `swift build -c release --product paxos` first even if a binary exists
#   --host          run on the host's loopback even as root (as without root: random free ports)
#
# Logs: values<i>.log (client i's input), <role><i>.log (stdout) and <role><i>.err (stderr),
# client<i>.log (the client's stdout and stderr), paxos.conf, paxos-state/.
# As root everything runs in a private network namespace created for the run and removed
# afterwards (loss rules included); otherwise on the host's loopback, and --loss is refused.
# The binary is $PAXOS_BIN if set, else the repository's release build (built if missing or older
# than the sources, or with --build).
# Exit status: 0 when everything was learned, every process behaved and all checks passed.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

USAGE_END=--host
n=1000 loss=0 catchup=0 kill_test=0 stage=1 ip=239.0.0.1 clients=2 proposers=2 acceptors=3 learners=2
debug=0 keep_state=0 timeout=60 port_base=5000 logdir=$REPO_ROOT/logs use_netns=1

KILL_GAP=0.5 # seconds between a kill -9 and the restart, and between the restarts
PACE_S=6     # --kill: seconds over which each client is handed its values
SETTLE_MS=500 # keep running this long once all is learned, so that late duplicates show up

is_acceptor_count() { [[ $1 =~ ^[123]$ ]]; }
is_port_base() { is_posint "$1" && ((10#$1 <= 62535)); }
is_multicast() { [[ $1 =~ ^(22[4-9]|23[0-9])\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]; }
declare -A FLAGS=([--catchup]="catchup 1" [--kill]="kill_test 1" [-d]="debug 1" [--keep-state]="keep_state 1"
    [--build]="FORCE_BUILD 1" [--host]="use_netns 0")
declare -A OPTS=(
    [-n]="n is_posint needs a positive integer, not '%s'"
    [--loss]="loss is_probability needs a probability between 0 and 1, not '%s'"
    [-s]="stage is_seconds needs seconds, not '%s'"
    [--ip]="ip is_multicast needs an IPv4 multicast address (224.0.0.0-239.255.255.255), not '%s'"
    [-c]="clients is_posint needs a positive integer"
    [-p]="proposers is_posint needs a positive integer"
    [-a]="acceptors is_acceptor_count must be 1, 2 or 3: the quorum is a majority of three acceptors"
    [-l]="learners is_posint needs a positive integer"
    [--timeout]="timeout is_posint needs a positive number of seconds, not '%s'"
    [--port-base]="port_base is_port_base must be 1..62535"
    [--logs]="logdir")

port_base_given=0
parse_args() {
    [[ " $* " == *" --port-base "* ]] && port_base_given=1
    parse_opts "$@"
    ((!catchup || learners >= 2)) || die "--catchup needs at least 2 learners"
    if ! is_zero "$loss" && ((EUID != 0)); then
        die "--loss needs root: the loss rule lives in a private network namespace (try sudo)"
    fi
    is_zero "$loss" || ((use_netns)) || die "--loss needs a private network namespace: drop --host"
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
    # One run per logs folder: a second one would delete the first one's state under it.
    if command -v flock >/dev/null; then
        exec {lock_fd}>"$logdir/.run.lock"
        flock -n "$lock_fd" ||
            die "another run.sh (pid $(cat "$logdir/.run.pid" 2>/dev/null || echo '?')) is using $logdir: wait for it to end, or give this one --logs DIR"
        echo $$ >"$logdir/.run.pid"
    fi
    if ((keep_state)) && [[ -f $logdir/.run.unfinished ]]; then
        die "the last run in $logdir did not finish (interrupted, or not all its values were learned): --keep-state would wait for values never submitted; run without it to start afresh"
    fi
    touch "$logdir/.run.unfinished" # removed once everything of this run is learned
    if ((keep_state)); then
        append=+
    else
        # Only what this script writes: --logs may name a folder holding other things.
        rm -rf "$logdir/paxos-state"
        rm -f "$logdir"/*.log "$logdir"/*.err "$logdir"/*.input "$conf"
    fi
    mkdir -p "$logdir/paxos-state"
    if [[ -z $NETNS && $port_base_given == 0 ]]; then
        # On the host's loopback another cluster (a classmate's demo) may use the classic ports: random
        # ones below the ephemeral range, not bound by anyone now.
        local tries=0
        while port_base=$((10000 + RANDOM % 15000)) && ((++tries < 20)) && ports_in_use "$port_base"; do :; done
        note "on the host's loopback: ports $port_base, $((port_base + 1000)), $((port_base + 2000)), $((port_base + 3000)) (--port-base to choose)"
    fi
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

# launch ROLE ID [restart]: through the launcher, as the course starts it. A restarted process
# appends to its logs: a learner resumes after its last delivered value, so its log file stays
# its whole output.
launch() {
    local role=$1 id=$2 mode=${append}
    [[ ${3:-} == restart ]] && mode=+
    local label=$role$id
    if [[ $role == client ]] && ((kill_test)); then
        # --kill: the values reach the client over PACE_S seconds, so the three kills (about 3 s) land
        # while values still flow, whatever -n is (unpaced, 2,000 values are learned in 0.1 s).
        local fifo=$logdir/$label.input lines
        rm -f "$fifo" && mkfifo "$fifo"
        lines=$(count_lines "$(client_input "$id")")
        spawn "$label" "$fifo" "$mode$logdir/$label.log" "&1" "$SCRIPTS_DIR/client.sh" "$id" "$conf" "${proc_opts[@]}"
        spawn "$label-input" /dev/null "$fifo" /dev/null awk -v every=$(((lines + 39) / 40)) -v pause="$(awk -v s="$PACE_S" 'BEGIN { print s / 40 }')" \
            '{ print; fflush() } NR % every == 0 { system("sleep " pause) }' "$(client_input "$id")"
    elif [[ $role == client ]]; then
        spawn "$label" "$(client_input "$id")" "$mode$logdir/$label.log" "&1" \
            "$SCRIPTS_DIR/client.sh" "$id" "$conf" "${proc_opts[@]}"
    else
        spawn "$label" /dev/null "$mode$logdir/$label.log" "$logdir/$label.err" \
            "$SCRIPTS_DIR/$role.sh" "$id" "$conf" "${proc_opts[@]}"
    fi
    [[ $role == learner && $id == "$TL_LATE" && ${3:-} != restart ]] && watch_catch_up "$label"
    return 0
}

# watch_catch_up LABEL: the late learner's own figure, apart from the start stages around it: how long
# from its start until it had what learner 1 had learned by then (a `paxos check --wait` in the background).
catch_up_pid="" catch_up_from=0 catch_up_behind=0
watch_catch_up() {
    catch_up_from=$(now_ms)
    catch_up_behind=$(count_lines "$logdir/learner1.log")
    ((catch_up_behind > 0)) || return 0
    paxos_check --wait "$catch_up_behind" --since "$catch_up_from" --deadline $((catch_up_from + timeout * 1000)) \
        --learned "$logdir/$1.log" >"$logdir/catch-up.out" 2>/dev/null &
    catch_up_pid=$!
}

# catch_up_text: "learner 2 started 1.0 s after client 1, 1000 values behind learner 1; it had them 198 ms after its start ..."
catch_up_text() {
    local out="" ms
    [[ -n $catch_up_pid ]] && { wait "$catch_up_pid" 2>/dev/null || true; out=$(cat "$logdir/catch-up.out" 2>/dev/null); }
    local s="learner $TL_LATE started $(fmt_s $((catch_up_from - T0))) s after client 1, $catch_up_behind values behind learner 1"
    if [[ $out == done* ]]; then
        ms=${out#done }
        echo "$s; it had them $ms ms after its start (its own start-up included)"
    elif ((catch_up_behind == 0)); then
        echo "learner $TL_LATE started $(fmt_s $((catch_up_from - T0))) s after client 1, before anything was learned"
    else
        echo "$s; it never caught up with them"
    fi
}

# crash_and_restart LABEL: kill -9, a moment, the same id again on the same state.
crash_and_restart() {
    local label=$1
    note "kill -9 $label (pid ${PID_OF[$label]:-?}) at $(counts_text | sed 's/ learned:/, learned so far:/'); restarting it in ${KILL_GAP}s"
    kill9 "$label"
    sleep "$KILL_GAP"
    launch "${label%%[0-9]*}" "${label##*[!0-9]}" restart
    sleep "$KILL_GAP"
}

# --- waiting -----------------------------------------------------------------------------------

# counts_text: "[1.2s] learned: learner1 900/2000 learner2 850/2000"
counts_text() {
    local i s="[$(fmt_s $(($(now_ms) - T0)))s] learned:"
    for ((i = 1; i <= learners; i++)); do s+=" learner$i $(count_lines "$logdir/learner$i.log")/$expected"; done
    echo "$s"
}

# watch_learners TARGET DEADLINE_MS [OPTIONS]: `paxos check --wait` on the learners' outputs, with the
# progress line, until the running learners are gone.
watch_learners() {
    local i files=() pids=()
    for ((i = 1; i <= learners; i++)); do
        files+=("$logdir/learner$i.log")
        [[ -n ${PID_OF[learner$i]:-} ]] && pids+=("${PID_OF[learner$i]}")
    done
    paxos_check --wait "$1" --since "$T0" --deadline "$2" --progress --total "$expected" "${@:3}" --learned "${files[@]}" --pids "${pids[@]}"
}

# wait_for_learners: until every learner has every value (then SETTLE_MS more, so that a late duplicate
# would be seen), the timeout, or no learner is left; without a quorum, until anything is learned (5 s at
# most). The --kill sequence runs once values flow (a learner has a quarter of them, or after 1 s).
# Sets done_ms (ms after T0 when all was learned, "" if never) and learned_any.
done_ms="" learned_any=0
wait_for_learners() {
    local limit=$((timeout * 1000)) out
    ((expect_empty)) && limit=$((timeout < 5 ? timeout * 1000 : 5000))
    if ((kill_test)); then
        watch_learners $(((expected + 3) / 4)) $((T0 + 1000)) --any >/dev/null || true
        crash_and_restart acceptor1
        crash_and_restart learner1
        crash_and_restart proposer1
    fi
    if ((expect_empty)); then
        out=$(watch_learners 1 $((T0 + limit)) --any) || true
        [[ $out == done* ]] && learned_any=1
    else
        out=$(watch_learners "$expected" $((T0 + limit)) --settle "$SETTLE_MS") || true
        [[ $out == done* ]] && done_ms=${out#done }
    fi
    [[ $out == gone ]] && note "no learner is running any more"
    return 0
}

plural() { if (($1 == 1)); then echo "1 $2"; else echo "$1 $2s"; fi; }

# exit_reason LABEL: ": <its last error line>" from the process's log, so a FAIL says why it exited.
exit_reason() {
    local file=$logdir/$1.err line
    [[ $1 == client* ]] && file=$logdir/$1.log
    line=$(grep -E 'error|critical' "$file" 2>/dev/null | tail -n 1) || true
    [[ -n $line ]] && echo " -- ${line#*: }"
    return 0
}

# --- network -----------------------------------------------------------------------------------

setup_network() {
    if ((!use_netns)); then
        return
    elif can_use_netns; then
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
    [[ -n $catch_up_pid ]] && kill "$catch_up_pid" 2>/dev/null
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
    # No --state: the binary's default (paxos-state/ beside the config) is logs/paxos-state,
    # and the course's scripts rely on that default too.
    ((debug)) && proc_opts+=(--log-level debug)

    trap cleanup EXIT
    trap '' PIPE # run.sh | head -1: the run and its cleanup carry on when the reader is gone
    trap 'exit 130' INT
    trap 'exit 143' TERM
    setup_network
    prepare_logs # after the network: the ports depend on it

    local where="host loopback"
    [[ -n $NETNS ]] && where="network namespace $NETNS"
    note "$(plural "$clients" client) x $n values, $(plural "$acceptors" acceptor), $(plural "$proposers" proposer), $(plural "$learners" learner), loss $loss, $where"
    note "binary $PAXOS_BIN; logs in $logdir"
    ((expect_empty)) && note "$acceptors of 3 acceptors is no majority: nothing may be learned"

    TL_ACCEPTORS=$acceptors TL_LEARNERS=$learners TL_PROPOSERS=$proposers TL_CLIENTS=$clients
    TL_STAGE=$stage TL_CLIENT_DELAY=$stage TL_GAP=$stage
    ((catchup)) && TL_LATE=2
    course_timeline

    wait_for_learners
    stop_all
    netns_delete

    local failures=0 line
    if ((expect_empty)); then
        if ((learned_any)); then
            note "FAIL: values were learned without a majority of acceptors"
            failures=$((failures + 1))
        else
            rm -f "$logdir/.run.unfinished"
            note "nothing learned, as expected"
        fi
    elif [[ -n $done_ms ]]; then
        rm -f "$logdir/.run.unfinished"
        if ((catchup)); then
            # The stages around the late learner (2 x -s) are in this time: no values/s figure of it.
            note "all $expected values learned by every learner $(fmt_s "$done_ms")s after client 1 started"
            note "$(catch_up_text)"
        elif ((kill_test)); then
            note "all $expected values learned by every learner $(fmt_s "$done_ms")s after the clients started (fed over ${PACE_S} s for the kills: no values/s figure)"
        else
            note "all $expected values learned by every learner $(fmt_s "$done_ms")s after the clients started ($((expected * 1000 / (done_ms > 0 ? done_ms : 1))) values/s)"
        fi
    else
        note "FAIL: not everything learned within ${timeout}s: $(counts_text)"
        failures=$((failures + 1))
    fi
    while IFS= read -r line; do
        note "FAIL: $line$(exit_reason "${line%% *}")"
        failures=$((failures + 1))
    done < <(exit_problems)

    local check_opts=()
    ((expect_empty)) && check_opts+=(--expect-empty)
    paxos_check "${check_opts[@]}" "$logdir" || failures=$((failures + 1))
    ((failures == 0))
}

main "$@"

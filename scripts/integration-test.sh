#!/usr/bin/env bash
# Runs the classic course scenarios the way the course's own scripts do: the launchers are
# COPIED into a temporary "tests folder" (as MyPaxos/), started from inside it with
# `./acceptor.sh 1 /abs/path/paxos.conf`, clients read ../prop1, learners write ../learn1, and
# every process is stopped with SIGTERM a fixed window after the clients started.
#
# Usage: scripts/integration-test.sh [-n N] [--only NAME[,NAME...]] [--client-delay S]
#                                    [--window S] [--keep] [--build]
#
#   -n N              values per client (default 1000; the handout uses 100, 1000 and 10000)
#   --only NAMES      run only these scenarios (comma-separated; the option may be repeated)
#   --client-delay S  seconds between the proposers' and the clients' start (default 1; the
#                     classic run.sh waits 10)
#   --window S        seconds between the (last) client's start and SIGTERM (default 5, classic)
#   --keep            keep every scenario's folder (failed ones are always kept)
#   --build           run `swift build -c release --product paxos` first even if a binary exists
#
# Scenarios (each in a fresh private network namespace when root; otherwise on the host's
# loopback with random ports, and "loss" is skipped):
#   plain       3 acceptors, 2 proposers, 2 learners, 2 clients: everything learned
#   loss        the same with 10% of the datagrams to the group dropped (run_loss.sh)
#   lossload    10% loss with $LOSSLOAD_N values per client (the course's largest load and more): the
#               leader's flow control and the fast retransmission of lost 2As and submissions under
#               load (window $LOSSLOAD_WINDOW s)
#   catchup     learner 2 starts 1 s after client 1 and 1 s before client 2; it must print the
#               whole sequence, identical to learner 1 (run_catch_up.sh)
#   2acceptors  only acceptors 1 and 2 started: everything learned
#   1acceptor   only acceptor 1 started: no majority of three, so nothing may be learned
#   kill        acceptor 1 killed with -9 just after the clients start and restarted 1 s later
#               with the same id and state: everything learned
#   wipe        acceptor 1 killed with -9 mid-run ($WIPE_N values per client), its database
#               deleted, restarted: it must log that it recovers and has recovered, and everything
#               is learned exactly once, identically (window $WIPE_WINDOW s)
#   bigvalue    values of 200 KB to 1 MiB ($BIG_N per client, each many datagrams long), acceptor 1
#               killed with -9 just after the clients start and restarted 1 s later: everything
#               learned whole, exactly once, identically
#   misconfig   acceptor-count 5 for acceptors 1-2 and learner 2, acceptor-count 3 for proposer 1,
#               learner 1 and the client: nothing may be learned, `paxos status` must count the
#               foreign datagrams and the acceptors' logs must name both settings
# Each scenario must learn everything within the window (Z = seconds from the first client's
# start until both learners had all X values; the whole window for 1acceptor); the files are then
# checked with `paxos check` (identical outputs, learned = proposed exactly once, learner databases).
#
# The binary is $PAXOS_BIN if set, else the repository's release build (built if missing, or
# always with --build).
# Prints one line per scenario, "PASS name (learned X/Y in Zs)" or "FAIL name: reason", then
# "N passed, M failed" alone on the last line. Exit status 0 only if no scenario failed.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

ALL_SCENARIOS=(plain loss lossload catchup 2acceptors 1acceptor kill wipe bigvalue misconfig)
n=1000 only=() keep=0 client_delay=1 window=5
LOSS=0.1              # run_loss.sh's rate
LOSSLOAD_N=100000 LOSSLOAD_WINDOW=10
KILL_AFTER_MS=200     # kill -9 of acceptor 1 this long after the clients start ...
RESTART_AFTER_MS=1000 # ... and its restart this long after the kill
WIPE_N=150000         # values per client in the wipe scenario, so that the wipe lands mid-run
WIPE_KILL_AFTER_MS=300 WIPE_RESTART_AFTER_MS=300 WIPE_WINDOW=30
MISCONFIG_WAIT=4      # seconds the misconfigured cluster runs
BIG_N=6               # values per client in the bigvalue scenario, 200 KB to 1 MiB each

USAGE_END=--build
declare -A FLAGS=([--keep]="keep 1" [--build]="FORCE_BUILD 1")
declare -A OPTS=(
    [-n]="n is_posint needs a positive integer, not '%s'"
    [--only]="only add_only_scenarios"
    [--client-delay]="client_delay is_seconds needs seconds, not '%s'"
    [--window]="window is_posint needs a positive whole number of seconds, not '%s'")

tmp=""          # the current scenario's tests folder
start_dir=$PWD

# launch ROLE ID [+]: ./ROLE.sh ID CONF from inside the copied folder, as the course does: clients read
# ../prop<i>, learners write ../learn<i>, the others ../<label>.log; stderr to ../<label>.err. '+' appends.
launch() {
    local label=$1$2 in=/dev/null out=../$1$2.log
    [[ $1 == client ]] && in=../prop$2
    [[ $1 == learner ]] && out=../learn$2
    spawn "$label" "$in" "${3:-}$out" "../$label.err" "./$1.sh" "$2" "$tmp/paxos.conf"
}

# scenario_setup NAME LOSS: the tests folder (launchers copied in as MyPaxos/), a private namespace with
# the classic ports (and the loss rule), or the host with random ports below the ephemeral range.
scenario_setup() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/paxos-it-$1.XXXXXX") || die "mktemp failed"
    cp -R "$SCRIPTS_DIR" "$tmp/MyPaxos" || die "could not copy $SCRIPTS_DIR to $tmp/MyPaxos"
    port_base=5000
    if ! { can_use_netns && netns_create "paxos-it-$$-$1"; }; then
        netns_delete
        is_zero "$2" || { echo "FAIL $1: could not create a private network namespace for the loss rule"; return 1; }
        port_base=$((10000 + RANDOM % 15000))
    fi
    is_zero "$2" || netns_add_loss 239.0.0.1 "$2"
}

# scenario_end: stops everything, collects exit problems into `problems`, back to the start folder.
scenario_end() {
    stop_all
    mapfile -t problems < <(exit_problems | grep -v "${1:-^$}")
    forget_procs
    netns_delete
    cd "$start_dir"
}

# run_scenario NAME: prints the scenario's PASS/FAIL/SKIP line; returns 0 pass, 1 fail, 2 skip.
run_scenario() {
    local name=$1 acceptors=3 loss=0 late=0 expect_empty=0 kill_test=0 wipe=0 big=0 n=$n window=$window
    local kill_after=$KILL_AFTER_MS restart_after=$RESTART_AFTER_MS port_base problems=()
    case $name in
        loss) loss=$LOSS ;;
        lossload) loss=$LOSS n=$((n > LOSSLOAD_N ? n : LOSSLOAD_N)) window=$LOSSLOAD_WINDOW ;;
        catchup) late=2 ;;
        2acceptors) acceptors=2 ;;
        1acceptor) acceptors=1 expect_empty=1 ;;
        kill) kill_test=1 ;;
        wipe) kill_test=1 wipe=1 n=$((n > WIPE_N ? n : WIPE_N)) window=$WIPE_WINDOW
              kill_after=$WIPE_KILL_AFTER_MS restart_after=$WIPE_RESTART_AFTER_MS ;;
        bigvalue) kill_test=1 big=1 n=$BIG_N ;;
        misconfig) run_misconfig; return $? ;;
    esac
    if ! is_zero "$loss"; then
        ((EUID == 0)) || { echo "SKIP $name: packet loss needs root (a private network namespace with an iptables rule)"; return 2; }
        command -v iptables >/dev/null && command -v ip >/dev/null ||
            { echo "SKIP $name: iptables is not installed (apt-get install -y iptables)"; return 2; }
    fi
    scenario_setup "$name" "$loss" || return 1
    write_config "$tmp/paxos.conf" 239.0.0.1 "$port_base" || die "could not write $tmp/paxos.conf"
    if ((big)); then
        gen_big_values "$n" "$tmp/prop1" && gen_big_values "$n" "$tmp/prop2" || die "could not write $tmp/prop<i>"
    else
        gen_values "$n" "$tmp/prop1" && gen_values "$n" "$tmp/prop2" || die "could not write $tmp/prop<i>"
    fi
    local expected=$((2 * n))

    cd "$tmp/MyPaxos" || die "cd $tmp/MyPaxos failed"
    TL_ACCEPTORS=$acceptors TL_LATE=$late TL_CLIENT_DELAY=$client_delay
    course_timeline
    local end=$(($(now_ms) + window * 1000))

    # The window: `paxos check --wait` watches the learners until SIGTERM time, while acceptor 1 is
    # killed (and its state wiped) and restarted here.
    paxos_check --wait "$expected" --since "$T0" --deadline "$end" --settle $((window * 1000)) \
        --learned "$tmp/learn1" "$tmp/learn2" >"$tmp/wait.out" 2>&1 &
    local waiter=$! c1 c2 done_ms="" killed_mid=0 landed=""
    if ((kill_test)); then
        sleep_until $((T0 + kill_after))
        kill9 acceptor1
        killed_mid=$(($(count_lines "$tmp/learn1") < expected || $(count_lines "$tmp/learn2") < expected))
        ((wipe)) && rm -f "$tmp"/paxos-state/acceptor-1.sqlite*
        sleep_until $(($(now_ms) + restart_after))
        c1=$(count_lines "$tmp/learn1") c2=$(count_lines "$tmp/learn2")
        launch acceptor 1 +
        landed="restarted at $(fmt_s $(($(now_ms) - T0)))s with $c1 and $c2 of $expected learned"
    fi
    wait "$waiter" || true
    [[ $(<"$tmp/wait.out") == done* ]] && done_ms=$(sed 's/^done //' "$tmp/wait.out")
    scenario_end

    # Verdict.
    c1=$(count_lines "$tmp/learn1")
    c2=$(count_lines "$tmp/learn2")
    local least=$((c1 < c2 ? c1 : c2)) check_opts=() check_ok=1 line
    ((expect_empty)) && check_opts+=(--expect-empty)
    paxos_check "${check_opts[@]}" --state "$tmp/paxos-state" --values "$tmp/prop1" "$tmp/prop2" \
        --learned "$tmp/learn1" "$tmp/learn2" >"$tmp/check.out" 2>&1 || check_ok=0
    if ((wipe)); then
        grep -q "starts without state" "$tmp/acceptor1.err" || problems+=("acceptor 1 did not log that it starts without state")
        grep -q "recovered from acceptors" "$tmp/acceptor1.err" || problems+=("acceptor 1 did not log that it recovered")
        ((killed_mid)) || problems+=("the kill did not land mid-run: everything was learned before it")
    fi
    if ((expect_empty)); then
        ((c1 == 0 && c2 == 0)) || problems=("learned $c1 and $c2 values without a majority of acceptors" "${problems[@]}")
    elif [[ -z $done_ms ]]; then
        problems=("learned only $least/$expected within ${window}s (learn1 $c1, learn2 $c2)" "${problems[@]}")
    fi
    if ((!check_ok)); then
        while IFS= read -r line; do problems+=("${line#FAIL }"); done < <(grep '^FAIL' "$tmp/check.out")
        ((${#problems[@]} > 0)) || problems+=("paxos check failed")
    fi

    if ((${#problems[@]} == 0)); then
        echo "PASS $name (learned $least/$expected in $(fmt_s "${done_ms:-$((window * 1000))}")s${landed:+; acceptor 1 $landed})"
        scenario_passed
        return 0
    fi
    report_failure "$name" "$tmp/check.out" "${problems[@]}"
}

# gen_big_values COUNT FILE: COUNT lines of random base64 text, each 200,000 to 1,048,576 bytes long.
gen_big_values() {
    local i size
    : >"$2" || return 1
    for ((i = 0; i < $1; i++)); do
        size=$((200000 + (RANDOM * 32768 + RANDOM) % 848577))
        { head -c $((size / 4 * 3)) /dev/urandom | base64 -w0 && echo; } >>"$2" || return 1
    done
}

scenario_passed() {
    ((keep)) && echo "     kept: $tmp"
    ((keep)) || rm -rf "$tmp"
    tmp=""
}

# report_failure NAME DETAILS PROBLEM...: the FAIL line, where the files are, and DETAILS indented.
report_failure() {
    echo "FAIL $1: $(joined "${@:3}")"
    echo "     kept: $tmp (learn1, learn2, prop1, *.err, paxos-state/)"
    sed 's/^/     | /' "$2"
    tmp=""
    return 1
}

# run_misconfig: the audit's misconfiguration, as a user could make it. Returns like run_scenario.
run_misconfig() {
    local name=misconfig port_base problems=() c1 c2
    scenario_setup "$name" 0 || return 1
    write_config "$tmp/five.conf" 239.0.0.1 "$port_base" && echo "acceptor-count 5" >>"$tmp/five.conf" &&
        write_config "$tmp/three.conf" 239.0.0.1 "$port_base" && echo "acceptor-count 3" >>"$tmp/three.conf" ||
        die "could not write the configs"
    gen_values "$n" "$tmp/prop1" || die "could not write $tmp/prop1"
    cd "$tmp/MyPaxos" || die "cd $tmp/MyPaxos failed"
    spawn acceptor1 /dev/null ../acceptor1.log ../acceptor1.err ./acceptor.sh 1 "$tmp/five.conf"
    spawn acceptor2 /dev/null ../acceptor2.log ../acceptor2.err ./acceptor.sh 2 "$tmp/five.conf"
    spawn learner2 /dev/null ../learn2 ../learner2.err ./learner.sh 2 "$tmp/five.conf"
    spawn learner1 /dev/null ../learn1 ../learner1.err ./learner.sh 1 "$tmp/three.conf"
    spawn proposer1 /dev/null ../proposer1.log ../proposer1.err ./proposer.sh 1 "$tmp/three.conf"
    spawn client1 ../prop1 ../client1.log ../client1.err ./client.sh 1 "$tmp/three.conf"
    sleep "$MISCONFIG_WAIT"
    "${NS_EXEC[@]}" "$PAXOS_BIN" status "$tmp/five.conf" >"$tmp/status.out" 2>&1
    scenario_end '^client1 '
    c1=$(count_lines "$tmp/learn1")
    c2=$(count_lines "$tmp/learn2")
    ((c1 == 0 && c2 == 0)) || problems+=("learned $c1 and $c2 values with a proposer configured for 3 of 5 acceptors")
    # paxos status: the acceptors' FOREIGN column (11th) counts the proposer's datagrams.
    awk '$1 == "acceptor" && $11 > 0 { found = 1 } END { exit !found }' "$tmp/status.out" ||
        problems+=("paxos status shows no foreign datagrams at the acceptors")
    grep -q "acceptor-count 3, learner-count 2, this acceptor with acceptor-count 5" "$tmp/acceptor1.err" ||
        problems+=("acceptor 1 logged no warning naming both settings")
    if ((${#problems[@]} == 0)); then
        echo "PASS $name (nothing learned; $(awk '$1 == "acceptor" { s += $11 } END { print s }' "$tmp/status.out") foreign datagrams counted at the acceptors)"
        scenario_passed
        return 0
    fi
    report_failure "$name" "$tmp/status.out" "${problems[@]}"
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    ((${#PID_OF[@]} == 0)) || { note "stopping the processes started by this test"; stop_all; }
    netns_delete
    [[ -n $tmp ]] && note "interrupted; files kept in $tmp"
    exit "$rc"
}

main() {
    parse_opts "$@"
    ensure_binary
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    local scenarios=("${ALL_SCENARIOS[@]}") where="a private network namespace per scenario"
    ((${#only[@]} == 0)) || scenarios=("${only[@]}")
    can_use_netns || where="the host's loopback, random ports"
    note "$n values per client; binary $PAXOS_BIN; $where"

    local name passed=0 failed=0 st
    for name in "${scenarios[@]}"; do
        st=0
        run_scenario "$name" || st=$?
        ((st == 0)) && passed=$((passed + 1))
        ((st == 1)) && failed=$((failed + 1))
    done
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

main "$@"

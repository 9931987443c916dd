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
#   catchup     learner 2 starts 1 s after client 1 and 1 s before client 2; it must print the
#               whole sequence, identical to learner 1 (run_catch_up.sh)
#   2acceptors  only acceptors 1 and 2 started: everything learned
#   1acceptor   only acceptor 1 started: no majority of three, so nothing may be learned
#   kill        acceptor 1 killed with -9 just after the clients start and restarted 1 s later
#               with the same id and state: everything learned
#   wipe        acceptor 1 killed with -9 mid-run ($WIPE_N values per client), its database
#               deleted, restarted: it must log that it recovers and has recovered, and everything
#               is learned exactly once, identically (window $WIPE_WINDOW s)
#   misconfig   acceptor-count 5 for acceptors 1-2 and learner 2, acceptor-count 3 for proposer 1,
#               learner 1 and the client: nothing may be learned, `paxos status` must count the
#               foreign datagrams and the acceptors' logs must name both settings
# Each scenario must learn everything within the window (Z = seconds from the first client's
# start until both learners had all X values; the whole window for 1acceptor); the files are then
# checked with scripts/check.sh (identical outputs, learned = proposed exactly once, learner
# databases).
#
# The binary is $PAXOS_BIN if set, else the repository's release build (built if missing, or
# always with --build).
# Prints one line per scenario, "PASS name (learned X/Y in Zs)" or "FAIL name: reason", then
# "N passed, M failed" alone on the last line. Exit status 0 only if no scenario failed.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

usage() { sed -n '/^# Usage:/,/^#   --build/s/^# \{0,1\}//p' "$0"; }

ALL_SCENARIOS=(plain loss catchup 2acceptors 1acceptor kill wipe misconfig)
n=1000
only=()
keep=0
client_delay=1
window=5
STAGE=1            # seconds between acceptors, learners and proposers (as in the classic run.sh)
CATCHUP_GAP=1      # client 1, this long, learner 2, this long, client 2 (run_catch_up.sh)
LOSS=0.1           # run_loss.sh's rate
KILL_AFTER_MS=200  # kill -9 of acceptor 1 this long after the clients start ...
RESTART_AFTER_MS=1000 # ... and its restart this long after the kill
POLL=0.1           # seconds between two looks at the learners' line counts
WIPE_N=150000      # values per client in the wipe scenario, so that the wipe lands mid-run
WIPE_KILL_AFTER_MS=300
WIPE_RESTART_AFTER_MS=300
WIPE_WINDOW=30
MISCONFIG_WAIT=4   # seconds the misconfigured cluster runs

parse_args() {
    need() { (($# >= 2)) || die "option $1 needs a value (see --help)"; }
    while (($#)); do
        case $1 in
            -n) need "$@"; n=$2; shift ;;
            --only) need "$@"; add_only_scenarios "$2"; shift ;;
            --client-delay) need "$@"; client_delay=$2; shift ;;
            --window) need "$@"; window=$2; shift ;;
            --keep) keep=1 ;;
            --build) FORCE_BUILD=1 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
        shift
    done
    is_posint "$n" || die "-n needs a positive integer, not '$n'"
    is_seconds "$client_delay" || die "--client-delay needs seconds, not '$client_delay'"
    is_posint "$window" || die "--window needs a positive whole number of seconds, not '$window'"
}

# --- one scenario --------------------------------------------------------------------------

tmp=""          # the current scenario's tests folder
start_dir=$PWD

# launch LABEL ROLE ID STDIN STDOUT: ./ROLE.sh ID CONF from inside the copied folder, as the
# course does (STDIN/STDOUT relative to it, e.g. ../prop1 and ../learn1); stderr to ../LABEL.err.
# A '+' before STDOUT appends to both (a restart).
launch() {
    local label=$1 role=$2 id=$3 in=$4 out=$5
    spawn "$label" "$in" "$out" "../$label.err" "./$role.sh" "$id" "$tmp/paxos.conf"
}

# run_scenario NAME: prints the scenario's PASS/FAIL/SKIP line; returns 0 pass, 1 fail, 2 skip.
run_scenario() {
    local name=$1 acceptors=3 loss=0 late=0 expect_empty=0 kill_test=0 wipe=0 n=$n window=$window
    local kill_after=$KILL_AFTER_MS restart_after=$RESTART_AFTER_MS
    case $name in
        loss) loss=$LOSS ;;
        catchup) late=1 ;;
        2acceptors) acceptors=2 ;;
        1acceptor) acceptors=1 expect_empty=1 ;;
        kill) kill_test=1 ;;
        wipe) kill_test=1 wipe=1 n=$((n > WIPE_N ? n : WIPE_N)) window=$WIPE_WINDOW
              kill_after=$WIPE_KILL_AFTER_MS restart_after=$WIPE_RESTART_AFTER_MS ;;
        misconfig) run_misconfig; return $? ;;
    esac

    if ! is_zero "$loss"; then
        if ((EUID != 0)); then
            echo "SKIP $name: packet loss needs root (a private network namespace with an iptables rule)"
            return 2
        elif ! command -v iptables >/dev/null || ! command -v ip >/dev/null; then
            echo "SKIP $name: iptables is not installed (apt-get install -y iptables)"
            return 2
        fi
    fi

    # set -e does not apply inside a function called with ||: critical steps check for themselves.
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/paxos-it-$name.XXXXXX") || die "mktemp failed"
    cp -R "$SCRIPTS_DIR" "$tmp/MyPaxos" || die "could not copy $SCRIPTS_DIR to $tmp/MyPaxos"

    # Network: a private namespace with the classic ports, or the host with random ones.
    local port_base=5000
    if can_use_netns && netns_create "paxos-it-$$-$name"; then
        :
    else
        netns_delete
        if ! is_zero "$loss"; then
            echo "FAIL $name: could not create a private network namespace for the loss rule"
            return 1
        fi
        # Random, below the ephemeral range (32768+), so parallel runs do not share ports.
        port_base=$((10000 + RANDOM % 15000))
    fi
    is_zero "$loss" || netns_add_loss 239.0.0.1 "$loss"

    write_config "$tmp/paxos.conf" 239.0.0.1 "$port_base" || die "could not write $tmp/paxos.conf"
    gen_values "$n" "$tmp/prop1" || die "could not write $tmp/prop1"
    gen_values "$n" "$tmp/prop2" || die "could not write $tmp/prop2"
    local expected=$((2 * n))

    # The classic timeline, from inside the copied folder.
    cd "$tmp/MyPaxos" || die "cd $tmp/MyPaxos failed"
    local i
    for ((i = 1; i <= acceptors; i++)); do launch "acceptor$i" acceptor "$i" /dev/null "../acceptor$i.log"; done
    sleep "$STAGE"
    launch learner1 learner 1 /dev/null ../learn1
    ((late)) || launch learner2 learner 2 /dev/null ../learn2
    sleep "$STAGE"
    launch proposer1 proposer 1 /dev/null ../proposer1.log
    launch proposer2 proposer 2 /dev/null ../proposer2.log
    sleep "$client_delay"
    local t0
    t0=$(now_ms)
    launch client1 client 1 ../prop1 ../client1.log
    if ((late)); then
        sleep "$CATCHUP_GAP"
        launch learner2 learner 2 /dev/null ../learn2
        sleep "$CATCHUP_GAP"
    fi
    launch client2 client 2 ../prop2 ../client2.log
    local end=$(($(now_ms) + window * 1000))

    # The window: look at the learners' progress every POLL seconds until SIGTERM time.
    local now c1 c2 done_ms="" killed=0 killed_mid=0 restarted=0 landed=""
    while :; do
        now=$(now_ms)
        c1=$(count_lines "$tmp/learn1")
        c2=$(count_lines "$tmp/learn2")
        if [[ -z $done_ms ]] && ((c1 >= expected && c2 >= expected)); then
            done_ms=$((now - t0))
        fi
        if ((kill_test && !killed && now - t0 >= kill_after)); then
            kill9 acceptor1
            killed=$now
            killed_mid=$((c1 < expected || c2 < expected))
            ((wipe)) && rm -f "$tmp"/paxos-state/acceptor-1.sqlite*
        fi
        if ((kill_test && killed && !restarted && now - killed >= restart_after)); then
            launch acceptor1 acceptor 1 /dev/null +../acceptor1.log
            restarted=1
            landed="restarted at $(fmt_s $((now - t0)))s with $c1 and $c2 of $expected learned"
        fi
        ((now < end)) || break
        sleep "$POLL"
    done
    stop_all
    local problems=()
    mapfile -t problems < <(exit_problems)
    forget_procs
    netns_delete
    cd "$start_dir"

    # Verdict.
    c1=$(count_lines "$tmp/learn1")
    c2=$(count_lines "$tmp/learn2")
    local least=$((c1 < c2 ? c1 : c2)) check_opts=() check_ok=1
    ((expect_empty)) && check_opts+=(--expect-empty)
    "$SCRIPTS_DIR/check.sh" "${check_opts[@]}" --state "$tmp/paxos-state" \
        --values "$tmp/prop1" "$tmp/prop2" --learned "$tmp/learn1" "$tmp/learn2" >"$tmp/check.out" 2>&1 ||
        check_ok=0
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
        local line
        while IFS= read -r line; do problems+=("${line#FAIL }"); done < <(grep '^FAIL' "$tmp/check.out")
        ((${#problems[@]} > 0)) || problems+=("check.sh failed")
    fi

    if ((${#problems[@]} == 0)); then
        local took=$((window * 1000))
        [[ -n $done_ms ]] && took=$done_ms
        echo "PASS $name (learned $least/$expected in $(fmt_s "$took")s${landed:+; acceptor 1 $landed})"
        ((keep)) && echo "     kept: $tmp"
        ((keep)) || rm -rf "$tmp"
        tmp=""
        return 0
    fi
    report_failure "$name" "$tmp/check.out" "${problems[@]}"
}

# report_failure NAME DETAILS PROBLEM...: the FAIL line, where the files are, and DETAILS indented.
report_failure() {
    local name=$1 details=$2
    shift 2
    local IFS=$'\x1f' joined
    joined="$*"
    echo "FAIL $name: ${joined//$'\x1f'/; }"
    echo "     kept: $tmp (learn1, learn2, prop1, *.err, paxos-state/)"
    sed 's/^/     | /' "$details"
    tmp=""
    return 1
}

# run_misconfig: the audit's misconfiguration, as a user could make it. Returns like run_scenario.
run_misconfig() {
    local name=misconfig
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/paxos-it-$name.XXXXXX") || die "mktemp failed"
    cp -R "$SCRIPTS_DIR" "$tmp/MyPaxos" || die "could not copy $SCRIPTS_DIR to $tmp/MyPaxos"
    local port_base=5000
    if can_use_netns && netns_create "paxos-it-$$-$name"; then :; else
        netns_delete
        port_base=$((10000 + RANDOM % 15000))
    fi
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
    stop_all
    local problems=()
    mapfile -t problems < <(exit_problems | grep -v '^client1 ')
    forget_procs
    netns_delete
    cd "$start_dir"
    local c1 c2
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
        ((keep)) || rm -rf "$tmp"
        tmp=""
        return 0
    fi
    report_failure "$name" "$tmp/status.out" "${problems[@]}"
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if ((${#PID_OF[@]} > 0)); then
        note "stopping the processes started by this test"
        stop_all
    fi
    netns_delete
    [[ -n $tmp ]] && note "interrupted; files kept in $tmp"
    exit "$rc"
}

main() {
    parse_args "$@"
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
        case $st in
            0) passed=$((passed + 1)) ;;
            1) failed=$((failed + 1)) ;;
        esac
    done
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

main "$@"

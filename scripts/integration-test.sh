#!/usr/bin/env bash
# Runs the course's classic scenarios the way the course's own scripts do: the launchers COPIED into a
# temporary "tests folder" (as MyPaxos/), started from inside it with `./acceptor.sh 1 /abs/path/paxos.conf`,
# clients reading ../prop1, learners writing ../learn1, every process stopped with SIGTERM a fixed window
# after the clients started. The scenarios are Swift (Tests/paxosTests/CourseScenarioTests.swift, which
# lists and explains them): this script builds what they need and runs them with `swift test`.
#
# Usage: scripts/integration-test.sh [-n N] [--only NAME[,NAME...]] [--client-delay S]
#                                    [--window S] [--keep] [--build]
#
#   -n N              values per client (default 1000; the handout uses 100, 1000 and 10000)
#   --only NAMES      run only these scenarios (comma-separated; the option may be repeated): plain loss
#                     lossload catchup 2acceptors 1acceptor kill wipe bigvalue misconfig
#   --client-delay S  seconds between the proposers' and the clients' start (default 1; the
#                     classic run.sh waits 10)
#   --window S        seconds between the (last) client's start and SIGTERM (default 5, classic)
#   --keep            keep every scenario's folder (failed ones are always kept)
#   --build           run `swift build -c release --product paxos` first even if a binary exists
#
# As root each scenario runs in a private network namespace it creates and removes (the loss scenarios
# add an iptables rule inside it); otherwise on the host's loopback with random ports, and the loss
# scenarios print SKIP. The binary under test is $PAXOS_BIN if set, else the repository's release build
# (built if missing or older than the sources, or always with --build); `swift test` builds the test
# bundle (debug) if needed. Prints one line per scenario, "PASS name (learned X/Y in Zs)", "SKIP name: why"
# or "FAIL name: reason" (with where its files were kept), then "N passed, M failed" alone on the last
# line. Exit status 0 only if no scenario failed.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

n=1000 only="" keep=0 client_delay=1 window=5
add_only() { only+=${only:+,}$1; }
USAGE_END=--build
declare -A FLAGS=([--keep]="keep 1" [--build]="FORCE_BUILD 1")
declare -A OPTS=(
    [-n]="n is_posint needs a positive integer, not '%s'"
    [--only]="only add_only"
    [--client-delay]="client_delay is_seconds needs seconds, not '%s'"
    [--window]="window is_posint needs a positive whole number of seconds, not '%s'")

main() {
    parse_opts "$@"
    ensure_binary
    local where="a private network namespace per scenario" log status=0
    can_use_netns || where="the host's loopback, random ports"
    note "$n values per client; binary $PAXOS_BIN; $where"
    log=$(mktemp "${TMPDIR:-/tmp}/paxos-it.XXXXXX")
    (cd "$REPO_ROOT" && PAXOS_COURSE_SCENARIOS=1 PAXOS_COURSE_VALUES=$n PAXOS_COURSE_ONLY=$only \
        PAXOS_COURSE_CLIENT_DELAY=$client_delay PAXOS_COURSE_WINDOW=$window PAXOS_COURSE_KEEP=$keep \
        swift test --filter 'paxosTests.CourseScenarioTests') >"$log" 2>&1 || status=$?
    grep -E '^(PASS|FAIL|SKIP) |^     ' "$log" || :
    local passed failed
    passed=$(grep -c '^PASS ' "$log" || :) failed=$(grep -c '^FAIL ' "$log" || :)
    if ((status != 0 && failed == 0)); then # a build error or a refused setting: show swift test's own words
        local why
        why=$(grep -A1 'recorded an issue' "$log" | sed -n 's/^↳ //p' | grep -v '^///' | sort -u | head -n 5)
        [[ -n $why ]] || why=$(grep -E 'error:' "$log" | sort -u | head -n 5)
        note "swift test failed (status $status) before any scenario could fail (its output: $log)${why:+:}"
        [[ -z $why ]] || printf '%s\n' "$why" >&2
        failed=1
    else
        rm -f "$log"
    fi
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

main "$@"

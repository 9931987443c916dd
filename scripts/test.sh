#!/usr/bin/env bash
# The project's test command (README, .ci/run): builds the release binary, then unit tests and the
# simulator's 10,000 schedules (swift test, which also sprays hostile datagrams at in-process clusters,
# unkeyed and keyed, and runs the release binary for its refusals and, as root, the full-disk acceptor and
# the several-hosts test), then, against the same binary, the course-timeline integration tests (Swift too, run
# apart by scripts/integration-test.sh), then the
# example application's package (Examples/replicated-kv) and its tests.
# PAXOS_SIM_SCHEDULES overrides the schedule count; -n N sets integration values per client.
set -euo pipefail
cd "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"

swift build -c release --product paxos
export PAXOS_BIN="$PWD/.build/release/paxos"
swift test
status=0
scripts/integration-test.sh "$@" || status=1
# The library as an application uses it: Examples/replicated-kv, its own package depending on this one by path
# (its first build compiles Hummingbird, a few minutes).
(cd Examples/replicated-kv && swift build --build-tests && swift test --skip-build) || status=1
exit $status

#!/usr/bin/env bash
# The project's test command (README, .ci/run): unit tests and the simulator's 10,000 schedules
# (swift test, which also sprays hostile datagrams at in-process clusters, unkeyed and keyed, and, as root,
# fills up an acceptor's disk), then, against the release build, the course-timeline integration tests and
# the several-hosts test.
# PAXOS_SIM_SCHEDULES overrides the schedule count; -n N sets integration values per client.
set -euo pipefail
cd "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"

swift test
swift build -c release --product paxos
export PAXOS_BIN="$PWD/.build/release/paxos"
status=0
scripts/integration-test.sh "$@" || status=1
scripts/multihost-test.sh || status=1
exit $status

#!/usr/bin/env bash
# The project's test command (README, .ci/run): builds the release binaries, runs the simulator's 10,000
# random schedules in the release build (paxos-fuzz simulate: the same harness and checks as
# SimulatorTests.randomSchedules, about 8 times faster than the debug test binary), then swift test (unit
# tests, 500 more schedules from seed 10,001 in debug, hostile datagrams sprayed at in-process clusters, the
# release binary's refusals and, as root, the full-disk acceptor and the several-hosts test), then, against
# the same binary, the course-timeline integration tests (Swift too, run apart by
# scripts/integration-test.sh), then the example application's package (Examples/replicated-kv) and its tests.
# PAXOS_SIM_SCHEDULES sets the release run's schedule count; -n N sets integration values per client.
set -euo pipefail
cd "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"

swift build -c release --product paxos
swift build -c release --product paxos-fuzz
export PAXOS_BIN="$PWD/.build/release/paxos"
.build/release/paxos-fuzz simulate "${PAXOS_SIM_SCHEDULES:-10000}"
PAXOS_SIM_SCHEDULES=500 PAXOS_SIM_BASE=10001 swift test
status=0
scripts/integration-test.sh "$@" || status=1
# The library as an application uses it: Examples/replicated-kv, its own package depending on this one by path.
# It builds into this package's build directory, so that what both compile (SwiftNIO, swift-crypto, the
# library) is compiled once; only Hummingbird and its own dependencies are new (a few minutes the first time).
(cd Examples/replicated-kv && swift build --build-tests --scratch-path ../../.build \
    && swift test --skip-build --scratch-path ../../.build) || status=1
exit $status

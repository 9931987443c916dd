#!/usr/bin/env bash
# Benchmarks (BENCHMARKS.md). The work is `paxos-bench` (Sources/paxos-bench); this script only makes
# the private network namespace it runs in (multicast never leaves it; root needed), finds or builds
# the binaries, and hands over.
#
# Usage: scripts/bench.sh [run] [--closed] [--rate R] [--classic] [-n N] [-d SECONDS] [--out DIR]
#                         [--classic-n N] [--timeout T] [--no-limits] [--no-plot] [--keep-state]
#                         [--profile] [--synchronous full|normal|off] [--value-bytes N] [--loss P]
#                         [--set 'KEY VALUE'] [--build]
#        scripts/bench.sh memory [-n VALUES_PER_CLIENT] [--out DIR] [--build]
#        scripts/bench.sh history [-n INSTANCES] [--value-bytes N] [--out DIR] [--build]
#
#   run (default)   throughput and latency: closed loop (-n values per client, the default mode),
#                   open loop (--rate R values/s in total for -d seconds) and the classic course
#                   timeline (--classic), with the machine's limits measured in the same invocation
#   memory          resident memory of every process over a long run
#   history         a learner catching up a long history, an acceptor reloading it
#   --loss P        also run every selected mode with a fraction P of the cluster's datagrams dropped
#                   (iptables inside the namespace only), named closed-loss, classic-loss, open-R-loss
#   --set 'K V'     a line added to the cluster's paxos.conf (A/B comparisons, e.g. --set 'flow-lead 0')
#   --build         build the release binaries even if they exist
# `paxos-bench run --help` (memory, history) explains every option. The binaries are $PAXOS_BIN and
# $PAXOS_BENCH_BIN (default: paxos-bench beside $PAXOS_BIN) if set, else the repository's release
# build (built if missing). Exit status: paxos-bench's (run: 0 when every value reached both learners
# and every process behaved, 1 otherwise), 2 on a usage error.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

command=run
case ${1:-} in run | memory | history) command=$1; shift ;; esac
args=() help=0
for arg in "$@"; do
    case $arg in
        --build) FORCE_BUILD=1 ;;
        -h | --help) help=1 ;;
        *) args+=("$arg") ;;
    esac
done
if ((help)) && [[ -z ${PAXOS_BIN:-} && ! -x $REPO_ROOT/.build/release/paxos-bench ]]; then # help never builds
    sed -n '/^# Usage:/,/^# and every process/s/^# \{0,1\}//p' "$0"
    echo "(paxos-bench $command's own options: build it first, swift build -c release --product paxos-bench, then --help again)"
    exit 0
fi
if [[ -z ${PAXOS_BIN:-} && ( ! -x $REPO_ROOT/.build/release/paxos-bench || ${FORCE_BUILD:-0} == 1 ) ]]; then
    note "building the release binaries (swift build -c release --product paxos-bench, then paxos)"
    (cd "$REPO_ROOT" && swift build -c release --product paxos-bench && swift build -c release --product paxos) >&2 ||
        die "build failed"
fi
ensure_binary
BENCH_BIN=${PAXOS_BENCH_BIN:-$(dirname -- "$PAXOS_BIN")/paxos-bench}
[[ -x $BENCH_BIN ]] || die "no paxos-bench at $BENCH_BIN: build it (swift build -c release --product paxos-bench) or set PAXOS_BENCH_BIN"
if ((help)); then
    sed -n '/^# Usage:/,/^# and every process/s/^# \{0,1\}//p' "$0"
    exec "$BENCH_BIN" "$command" --help
fi
can_use_netns || die "needs root and iproute2: the cluster runs in a private network namespace (try sudo)"
trap 'netns_delete' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
netns_create "paxos-bench-$$" || die "could not create a network namespace"
rc=0
PAXOS_BENCH_NETNS=$NETNS "${NS_EXEC[@]}" "$BENCH_BIN" "$command" --scripts "$SCRIPTS_DIR" "${args[@]}" || rc=$?
exit "$rc"

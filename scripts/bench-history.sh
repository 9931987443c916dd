#!/usr/bin/env bash
# Kept for the commands BENCHMARKS.md quotes: the same as scripts/bench.sh history (see paxos-bench history --help).
exec "$(dirname -- "${BASH_SOURCE[0]}")/bench.sh" history "$@"

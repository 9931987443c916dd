#!/usr/bin/env bash
# Kept for the commands BENCHMARKS.md quotes: the same as scripts/bench.sh memory (see paxos-bench memory --help).
exec "$(dirname -- "${BASH_SOURCE[0]}")/bench.sh" memory "$@"

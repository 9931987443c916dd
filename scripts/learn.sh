#!/usr/bin/env bash
# The handout's name for learner.sh. Starts a Paxos learner: learned values on stdout, one per line; logs on stderr.
# Usage: learn.sh <id> <config> [--state DIR] [--log-level LEVEL]
# The binary is found as described in lib/find-bin.sh (PAXOS_BIN, .paxos-bin, the repo's release build, PATH).
set -euo pipefail
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/find-bin.sh"
paxos_launch learner "$@"

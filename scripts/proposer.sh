#!/usr/bin/env bash
# Starts a Paxos proposer.
# Usage: proposer.sh <id> <config> [--state DIR] [--log-level LEVEL]
# The binary is found as described in lib/find-bin.sh (PAXOS_BIN, .paxos-bin, the repo's release build, PATH).
set -euo pipefail
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/find-bin.sh"
paxos_launch proposer "$@"

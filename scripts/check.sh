#!/usr/bin/env bash
# The course's checks on a finished run: `paxos check` (see `paxos check --help` for the tests).
# Usage: check.sh [--expect-empty] [LOGDIR]         (LOGDIR as scripts/run.sh leaves it, default logs)
#        check.sh [--expect-empty] [--state DIR] --values FILE... --learned FILE...
set -euo pipefail
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/find-bin.sh"
bin=$(paxos_find_bin) || exit 127
exec "$bin" check "$@"

#!/usr/bin/env bash
# The course's checks on a finished run: `paxos check` (see `paxos check --help` for the tests).
# Usage: check.sh [--expect-empty] [LOGDIR]         (LOGDIR as scripts/run.sh leaves it, default logs:
#                                                    ./logs, else the logs/ scripts/run.sh writes)
#        check.sh [--expect-empty] [--state DIR] --values FILE... --learned FILE...
set -euo pipefail
here=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
. "$here/lib/find-bin.sh"
bin=$(paxos_find_bin) || exit 127
# No folder named and none here: the one scripts/run.sh fills, wherever this is run from.
if [[ $# -eq 0 || ($# -eq 1 && $1 == --expect-empty) ]] && [[ ! -d logs && -d $here/../logs ]]; then
    set -- "$@" "$here/../logs"
fi
exec "$bin" check "$@"

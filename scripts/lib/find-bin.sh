# shellcheck shell=bash
# Finds the `paxos` executable for the launchers (acceptor.sh, proposer.sh, learner.sh, learn.sh,
# client.sh, check.sh). Sourced, never run; bash 3.2 features only (macOS's /bin/bash).
# First hit wins ("the launchers' folder" is where acceptor.sh physically is):
#   1. $PAXOS_BIN, if set. A value that is not an executable file is an error, not skipped.
#   2. The file .paxos-bin in the launchers' folder: its first line is the binary's path (absolute, or
#      relative to that folder). scripts/install-launchers.sh writes it when it copies the launchers
#      into a course tests folder.
#   3. An executable named `paxos` in the launchers' folder (a binary copied next to them).
#   4. ../.build/release/paxos relative to the launchers' folder (the repository's release build).
#   5. `paxos` on PATH.
# Otherwise one line on stderr and status 127 (what a shell returns for "command not found").

# The launchers' folder, symlinks resolved; CDPATH cleared so that `cd` never echoes (the learner's
# stdout is its output file).
paxos_scripts_dir() { (CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P); }

paxos_is_bin() { [ -f "$1" ] && [ -x "$1" ] && printf '%s\n' "$1"; }

# Prints the path of the binary on stdout, or an error on stderr and returns 127.
paxos_find_bin() {
    local dir cand=""
    dir=$(paxos_scripts_dir) || return 127
    if [ -n "${PAXOS_BIN:-}" ]; then
        paxos_is_bin "$PAXOS_BIN" && return 0
        echo "paxos: PAXOS_BIN=$PAXOS_BIN is not an executable file" >&2
        return 127
    fi
    if [ -f "$dir/.paxos-bin" ]; then
        IFS= read -r cand <"$dir/.paxos-bin" || true # fails on a last line without newline, but reads it
        case $cand in /*) ;; *) cand="$dir/$cand" ;; esac
        paxos_is_bin "$cand" && return 0
        echo "paxos: $dir/.paxos-bin names '$cand', which is not an executable file: build it (swift build -c release --product paxos) or run scripts/install-launchers.sh again" >&2
        return 127
    fi
    paxos_is_bin "$dir/paxos" || paxos_is_bin "$dir/../.build/release/paxos" && return 0
    cand=$(command -v paxos 2>/dev/null) && printf '%s\n' "$cand" && return 0
    echo "paxos: binary not found: build it (swift build -c release --product paxos), set PAXOS_BIN, or write its path to $dir/.paxos-bin" >&2
    return 127
}

# paxos_launch ROLE ID CONFIG [OPTIONS...]: replaces the launcher with `paxos ROLE ID CONFIG ...`; exec keeps
# the PID and puts the config path in the real process's argv (the course's `pkill -f <config path>`).
paxos_launch() {
    local role=$1 bin
    shift
    if [ $# -lt 2 ]; then
        echo "usage: ${0##*/} <id> <config> [paxos $role options: --state DIR, --log-level LEVEL]" >&2
        exit 2
    fi
    bin=$(paxos_find_bin) || exit 127
    # In the course's terminal only warnings and errors by default (PAXOS_LOG_LEVEL or --log-level for
    # more); our own scripts export PAXOS_LOG_LEVEL=info for their log files.
    case " $* " in *" --log-level "* | *" --log-level="*) exec "$bin" "$role" "$@" ;; esac
    exec "$bin" "$role" "$@" --log-level "${PAXOS_LOG_LEVEL:-warning}"
}

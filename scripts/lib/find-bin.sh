# shellcheck shell=bash
# Finds the `paxos` executable for the role launchers (acceptor.sh, proposer.sh, learner.sh,
# learn.sh, client.sh). Sourced, never run. Kept to bash 3.2 features so the launchers also
# work with macOS's /bin/bash.
#
# Lookup order, first hit wins ("the launchers' folder" is where acceptor.sh physically is):
#   1. $PAXOS_BIN, if set. A value that is not an executable file is an error, not skipped.
#   2. The file .paxos-bin in the launchers' folder: its first line is the binary's path
#      (absolute, or relative to that folder). Use it when you COPY the launchers into a
#      course tests folder, where no repository surrounds them:
#          cp -R scripts tests/MyPaxos
#          echo "$PWD/.build/release/paxos" > tests/MyPaxos/.paxos-bin
#   3. An executable named `paxos` in the launchers' folder (a binary copied next to them).
#   4. ../.build/release/paxos relative to the launchers' folder: the launchers live in
#      <repo>/scripts/, so this is the repository's release build.
#   5. `paxos` on PATH.
# Otherwise one line on stderr and status 127 (what a shell returns for "command not found").

# The launchers' folder: the parent of this lib/ folder, with symlinks resolved.
# CDPATH is cleared so that `cd` never echoes a path (the learner's stdout is its output file).
paxos_scripts_dir() {
    (CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
}

# Prints the path of the binary on stdout, or an error on stderr and returns 127.
paxos_find_bin() {
    local dir cand=""
    dir=$(paxos_scripts_dir) || return 127

    if [ -n "${PAXOS_BIN:-}" ]; then
        if [ -f "$PAXOS_BIN" ] && [ -x "$PAXOS_BIN" ]; then
            printf '%s\n' "$PAXOS_BIN"
            return 0
        fi
        echo "paxos: PAXOS_BIN=$PAXOS_BIN is not an executable file" >&2
        return 127
    fi

    if [ -f "$dir/.paxos-bin" ]; then
        # `read` fails on a last line without newline but still fills the variable.
        IFS= read -r cand <"$dir/.paxos-bin" || true
        case $cand in
            /*) ;;
            *) cand="$dir/$cand" ;;
        esac
        if [ -f "$cand" ] && [ -x "$cand" ]; then
            printf '%s\n' "$cand"
            return 0
        fi
        echo "paxos: $dir/.paxos-bin names '$cand', which is not an executable file" >&2
        return 127
    fi

    for cand in "$dir/paxos" "$dir/../.build/release/paxos"; do
        if [ -f "$cand" ] && [ -x "$cand" ]; then
            printf '%s\n' "$cand"
            return 0
        fi
    done

    if cand=$(command -v paxos 2>/dev/null); then
        printf '%s\n' "$cand"
        return 0
    fi

    echo "paxos: binary not found: build it (swift build -c release --product paxos), set PAXOS_BIN, or write its path to $dir/.paxos-bin" >&2
    return 127
}

# paxos_launch ROLE ID CONFIG [OPTIONS...]: replaces the launcher with `paxos ROLE ID CONFIG ...`.
# `exec` keeps the PID and puts the config path in the real process's argv, so the course's
# `pkill -f <config path>` and our kill-by-PID both reach the process itself.
paxos_launch() {
    local role=$1 bin
    shift
    if [ $# -lt 2 ]; then
        echo "usage: ${0##*/} <id> <config> [paxos $role options: --state DIR, --log-level LEVEL]" >&2
        exit 2
    fi
    bin=$(paxos_find_bin) || exit 127
    exec "$bin" "$role" "$@"
}

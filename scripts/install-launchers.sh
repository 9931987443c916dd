#!/usr/bin/env bash
# Installs the course launchers into a course tests folder, ready for its run.sh: the five launchers,
# lib/find-bin.sh, and .paxos-bin naming this repository's release binary (built first if missing).
# Copies nothing else, and running it again (after a rebuild, or moving the repository) just refreshes
# the same files.   Usage: scripts/install-launchers.sh <tests folder>/<name>   (e.g. ../tests/MyPaxos)
set -euo pipefail
src=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
bin=$(dirname -- "$src")/.build/release/paxos
[[ $# == 1 && -n $1 ]] || { echo "usage: ${0##*/} <course tests folder>/<name>, e.g. ../tests/MyPaxos" >&2; exit 2; }
if [[ ! -x $bin ]]; then
    echo "install-launchers.sh: building $bin (swift build -c release --product paxos, about 2 minutes)" >&2
    (cd "$src/.." && swift build -c release --product paxos) >&2
fi
mkdir -p "$1/lib"
cp "$src"/{acceptor,proposer,learner,learn,client}.sh "$1/"
cp "$src/lib/find-bin.sh" "$1/lib/"
echo "$bin" >"$1/.paxos-bin"
echo "launchers in $1, running $bin"

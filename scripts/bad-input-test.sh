#!/usr/bin/env bash
# Bad input: every case must end the process with exit status non-zero, exactly one line on standard
# error starting with "paxos: " that says what is wrong, nothing on standard output, and no data touched
# (the config and database files keep their checksums, no file or folder appears where none should).
#
#   scripts/bad-input-test.sh [-v] [--keep] [--only REGEX]
#
#   -v            also print each refusal's error line under its PASS line
#   --only REGEX  run only the cases whose name matches REGEX (bash =~)
#   --keep        keep the temporary folder (logs, databases) and print its path
#
# Uses $PAXOS_BIN (default: the repository's .build/release/paxos). Prints PASS/FAIL/SKIP per case and
# "N passed, M failed"; exits 1 if any case failed (2 if the test itself cannot run). The database,
# mount and disk-full cases need root: every process runs inside a private network namespace
# (multicast on its loopback only), and mounts (read-only binds, the tiny tmpfs of the disk-full
# acceptor) exist only inside private mount namespaces (unshare -m), so the host's mounts are never
# touched. Without root those cases SKIP.
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

VERBOSE=0
KEEP=0
ONLY=""
while (($#)); do
    case $1 in
    -v) VERBOSE=1 ;;
    --keep) KEEP=1 ;;
    --only)
        (($# >= 2)) || die "--only needs a regex"
        ONLY=$2
        shift
        ;;
    -h | --help)
        sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$1' (try --help)" ;;
    esac
    shift
done

PAXOS_BIN=${PAXOS_BIN:-$REPO_ROOT/.build/release/paxos}
[[ -x $PAXOS_BIN ]] || die "no paxos binary at $PAXOS_BIN (build it, or set PAXOS_BIN)"
PAXOS_BIN=$(CDPATH='' cd -P -- "$(dirname -- "$PAXOS_BIN")" && pwd -P)/$(basename -- "$PAXOS_BIN")

PASSED=0
FAILED=0
T=$(mktemp -d "${TMPDIR:-/tmp}/paxos-bad-input.XXXXXX")
chmod 755 "$T" # the "unreadable config" case runs as nobody, who must reach the file to be refused it
mkdir -p "$T/out"

cleanup() {
    local st=$?
    trap - EXIT INT TERM
    stop_all 2>/dev/null || true
    netns_delete 2>/dev/null || true
    if ((KEEP)); then note "kept $T"; else rm -rf -- "$T"; fi
    exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() {
    PASSED=$((PASSED + 1))
    echo "PASS $1"
    if ((VERBOSE)) && [[ -n ${2:-} ]]; then echo "     $2"; fi
}
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL $1: $2"
}
skip() { echo "SKIP $1: $2"; }
wanted() { [[ -z $ONLY || $1 =~ $ONLY ]]; }

IS_ROOT=0
((EUID == 0)) && IS_ROOT=1
# Every paxos process runs inside our namespace when root: if one wrongly started, its multicast
# would stay on the namespace's loopback.
RUN=()
if ((IS_ROOT)) && command -v ip >/dev/null && command -v unshare >/dev/null; then
    netns_create "paxos-badinput-$$" || die "could not create network namespace paxos-badinput-$$"
    RUN=("${NS_EXEC[@]}")
else
    IS_ROOT=0
fi

# snapshot DIR: names, types, modes and sha256 of everything under DIR except *.lock files (a refused
# start may leave its empty lock file: it holds no data). "absent" if DIR does not exist.
snapshot() {
    [[ -e $1 ]] || {
        echo absent
        return
    }
    (
        cd "$1"
        find . ! -name '*.lock' -printf '%y %m %p\n' | LC_ALL=C sort
        find . -type f ! -name '*.lock' -readable -exec sha256sum {} + | LC_ALL=C sort
        find . -type f ! -name '*.lock' ! -readable -printf 'unreadable %p\n' | LC_ALL=C sort
    )
}

# refused NAME PHRASE DIR CMD...: runs CMD (stdin /dev/null, 10 s at most) and checks the refusal:
# exit status non-zero, stderr exactly one line starting "paxos: " and matching the extended regex
# PHRASE (case-insensitive) and free of control characters, stdout empty, DIR's snapshot unchanged.
refused() {
    local name=$1 phrase=$2 dir=$3
    shift 3
    local out=$T/out/$name before after rc=0 lines line
    before=$(snapshot "$dir")
    timeout -k 2 10 "$@" </dev/null >"$out.stdout" 2>"$out.stderr" || rc=$?
    after=$(snapshot "$dir")
    lines=$(wc -l <"$out.stderr")
    line=$(head -n 1 "$out.stderr")
    if ((rc == 0)); then
        fail "$name" "exit status 0 (stderr: $(head -c 200 "$out.stderr" | tr '\n' '|'))"
    elif ((rc == 124 || rc == 137)); then
        fail "$name" "still running after 10 s (it did not refuse)"
    elif [[ -s $out.stdout ]]; then
        fail "$name" "standard output not empty: $(head -c 120 "$out.stdout" | tr '\n' '|')"
    elif ((lines != 1)) || [[ -n $(tail -c 1 "$out.stderr") ]]; then
        fail "$name" "standard error is not exactly one line: $(head -c 300 "$out.stderr" | tr '\n' '|')"
    elif [[ $line != "paxos: "* ]]; then
        fail "$name" "error line does not start with 'paxos: ': $line"
    elif LC_ALL=C grep -q '[[:cntrl:]]' <<<"$line"; then
        fail "$name" "error line holds control characters: $(cat -v <<<"$line")"
    elif ! grep -qiE -- "$phrase" <<<"$line"; then
        fail "$name" "error line does not match /$phrase/: $line"
    elif [[ $before != "$after" ]]; then
        fail "$name" "files changed under $dir: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -n 3 | tr '\n' '|')"
    else
        pass "$name" "exit $rc: $line"
    fi
}

# ---------------------------------------------------------------------------------------------
# The configuration file.

ROLES=$'clients   239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\nlearners  239.0.0.1 8000'

# config_case NAME PHRASE CONTENT: writes CONTENT (printf %b) as the config of its own folder and
# expects acceptor 1 to refuse it without creating paxos-state/ beside it.
config_case() {
    local name=$1 phrase=$2 dir=$T/config/$1
    wanted "$name" || return 0
    mkdir -p "$dir"
    printf '%b' "$3" >"$dir/paxos.conf"
    refused "$name" "$phrase" "$dir" "${RUN[@]}" "$PAXOS_BIN" acceptor 1 "$dir/paxos.conf"
}

if wanted config-missing; then
    mkdir -p "$T/config/config-missing"
    refused config-missing "cannot read config file '.*paxos.conf': no such file or directory" "$T/config/config-missing" \
        "${RUN[@]}" "$PAXOS_BIN" acceptor 1 "$T/config/config-missing/paxos.conf"
fi
if wanted config-is-a-directory; then
    mkdir -p "$T/config/config-is-a-directory/paxos.conf"
    refused config-is-a-directory "cannot read config file '.*paxos.conf': it is a directory" "$T/config/config-is-a-directory" \
        "${RUN[@]}" "$PAXOS_BIN" acceptor 1 "$T/config/config-is-a-directory/paxos.conf"
fi
if wanted config-unreadable; then
    # Root reads a chmod 000 file anyway, so this case runs the binary as nobody.
    d=$T/config/config-unreadable
    mkdir -p "$d"
    printf '%s\n' "$ROLES" >"$d/paxos.conf"
    chmod 000 "$d/paxos.conf"
    if ((EUID != 0)); then
        refused config-unreadable "cannot read config file '.*paxos.conf': permission denied" "$d" "$PAXOS_BIN" acceptor 1 "$d/paxos.conf"
    elif command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups -- test -x "$PAXOS_BIN"; then
        refused config-unreadable "cannot read config file '.*paxos.conf': permission denied" "$d" \
            "${RUN[@]}" setpriv --reuid=65534 --regid=65534 --clear-groups -- "$PAXOS_BIN" acceptor 1 "$d/paxos.conf"
    else
        skip config-unreadable "root reads any file, and user nobody (setpriv) cannot run $PAXOS_BIN"
    fi
fi
config_case config-empty "missing line 'clients" ''
config_case config-binary-garbage "not a text file|line" '\x00\xff\xfe\x80garbage\x01\x02\n\xc3\x28\n'
config_case config-control-characters "line 5: unknown setting '.*\[31mcolour" "$ROLES\n\x1b[31mcolour\x07\x01 1\n"
config_case config-two-fields "line 2: expected 'proposers <multicast address> <port>'" \
    'clients 239.0.0.1 5000\nproposers 239.0.0.1\nacceptors 239.0.0.1 7000\nlearners 239.0.0.1 8000\n'
config_case config-unknown-setting "line 5: unknown setting 'acceptor-cuont'" "$ROLES\nacceptor-cuont 3\n"
config_case config-not-multicast "line 3: '10.0.0.1' is not an IPv4 multicast address" \
    'clients 239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 10.0.0.1 7000\nlearners 239.0.0.1 8000\n'
config_case config-bad-address "line 1: '239.0.0' is not an IPv4 multicast address" \
    'clients 239.0.0 5000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\nlearners 239.0.0.1 8000\n'
config_case config-port-0 "line 4: '0' is not a port" \
    'clients 239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\nlearners 239.0.0.1 0\n'
config_case config-port-70000 "line 1: '70000' is not a port" \
    'clients 239.0.0.1 70000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\nlearners 239.0.0.1 8000\n'
config_case config-port-abc "line 2: 'abc' is not a port" \
    'clients 239.0.0.1 5000\nproposers 239.0.0.1 abc\nacceptors 239.0.0.1 7000\nlearners 239.0.0.1 8000\n'
config_case config-missing-role "missing line 'learners <multicast address> <port>'" \
    'clients 239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\n'
config_case config-duplicate-line "line 5: 'acceptors' is set twice" "$ROLES\nacceptors 239.0.0.2 7001\n"
config_case config-duplicate-setting "line 6: 'ttl' is set twice" "$ROLES\nttl 1\nttl 2\n"
config_case config-acceptor-count-0 "line 5: 'acceptor-count' must be a whole number in 1-64, not '0'" "$ROLES\nacceptor-count 0\n"
config_case config-ttl-300 "line 5: 'ttl' must be a whole number in 0-255, not '300'" "$ROLES\nttl 300\n"
config_case config-synchronous-maybe "line 5: 'synchronous' must be full, normal or off, not 'maybe'" "$ROLES\nsynchronous maybe\n"
config_case config-interface-bad "line 5: '300.1.1.1' is not an IPv4 address" "$ROLES\ninterface 300.1.1.1\n"
config_case config-setting-no-value "line 5: expected 'window <value>'" "$ROLES\nwindow\n"

# ---------------------------------------------------------------------------------------------
# The command line. Each runs against a valid config in its own folder: nothing may appear there.

CMD_DIR=$T/cmdline
mkdir -p "$CMD_DIR"
printf '%s\n' "$ROLES" >"$CMD_DIR/paxos.conf"
cmdline_case() {
    local name=$1 phrase=$2
    shift 2
    wanted "$name" || return 0
    refused "$name" "$phrase" "$CMD_DIR" "${RUN[@]}" "$PAXOS_BIN" "$@"
}
C=$CMD_DIR/paxos.conf
cmdline_case role-unknown "unknown role 'fooer': expected acceptor, proposer, learner or client" fooer 1 "$C"
cmdline_case id-non-numeric "'x' is invalid for '<id>': the id must be a whole number" acceptor x "$C"
cmdline_case id-zero "'0' is invalid for '<id>': the id must be a whole number" acceptor 0 "$C"
cmdline_case id-negative "the id must be a whole number .*'-1'" learner -1 "$C"
cmdline_case id-too-large "'99999999999' is invalid for '<id>'" proposer 99999999999 "$C"
cmdline_case args-none "missing role: expected acceptor, proposer, learner or client" # a bare `paxos`
cmdline_case args-missing-id "missing expected argument '<id>'" acceptor
cmdline_case args-missing-config "missing expected argument '<config>'" client 1
cmdline_case args-extra "unexpected argument" acceptor 1 "$C" surplus
cmdline_case option-unknown "unknown option '--frobnicate'" acceptor 1 "$C" --frobnicate
cmdline_case log-level-bad "'loud' is invalid for '--log-level <log-level>'.*trace, debug" acceptor 1 "$C" --log-level loud
cmdline_case acceptor-beyond-count "acceptor id 4 is beyond acceptor-count 3" acceptor 4 "$C"

# ---------------------------------------------------------------------------------------------
# Databases and the state folder (root: namespaces and mounts).

DB_CASES=(db-corrupt-random db-corrupt-pages db-newer-schema db-wrong-kind db-foreign-sqlite db-read-only
    state-not-writable state-is-a-file)
DISK_FULL_CASES=(disk-full-acceptor-exit disk-full-db-valid disk-full-no-unpersisted-send disk-full-cluster-decides)
any_wanted() {
    local name
    for name in "$@"; do wanted "$name" && return 0; done
    return 1
}
if ! ((IS_ROOT)); then
    for name in "${DB_CASES[@]}" "${DISK_FULL_CASES[@]}"; do
        if wanted "$name"; then skip "$name" "needs root (private network and mount namespaces)"; fi
    done
elif any_wanted "${DB_CASES[@]}"; then
    command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing (apt-get install sqlite3)"
    DB=$T/db
    mkdir -p "$DB/seed"
    printf '%s\n' "$ROLES" >"$DB/paxos.conf"

    # Real databases, made by the binary: an acceptor and a learner start (inside the namespace),
    # create and migrate their files, and stop on SIGTERM.
    for role in acceptor learner; do
        spawn "seed-$role" /dev/null "$T/out/seed-$role.stdout" "$T/out/seed-$role.stderr" \
            "$PAXOS_BIN" "$role" 1 "$DB/paxos.conf" --state "$DB/seed"
    done
    for _ in $(seq 100); do
        grep -q "acceptor 1 starts" "$T/out/seed-acceptor.stderr" 2>/dev/null &&
            grep -q "learner 1 starts" "$T/out/seed-learner.stderr" 2>/dev/null && break
        sleep 0.05
    done
    # The databases are complete once "starts" is logged; the pause lets the processes install their
    # SIGTERM handlers (a SIGTERM in the first milliseconds kills a process before it can handle it).
    sleep 0.3
    stop_all
    for role in acceptor learner; do
        [[ $(sqlite3 "$DB/seed/$role-1.sqlite" 'PRAGMA user_version' 2>/dev/null) -ge 1 ]] ||
            die "could not create a $role database with the binary (status ${STATUS_OF[seed-$role]:-?}): $(tail -n 3 "$T/out/seed-$role.stderr")"
    done
    forget_procs

    # db_dir NAME: a fresh state folder for one case.
    db_dir() {
        rm -rf "${DB:?}/$1"
        mkdir -p "$DB/$1"
        echo "$DB/$1"
    }

    if wanted db-corrupt-random; then
        d=$(db_dir db-corrupt-random)
        head -c 16384 /dev/urandom >"$d/acceptor-1.sqlite"
        refused db-corrupt-random "acceptor-1.sqlite: not a SQLite database" "$d" \
            "${RUN[@]}" "$PAXOS_BIN" acceptor 1 "$DB/paxos.conf" --state "$d"
    fi
    if wanted db-corrupt-pages; then
        # A valid header (still a paxos acceptor database, schema 1) over garbage pages.
        d=$(db_dir db-corrupt-pages)
        cp "$DB/seed/acceptor-1.sqlite" "$d/acceptor-1.sqlite"
        pages=$(($(stat -c %s "$d/acceptor-1.sqlite") / 4096))
        head -c $(((pages > 1 ? pages - 1 : 1) * 4096)) /dev/urandom |
            dd of="$d/acceptor-1.sqlite" bs=4096 seek=1 conv=notrunc status=none
        dd if=/dev/urandom of="$d/acceptor-1.sqlite" bs=1 seek=200 count=3800 conv=notrunc status=none
        refused db-corrupt-pages "acceptor-1.sqlite: .*(corrupt|malformed)" "$d" \
            "${RUN[@]}" "$PAXOS_BIN" acceptor 1 "$DB/paxos.conf" --state "$d"
    fi
    if wanted db-newer-schema; then
        d=$(db_dir db-newer-schema)
        cp "$DB/seed/learner-1.sqlite" "$d/learner-1.sqlite"
        sqlite3 "$d/learner-1.sqlite" 'PRAGMA user_version = 99' >/dev/null
        refused db-newer-schema "learner-1.sqlite has schema version 99, newer than this binary supports" "$d" \
            "${RUN[@]}" "$PAXOS_BIN" learner 1 "$DB/paxos.conf" --state "$d"
    fi
    if wanted db-wrong-kind; then
        d=$(db_dir db-wrong-kind)
        cp "$DB/seed/learner-1.sqlite" "$d/acceptor-1.sqlite"
        refused db-wrong-kind "acceptor-1.sqlite is a paxos learner database, not an acceptor database" "$d" \
            "${RUN[@]}" "$PAXOS_BIN" acceptor 1 "$DB/paxos.conf" --state "$d"
    fi
    if wanted db-foreign-sqlite; then
        d=$(db_dir db-foreign-sqlite)
        sqlite3 "$d/proposer-1.sqlite" 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES (1);'
        refused db-foreign-sqlite "proposer-1.sqlite is a SQLite database but not a paxos proposer database" "$d" \
            "${RUN[@]}" "$PAXOS_BIN" proposer 1 "$DB/paxos.conf" --state "$d"
    fi
    if wanted db-read-only; then
        # chmod 444 does not stop root: bind the database file read-only inside a private mount namespace.
        d=$(db_dir db-read-only)
        cp "$DB/seed/acceptor-1.sqlite" "$d/acceptor-1.sqlite"
        refused db-read-only "acceptor-1.sqlite.*read-only" "$d" \
            "${RUN[@]}" unshare -m --propagation private sh -c \
            'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' sh \
            "$d/acceptor-1.sqlite" "$PAXOS_BIN" acceptor 1 "$DB/paxos.conf" --state "$d"
    fi
    if wanted state-not-writable; then
        # The state folder bound read-only (private mount namespace), with an existing database in it.
        d=$(db_dir state-not-writable)
        cp "$DB/seed/learner-1.sqlite" "$d/learner-1.sqlite"
        refused state-not-writable "state folder '.*state-not-writable' is not writable" "$d" \
            "${RUN[@]}" unshare -m --propagation private sh -c \
            'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' sh \
            "$d" "$PAXOS_BIN" learner 1 "$DB/paxos.conf" --state "$d"
    fi
    if wanted state-is-a-file; then
        d=$(db_dir state-is-a-file)
        echo "not a folder" >"$d/state"
        refused state-is-a-file "cannot create state folder '.*state-is-a-file/state'" "$d" \
            "${RUN[@]}" "$PAXOS_BIN" acceptor 1 "$DB/paxos.conf" --state "$d/state"
    fi
fi

# ---------------------------------------------------------------------------------------------
# Disk full: acceptor 1 of 3 keeps its state on a tiny tmpfs, mounted inside its own mount namespace.
# A client's values are decided with all three; then the tmpfs is filled up and a second client's
# values must make acceptor 1 stop (its write fails) with one error line, without having sent any
# promise or 2B that is not in its database, leaving a valid database; the two others decide the rest.

disk_full() {
    local W=$T/diskfull conf vals=40
    mkdir -p "$W/state" "$W/a1" "$W/a1-copy"
    conf=$W/paxos.conf
    write_config "$conf" 239.0.0.1 5000
    # Small batches: the first client's values take several instances, so acceptor 1 sends several 2Bs.
    printf 'acceptor-count 3\nbatch-bytes 64\n' >>"$conf"

    local sniff=0
    if command -v python3 >/dev/null && python3 -c 'import sqlite3' 2>/dev/null; then
        sniff=1
        write_sniffer "$W/sniff.py"
        spawn sniffer /dev/null "$W/sniffed" "$W/sniffer.stderr" python3 "$W/sniff.py" listen 239.0.0.1 6000 8000
        wait_until 5 "grep -qs '^ready' '$W/sniffed'" || {
            fail disk-full-setup "the datagram recorder did not start: $(head -c 200 "$W/sniffer.stderr")"
            return
        }
    fi

    # The wrapper shell lives in acceptor 1's mount namespace (its PID is the handle to fill the disk
    # through nsenter); once the acceptor exits, it copies the database out of the tmpfs for the checks.
    spawn acceptor1 /dev/null "$W/acceptor1.stdout" "$W/acceptor1.stderr" \
        unshare -m --propagation private bash -c '
            dir=$1 copy=$2
            shift 2
            mount -t tmpfs -o size=2m,mode=0755 paxos-diskfull "$dir" || exit 99
            st=0
            "$@" || st=$?
            cp -p "$dir"/acceptor-1.sqlite* "$copy"/ 2>"$copy/copy.stderr"
            ls -la "$dir" >"$copy/listing" 2>&1
            exit "$st"' bash "$W/a1" "$W/a1-copy" "$PAXOS_BIN" acceptor 1 "$conf" --state "$W/a1"
    local i
    for i in 2 3; do
        spawn "acceptor$i" /dev/null "$W/acceptor$i.stdout" "$W/acceptor$i.stderr" \
            "$PAXOS_BIN" acceptor "$i" "$conf" --state "$W/state"
    done
    spawn learner1 /dev/null "$W/learn1" "$W/learner1.stderr" "$PAXOS_BIN" learner 1 "$conf" --state "$W/state"
    if ! wait_until 5 "grep -qs 'acceptor 1 starts' '$W/acceptor1.stderr'"; then
        fail disk-full-setup "acceptor 1 did not start on its tmpfs: $(tail -n 2 "$W/acceptor1.stderr" | tr '\n' '|')"
        return
    fi
    spawn proposer1 /dev/null "$W/proposer1.stdout" "$W/proposer1.stderr" "$PAXOS_BIN" proposer 1 "$conf" --state "$W/state"

    seq 1 "$vals" >"$W/values-a"
    seq $((vals + 1)) $((2 * vals)) >"$W/values-b"
    local st=0
    timeout -k 2 20 "${RUN[@]}" "$PAXOS_BIN" client 1 "$conf" --timeout 15 <"$W/values-a" \
        >"$W/client1.stdout" 2>"$W/client1.stderr" || st=$?
    if ((st != 0)); then
        fail disk-full-setup "client 1 (all acceptors up) exited with status $st: $(tail -n 1 "$W/client1.stderr")"
        return
    fi
    if ! is_running acceptor1; then
        fail disk-full-setup "acceptor 1 stopped before its disk was full: $(tail -n 1 "$W/acceptor1.stderr")"
        return
    fi

    # Fill acceptor 1's tmpfs up, from inside its mount namespace.
    nsenter -t "${PID_OF[acceptor1]}" -m dd if=/dev/zero of="$W/a1/filler" bs=4k status=none 2>"$W/dd.stderr" || true
    if ! grep -q "No space left" "$W/dd.stderr"; then
        fail disk-full-setup "could not fill the tmpfs: $(head -c 200 "$W/dd.stderr")"
        return
    fi

    st=0
    timeout -k 2 20 "${RUN[@]}" "$PAXOS_BIN" client 2 "$conf" --timeout 15 <"$W/values-b" \
        >"$W/client2.stdout" 2>"$W/client2.stderr" || st=$?
    wait_until 5 "! is_running acceptor1" || true
    wait_until 5 "(( \$(count_lines '$W/learn1') >= 2 * $vals ))" || true
    local a1_running=0
    is_running acceptor1 && a1_running=1
    stop_all
    local a1_status=${STATUS_OF[acceptor1]:-?}

    # 1. Acceptor 1 stopped by itself, non-zero, its last stderr line the only error line.
    local last errors
    last=$(tail -n 1 "$W/acceptor1.stderr")
    errors=$(grep -c 'paxos: error' "$W/acceptor1.stderr" || true)
    if ((a1_running)); then
        fail disk-full-acceptor-exit "acceptor 1 was still running with a full disk (values decided without it writing?)"
    elif [[ $a1_status == 0 || $a1_status == 99 ]]; then
        fail disk-full-acceptor-exit "acceptor 1 exited with status $a1_status: $last"
    elif ((errors != 1)); then
        fail disk-full-acceptor-exit "$errors lines match 'paxos: error' on acceptor 1's stderr (want 1): $(grep 'paxos: error' "$W/acceptor1.stderr" | head -n 3 | tr '\n' '|')"
    elif [[ $last != "paxos: error: "* ]] || ! grep -qiE "acceptor-1.sqlite: disk full" <<<"$last"; then
        fail disk-full-acceptor-exit "acceptor 1's last stderr line is not the disk-full error: $last"
    elif [[ -s $W/acceptor1.stdout ]]; then
        fail disk-full-acceptor-exit "acceptor 1 wrote to standard output"
    else
        pass disk-full-acceptor-exit "exit $a1_status: $last"
    fi

    # 2. What it left is a valid database (checked on a copy: the tmpfs died with its namespace).
    local integrity
    if [[ ! -s $W/a1-copy/acceptor-1.sqlite ]]; then
        fail disk-full-db-valid "no database left behind: $(cat "$W/a1-copy/listing" "$W/a1-copy/copy.stderr" 2>/dev/null | tr '\n' '|')"
    else
        integrity=$(sqlite3 "$W/a1-copy/acceptor-1.sqlite" 'PRAGMA integrity_check' 2>&1 | tr '\n' '|')
        if [[ $integrity == "ok|" ]]; then
            pass disk-full-db-valid "integrity_check: ok"
        else
            fail disk-full-db-valid "integrity_check: $integrity"
        fi
    fi

    # 3. Every promise and 2B acceptor 1 sent is in that database.
    if ((!sniff)); then
        skip disk-full-no-unpersisted-send "python3 with its sqlite3 module is needed to record datagrams"
    elif [[ ! -s $W/a1-copy/acceptor-1.sqlite ]]; then
        fail disk-full-no-unpersisted-send "no database to compare with"
    else
        local verdict
        if verdict=$(python3 "$W/sniff.py" check "$W/sniffed" "$W/a1-copy/acceptor-1.sqlite" 1 2>&1); then
            pass disk-full-no-unpersisted-send "$verdict"
        else
            fail disk-full-no-unpersisted-send "$(tr '\n' '|' <<<"$verdict" | head -c 400)"
        fi
    fi

    # 4. The two other acceptors decided everything: both clients done, the learner printed every value once.
    local problems
    problems=$(exit_problems | grep -v -e '^acceptor1 ' -e '^sniffer ' || true)
    if ((st != 0)); then
        fail disk-full-cluster-decides "client 2 (acceptor 1 out of space) exited with status $st: $(tail -n 1 "$W/client2.stderr")"
    elif ! diff -q <(sort -n "$W/learn1") <(seq 1 $((2 * vals))) >/dev/null; then
        fail disk-full-cluster-decides "learner 1 printed $(count_lines "$W/learn1") lines, not 1..$((2 * vals)) once each"
    elif [[ -n $problems ]]; then
        fail disk-full-cluster-decides "$(tr '\n' '|' <<<"$problems")"
    else
        pass disk-full-cluster-decides "$((2 * vals)) values learned in order by learner 1"
    fi
}

# wait_until SECONDS CONDITION: polls the bash CONDITION every 50 ms.
wait_until() {
    local deadline=$(($(now_ms) + $1 * 1000))
    while (($(now_ms) < deadline)); do
        eval "$2" && return 0
        sleep 0.05
    done
    eval "$2"
}

# write_sniffer FILE: a datagram recorder and checker. `listen GROUP PORT...` joins GROUP on loopback
# and writes one line per promise ("P acceptor round proposer incarnation") and per instance of a 2B
# ("A acceptor instance round proposer incarnation"), reading wire version 2 (a header of cluster
# fingerprint and sender before the message); `check RECORD DB ID` verifies that acceptor ID's database holds, for each
# recorded promise, a promise at least as high, and for each 2B, the instance accepted at a ballot at
# least as high.
write_sniffer() {
    cat >"$1" <<'PY'
import socket, select, sys, sqlite3

def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7F) << shift; shift += 7
        if c < 0x80:
            return v, i

def skip_proposal(b, i):
    tag = b[i]; i += 1
    if tag == 0:
        return i
    n, i = varint(b, i)
    for _ in range(n):
        for _ in range(3):
            _, i = varint(b, i)
        size, i = varint(b, i)
        i += size
    return i

def listen(group, ports):
    socks = []
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((group, port))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("127.0.0.1"))
        socks.append(s)
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select(socks, [], [])
        for s in ready:
            b = s.recv(70000)
            if len(b) < 4 or b[:3] != b"PX\x02":
                continue
            try:
                # header: acceptor-count, learner-count, sender role (one byte), id, incarnation, start
                _, i = varint(b, 4); _, i = varint(b, i); i += 1
                for _ in range(3):
                    _, i = varint(b, i)
                if b[3] == 4:  # promise: acceptor, ballot (round, proposer, incarnation), ...
                    acc, i = varint(b, i); rnd, i = varint(b, i); prop, i = varint(b, i); inc, i = varint(b, i)
                    print("P", acc, rnd, prop, inc, flush=True)
                elif b[3] == 7:  # accepted (2B): acceptor, ballot, [instance, proposal]
                    acc, i = varint(b, i); rnd, i = varint(b, i); prop, i = varint(b, i); inc, i = varint(b, i)
                    n, i = varint(b, i)
                    for _ in range(n):
                        inst, i = varint(b, i)
                        i = skip_proposal(b, i)
                        print("A", acc, inst, rnd, prop, inc, flush=True)
            except IndexError:
                print("? undecodable datagram", flush=True)

def signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v

def check(record, db, acceptor):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    row = con.execute("SELECT round, proposer, incarnation FROM promise WHERE id = 1").fetchone()
    promised = (signed(row[0]), row[1], row[2]) if row else None
    accepted = {i: (signed(r), p, n) for i, r, p, n in con.execute("SELECT instance, round, proposer, incarnation FROM accepted")}
    promises = votes = 0
    bad = []
    for line in open(record):
        f = line.split()
        if not f or f[0] not in ("P", "A") or int(f[1]) != acceptor:
            continue
        if f[0] == "P":
            promises += 1
            ballot = (signed(int(f[2])), int(f[3]), int(f[4]))
            if promised is None or promised < ballot:
                bad.append("promise %s sent, database holds %s" % (ballot, promised))
        else:
            votes += 1
            inst, ballot = signed(int(f[2])), (signed(int(f[3])), int(f[4]), int(f[5]))
            held = accepted.get(inst)
            if held is None or held < ballot:
                bad.append("2B instance %d ballot %s sent, database holds %s" % (inst, ballot, held))
    if votes == 0:
        bad.append("no 2B from acceptor %d was recorded: nothing to compare" % acceptor)
    for b in bad[:5]:
        print(b)
    if bad:
        print("%d of %d sent messages are not in the database" % (len(bad), promises + votes))
        sys.exit(1)
    print("%d promises and %d votes sent by acceptor %d, all in its database (%d rows)" % (promises, votes, acceptor, len(accepted)))

if sys.argv[1] == "listen":
    listen(sys.argv[2], [int(p) for p in sys.argv[3:]])
else:
    check(sys.argv[2], sys.argv[3], int(sys.argv[4]))
PY
}

if ((IS_ROOT)) && any_wanted "${DISK_FULL_CASES[@]}"; then
    disk_full
    forget_procs
fi

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))

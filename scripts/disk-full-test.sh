#!/usr/bin/env bash
# A full disk: what only the kernel can do to a running acceptor (the other bad-input refusals are Swift
# tests: Tests/paxosTests/RefusalTests.swift, Tests/PaxosNodeTests/{ClusterConfig,NodeStartup}Tests.swift,
# Tests/PaxosStoreTests/OpeningTests.swift). Needs root: every process runs inside a private network
# namespace (multicast on its loopback only), and the acceptor's tiny tmpfs exists only inside its own
# private mount namespace (unshare -m), so the host's mounts are never touched. Without root it SKIPs.
#
#   scripts/disk-full-test.sh [-v] [--keep]
#
#   -v      also print each check's detail under its PASS line
#   --keep  keep the temporary folder (logs, databases) and print its path
#
# Uses $PAXOS_BIN (default: the repository's .build/release/paxos). Prints PASS/FAIL/SKIP per check and
# "N passed, M failed"; exits 1 if any check failed (2 if the test itself cannot run).
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

VERBOSE=0
KEEP=0
while (($#)); do
    case $1 in
    -v) VERBOSE=1 ;;
    --keep) KEEP=1 ;;
    -h | --help)
        sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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

if ((EUID != 0)) || ! command -v ip >/dev/null || ! command -v unshare >/dev/null; then
    for name in disk-full-acceptor-exit disk-full-db-valid disk-full-no-unpersisted-send disk-full-cluster-decides; do
        skip "$name" "needs root, ip and unshare (private network and mount namespaces)"
    done
    exit 0
fi
command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing (apt-get install sqlite3)"

T=$(mktemp -d "${TMPDIR:-/tmp}/paxos-disk-full.XXXXXX")
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

# Every paxos process runs inside our namespace: its multicast stays on the namespace's loopback.
netns_create "paxos-diskfull-$$" || die "could not create network namespace paxos-diskfull-$$"
RUN=("${NS_EXEC[@]}")
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

disk_full
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))

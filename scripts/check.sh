#!/usr/bin/env bash
# The course's three checks on a finished run, plus exactly-once delivery and learner databases.
#
# Usage: check.sh [--expect-empty] [LOGDIR]
#        check.sh [--expect-empty] [--state DIR] --values FILE... --learned FILE...
#
# The first form reads LOGDIR (default: logs) as run.sh leaves it: values<i>.log (what client i
# submitted), learner<i>.log (what learner i printed), paxos-state/learner-<i>.sqlite.
# The second form names the files (e.g. a course tests folder: --values prop1 prop2 --learned
# learn1 learn2 --state paxos-state); the k-th --learned file belongs to learner id k.
#
#   Test 1  all learner outputs are byte-identical
#   Test 2  every learned line was proposed (and no output ends in a cut-off line)
#   Test 3  each learner's set of distinct values equals the set proposed
#   Test 4  exactly once: each learner's multiset of lines equals the multiset of all submissions
#           (values are random 0..32767, so duplicates are frequent and each must appear as often
#           as it was submitted)
#   Test 5  each learner's database (SELECT value FROM learned ORDER BY position) equals its
#           output byte for byte; skipped with a note without sqlite3 or without databases
# --expect-empty (one acceptor of three: no quorum) replaces Tests 3 and 4 with
#   Test 3  nothing learned: every learner output is empty
#
# Prints one PASS/FAIL/SKIP line per test, then "N passed, M failed" alone on the last line.
# Exit status: 0 all passed, 1 a test failed, 2 usage error.
set -euo pipefail
export LC_ALL=C # byte order for sort/comm, the same on every machine

usage() {
    echo "usage: check.sh [--expect-empty] [LOGDIR]"
    echo "       check.sh [--expect-empty] [--state DIR] --values FILE... --learned FILE..."
}

expect_empty=0
state=""
logdir=""
values=()
learned=()
ids=()
list=""
while (($#)); do
    case $1 in
        --expect-empty) expect_empty=1 ;;
        --state)
            (($# >= 2)) || { usage >&2; exit 2; }
            state=$2
            shift
            ;;
        --values) list=values ;;
        --learned) list=learned ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "check.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *)
            case $list in
                values) values+=("$1") ;;
                learned) learned+=("$1") ;;
                *)
                    [[ -z $logdir ]] || { usage >&2; exit 2; }
                    logdir=$1
                    ;;
            esac
            ;;
    esac
    shift
done

# numbered_files DIR PREFIX: DIR/PREFIX<i>.log for every i present, in numeric order of i.
numbered_files() {
    local f
    for f in "$1/$2"*.log; do
        [[ ${f##*/} =~ ^$2([0-9]+)\.log$ ]] && echo "${BASH_REMATCH[1]} $f"
    done | sort -n -k1,1
}

if ((${#values[@]} + ${#learned[@]} > 0)); then
    [[ -z $logdir ]] || { echo "check.sh: give either LOGDIR or --values/--learned" >&2; exit 2; }
    ((${#values[@]} > 0 && ${#learned[@]} > 0)) || { echo "check.sh: --values and --learned both need files" >&2; exit 2; }
    for ((k = 1; k <= ${#learned[@]}; k++)); do ids+=("$k"); done
else
    logdir=${logdir:-logs}
    [[ -d $logdir ]] || { echo "check.sh: no such directory: $logdir" >&2; exit 2; }
    state=${state:-$logdir/paxos-state}
    while read -r _ f; do values+=("$f"); done < <(numbered_files "$logdir" values)
    while read -r i f; do ids+=("$i") && learned+=("$f"); done < <(numbered_files "$logdir" learner)
    # A learner with a database but no output file is a missing file, not an absent learner.
    for db in "$state"/learner-*.sqlite; do
        [[ ${db##*/} =~ ^learner-([0-9]+)\.sqlite$ ]] || continue
        i=${BASH_REMATCH[1]}
        [[ " ${ids[*]} " == *" $i "* ]] || { ids+=("$i") && learned+=("$logdir/learner$i.log"); }
    done
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
skip() { echo "SKIP $*"; }
joined() { # the arguments separated by "; "
    local IFS=$'\x1f'
    local s="$*"
    echo "${s//$'\x1f'/; }"
}
# examples FILE: up to three lines of FILE, comma-separated
examples() { head -n 3 "$1" | paste -sd, - | sed 's/,/, /g'; }

# Missing files count as one failure each and are read as empty.
present() {
    if [[ -f $1 ]]; then echo "$1"; else echo /dev/null; fi
}
missing=()
for f in "${values[@]}" "${learned[@]}"; do [[ -f $f ]] || missing+=("$f"); done
((${#values[@]} > 0)) || fail "inputs: no values<i>.log in $logdir"
((${#learned[@]} > 0)) || fail "inputs: no learner<i>.log in $logdir"
((${#missing[@]} == 0)) || fail "inputs: missing ${missing[*]}"
if ((${#values[@]} == 0 || ${#learned[@]} == 0)); then
    echo "$passed passed, $failed failed"
    exit 1
fi

# Proposed multiset and set, sorted once.
value_files=()
for f in "${values[@]}"; do value_files+=("$(present "$f")"); done
sort "${value_files[@]}" >"$tmp/proposed.multi"
sort -u "$tmp/proposed.multi" >"$tmp/proposed.set"
proposed_count=$(wc -l <"$tmp/proposed.multi")
for ((k = 0; k < ${#learned[@]}; k++)); do
    sort "$(present "${learned[k]}")" >"$tmp/learned$k.multi"
    sort -u "$tmp/learned$k.multi" >"$tmp/learned$k.set"
done
name() { echo "${learned[$1]##*/}"; }

# Test 1: byte-identical outputs
problems=()
for ((k = 1; k < ${#learned[@]}; k++)); do
    if ! cmp -s "$(present "${learned[0]}")" "$(present "${learned[k]}")"; then
        detail=$(cmp "$(present "${learned[0]}")" "$(present "${learned[k]}")" 2>&1 | head -n 1) || true
        problems+=("$(name "$k") differs from $(name 0) ($(wc -l <"$(present "${learned[k]}")") vs $(wc -l <"$(present "${learned[0]}")") lines; ${detail##*: })")
    fi
done
if ((${#learned[@]} == 1)); then
    pass "Test 1: identical outputs (only one learner)"
elif ((${#problems[@]} == 0)); then
    pass "Test 1: all ${#learned[@]} learner outputs are identical ($(wc -l <"$(present "${learned[0]}")") lines)"
else
    fail "Test 1: $(joined "${problems[@]}")"
fi

# Test 2: learned lines were all proposed; a last line without newline is a cut-off write
problems=()
for ((k = 0; k < ${#learned[@]}; k++)); do
    f=$(present "${learned[k]}")
    comm -13 "$tmp/proposed.set" "$tmp/learned$k.set" >"$tmp/unproposed"
    if [[ -s $tmp/unproposed ]]; then
        problems+=("$(name "$k"): $(wc -l <"$tmp/unproposed") distinct values never proposed (e.g. $(examples "$tmp/unproposed"))")
    fi
    if [[ -s $f && -n $(tail -c 1 "$f") ]]; then
        problems+=("$(name "$k"): last line has no newline (cut-off write)")
    fi
done
if ((${#problems[@]} == 0)); then
    pass "Test 2: every learned value was proposed"
else
    fail "Test 2: $(joined "${problems[@]}")"
fi

if ((expect_empty)); then
    # Test 3 (no quorum): nothing may be learned
    problems=()
    for ((k = 0; k < ${#learned[@]}; k++)); do
        n=$(wc -l <"$tmp/learned$k.multi")
        ((n == 0)) || problems+=("$(name "$k") has $n lines")
    done
    if ((${#problems[@]} == 0)); then
        pass "Test 3: nothing learned, as expected without a quorum"
    else
        fail "Test 3: expected nothing learned, but $(joined "${problems[@]}")"
    fi
else
    # Test 3: same set of distinct values
    problems=()
    for ((k = 0; k < ${#learned[@]}; k++)); do
        comm -23 "$tmp/proposed.set" "$tmp/learned$k.set" >"$tmp/unlearned"
        if [[ -s $tmp/unlearned ]]; then
            problems+=("$(name "$k"): $(wc -l <"$tmp/unlearned") proposed values never learned (e.g. $(examples "$tmp/unlearned"))")
        fi
        if ! cmp -s "$tmp/proposed.set" "$tmp/learned$k.set" && [[ ! -s $tmp/unlearned ]]; then
            problems+=("$(name "$k"): learned values never proposed (see Test 2)")
        fi
    done
    if ((${#problems[@]} == 0)); then
        pass "Test 3: every learner learned the $(wc -l <"$tmp/proposed.set") distinct proposed values"
    else
        fail "Test 3: $(joined "${problems[@]}")"
    fi

    # Test 4: exactly once (multisets; comm on sorted input compares line by line, so duplicates count)
    problems=()
    for ((k = 0; k < ${#learned[@]}; k++)); do
        comm -23 "$tmp/proposed.multi" "$tmp/learned$k.multi" >"$tmp/lost"
        comm -13 "$tmp/proposed.multi" "$tmp/learned$k.multi" >"$tmp/extra"
        if [[ -s $tmp/lost || -s $tmp/extra ]]; then
            lost="$(wc -l <"$tmp/lost") deliveries missing"
            [[ ! -s $tmp/lost ]] || lost+=" (e.g. $(examples "$tmp/lost"))"
            extra="$(wc -l <"$tmp/extra") surplus"
            [[ ! -s $tmp/extra ]] || extra+=" (e.g. $(examples "$tmp/extra"))"
            problems+=("$(name "$k"): $(wc -l <"$tmp/learned$k.multi") lines for $proposed_count submissions, $lost, $extra")
        fi
    done
    if ((${#problems[@]} == 0)); then
        pass "Test 4: every learner delivered each of the $proposed_count submissions exactly once"
    else
        fail "Test 4: $(joined "${problems[@]}")"
    fi
fi

# Test 5: database = output
if [[ -z $state ]]; then
    skip "Test 5: no state directory given (--state DIR)"
elif [[ ! -d $state ]]; then
    skip "Test 5: no state directory $state"
elif ! command -v sqlite3 >/dev/null; then
    skip "Test 5: sqlite3 is not installed (apt-get install -y sqlite3)"
else
    problems=()
    checked=0
    for ((k = 0; k < ${#learned[@]}; k++)); do
        db=$state/learner-${ids[k]}.sqlite
        f=$(present "${learned[k]}")
        if [[ ! -f $db ]]; then
            # A learner that printed nothing may never have written its database.
            [[ -s $f ]] && problems+=("$(name "$k"): no database $db")
            continue
        fi
        # -init /dev/null: ignore ~/.sqliterc, which could change the output mode.
        if ! sqlite3 -init /dev/null -batch -readonly -list -noheader "$db" \
            'SELECT value FROM learned ORDER BY position' >"$tmp/db" 2>"$tmp/db.err"; then
            problems+=("$(name "$k"): sqlite3 failed on $db: $(head -n 1 "$tmp/db.err")")
            continue
        fi
        checked=$((checked + 1))
        if ! cmp -s "$tmp/db" "$f"; then
            detail=$(cmp "$tmp/db" "$f" 2>&1 | head -n 1) || true
            problems+=("$(name "$k") differs from $db ($(wc -l <"$tmp/db") rows vs $(wc -l <"$f") lines; ${detail##*: })")
        fi
    done
    if ((${#problems[@]} > 0)); then
        fail "Test 5: $(joined "${problems[@]}")"
    elif ((checked == 0)); then
        skip "Test 5: no learner databases in $state"
    else
        pass "Test 5: $checked learner database(s) equal the learner outputs"
    fi
fi

echo "$passed passed, $failed failed"
((failed == 0))

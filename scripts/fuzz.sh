#!/usr/bin/env bash
# Fuzzes the wire decoder (version 2), the admission rules and the nodes on the simulator's cluster: the
# SwiftPM product paxos-fuzz (Fuzz/, on PaxosTesting's harness). libFuzzer, coverage-guided, with
# AddressSanitizer; and/or the seeded structure-aware generator and the absurd-message verdicts.
#
# Usage: scripts/fuzz.sh [-runs N] [-max_total_time S] [--generate N] [--absurd] [--only-tools]
#                        [--fresh] [--seed N] [-- LIBFUZZER_ARGS...]
#
#   -runs N            libFuzzer executions (default 1000000; 0 with -max_total_time for time only)
#   -max_total_time S  stop after S seconds even if the runs are not done
#   --generate N       also run the seeded generator for N inputs (no libFuzzer)
#   --absurd           also replay the hostile-message catalogue (PaxosTesting) in a simulated cluster, a verdict each
#   --only-tools       skip libFuzzer (with --generate/--absurd)
#   --fresh            forget the working corpus (Fuzz/.work/corpus) and start from the seeds
#   --seed N           libFuzzer's and the generator's seed (default 1)
#   -- ARGS            passed to libFuzzer as is (e.g. -- -jobs=2 -workers=2, or a crash file to replay)
#
# Builds: .build/release/paxos-fuzz (swift build -c release --product paxos-fuzz) and the libFuzzer
# harness .build-fuzz/release/paxos-fuzz (the same product with -sanitize=fuzzer,address -DPAXOS_LIBFUZZER,
# in its own build path). Seeds: Fuzz/corpus/ and Fuzz/.work/seeds/ (written from the current sources);
# new inputs go to Fuzz/.work/corpus/, artifacts to Fuzz/.work/artifacts/, libFuzzer's output to
# Fuzz/.work/fuzz.log. Every run first replays Fuzz/known-bugs/ and Fuzz/corpus/ through the checks.
# Exit status: 0 no crash, 1 a crash/timeout/oom artifact was produced or a check failed, 2 usage/build.
set -euo pipefail
export LC_ALL=C
REPO_ROOT=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
FUZZ=$REPO_ROOT/Fuzz
WORK=$FUZZ/.work
note() { printf 'fuzz.sh: %s\n' "$*" >&2; }
die() { note "$*"; exit 2; }

runs=1000000 max_time="" generate="" absurd=0 only_tools=0 fresh=0 seed=1 extra=()
while (($#)); do
    case $1 in
    -runs | --runs) runs=${2:?}; shift ;;
    -max_total_time | --max-total-time) max_time=${2:?}; shift ;;
    --generate) generate=${2:?}; shift ;;
    --absurd) absurd=1 ;;
    --only-tools) only_tools=1 ;;
    --fresh) fresh=1 ;;
    --seed) seed=${2:?}; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
    esac
    shift
done
mkdir -p "$WORK/artifacts" "$WORK/corpus" "$WORK/seeds"
cd "$REPO_ROOT"

note "building paxos-fuzz (swift build -c release --product paxos-fuzz)"
swift build -c release --product paxos-fuzz >"$WORK/build-tool.log" 2>&1 || { tail -30 "$WORK/build-tool.log" >&2; die "build failed"; }
TOOL=$REPO_ROOT/.build/release/paxos-fuzz
FUZZER=$REPO_ROOT/.build-fuzz/release/paxos-fuzz
if ((!only_tools)); then
    note "building the libFuzzer harness (-sanitize=fuzzer,address, .build-fuzz)"
    swift build -c release --product paxos-fuzz --build-path .build-fuzz -Xswiftc -sanitize=fuzzer,address \
        -Xswiftc -DPAXOS_LIBFUZZER -Xlinker --allow-multiple-definition >"$WORK/build-fuzzer.log" 2>&1 || {
        grep -v 'ld.gold: warning' "$WORK/build-fuzzer.log" | tail -20 >&2
        note "libFuzzer build failed: running the seeded generator for $runs inputs instead"
        only_tools=1 generate=${generate:-$runs}
    }
fi

rm -f "$WORK/seeds"/*
"$TOOL" corpus "$WORK/seeds" || die "could not write the seed corpus"
((fresh)) && rm -f "$WORK/corpus"/*
status=0
find Fuzz/known-bugs Fuzz/corpus -type f ! -name '*.md' ! -name '*.tsv' -print0 | xargs -0 "$TOOL" replay -q ||
    { status=1; echo "FAIL a known-bug reproducer or seed no longer passes the checks"; }

if ((!only_tools)); then
    before=$(find "$WORK/artifacts" -type f | wc -l)
    args=(-runs="$runs" -seed="$seed" -timeout=20 -rss_limit_mb=3072 -max_len=8192 -dict="$FUZZ/paxos.dict"
        -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 -reload=0 ${max_time:+-max_total_time="$max_time"})
    note "libFuzzer: $runs runs${max_time:+, at most ${max_time}s}; log in $WORK/fuzz.log"
    st=0
    # No leak checking (the harness keeps its warmed-up clusters), no allocation stacks; the Swift
    # backtracer, under ASan, reports its own memory reads as errors: off.
    SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no} \
        ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:malloc_context_size=0:quarantine_size_mb=64} \
        "$FUZZER" "${args[@]}" "${extra[@]}" "$WORK/corpus" "$WORK/seeds" "$FUZZ/corpus" >"$WORK/fuzz.log" 2>&1 || st=$?
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^#[0-9]+[[:space:]]+DONE' "$WORK/fuzz.log" | sed 's/^/  /' || true
    if ((st != 0 || $(find "$WORK/artifacts" -type f | wc -l) > before)); then
        status=1
        echo "FAIL libFuzzer found a problem (exit $st); artifacts in $WORK/artifacts/:"
        grep -E 'ERROR: libFuzzer|ERROR: AddressSanitizer|Fatal error|FUZZ INVARIANT|SUMMARY' "$WORK/fuzz.log" | head -20 | sed 's/^/  | /'
    else
        echo "PASS libFuzzer: no crash, no timeout, no OOM"
    fi
fi
if [[ -n $generate ]]; then
    if PAXOS_FUZZ_WATCHDOG=20 "$TOOL" generate "$generate" "$seed" >"$WORK/generate.log" 2>&1; then
        grep -v '^#' "$WORK/generate.log"
        echo "PASS generator: $generate inputs, no crash"
    else
        status=1
        tail -30 "$WORK/generate.log"
        echo "FAIL generator crashed or hung (see $WORK/generate.log; a hang's input is ./watchdog-input)"
    fi
fi
if ((absurd)); then
    "$TOOL" catalogue | "$TOOL" absurd | tee "$WORK/absurd.log" | cut -c1-220
    bad=$(grep -cE '^absurd/[^ ]+ +(STALL|WRONG|HANG|CRASH|SLOW)' "$WORK/absurd.log" || true)
    echo "absurd catalogue: $bad entries of category 'absurd' not shrugged off; full lines in $WORK/absurd.log"
    ((bad == 0)) || status=1
fi
exit "$status"

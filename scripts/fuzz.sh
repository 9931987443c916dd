#!/usr/bin/env bash
# Fuzzes the wire decoder (version 2: header with cluster fingerprint and sender), the admission rules and
# the role state machines (Fuzz/): a libFuzzer harness, coverage-guided, compiled with AddressSanitizer
# from a snapshot of Sources/PaxosCore/*.swift (no SwiftPM, no NIO).
#
# Usage: scripts/fuzz.sh [-runs N] [-max_total_time S] [--generate N] [--absurd] [--[no-]guard]
#                        [--rebuild] [--fresh] [--seed N] [-- LIBFUZZER_ARGS...]
#
#   -runs N            libFuzzer executions (default 1000000; 0 with -max_total_time for time only)
#   -max_total_time S  stop after S seconds even if the runs are not done
#   --generate N       also run the seeded, structure-aware generator for N inputs (no libFuzzer)
#   --absurd           also replay the catalogue of hostile messages (Sources/PaxosTesting/HostileMessages.swift) in a simulated
#                      cluster and print a verdict per message (see Fuzz/Absurd.swift)
#   --only-tools       skip libFuzzer (with --generate/--absurd)
#   --guard            also step around the FIXED known bugs of Fuzz/Driver.swift (KnownBugs), should a
#                      change bring one back (PAXOS_FUZZ_GUARD=1); by default only the open ones are
#   --no-guard         step around nothing (PAXOS_FUZZ_GUARD=0): open known bugs fire again
#   --rebuild          rebuild even if the sources did not change
#   --fresh            forget the working corpus (Fuzz/.work/corpus) and start from the seeds
#   --seed N           libFuzzer's and the generator's seed (default 1)
#   -- ARGS            passed to libFuzzer as is (e.g. -- -jobs=2 -workers=2, or a crash file to replay)
#
# Builds land in Fuzz/.work/ (git-ignored): paxos-fuzz (libFuzzer + ASan), paxos-fuzz-tool (seed
# corpus, replay, hex decoding, generator, absurd catalogue). Seeds: Fuzz/corpus/ (committed) and
# Fuzz/.work/seeds/ (written by the tool from the current sources). New inputs go to Fuzz/.work/corpus/,
# crash/timeout/oom artifacts to Fuzz/.work/artifacts/, libFuzzer's output to Fuzz/.work/fuzz.log.
# Replay one artifact: Fuzz/.work/paxos-fuzz ARTIFACT, or Fuzz/.work/paxos-fuzz-tool replay ARTIFACT.
#
# If swiftc cannot link -sanitize=fuzzer here, falls back to the generator with as many inputs as -runs.
# Exit status: 0 no crash, 1 a crash/timeout/oom artifact was produced or a check failed, 2 usage/build.
set -euo pipefail
export LC_ALL=C

SCRIPTS_DIR=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(dirname -- "$SCRIPTS_DIR")
FUZZ=$REPO_ROOT/Fuzz
WORK=$FUZZ/.work

note() { printf 'fuzz.sh: %s\n' "$*" >&2; }
die() { note "$*"; exit 2; }

runs=1000000
max_time=""
generate=""
absurd=0
only_tools=0
rebuild=0
fresh=0
seed=1
extra=()
while (($#)); do
    case $1 in
    -runs | --runs) runs=${2:?}; shift ;;
    -runs=* | --runs=*) runs=${1#*=} ;;
    -max_total_time | --max-total-time) max_time=${2:?}; shift ;;
    -max_total_time=*) max_time=${1#*=} ;;
    --generate) generate=${2:?}; shift ;;
    --absurd) absurd=1 ;;
    --only-tools) only_tools=1 ;;
    --guard) export PAXOS_FUZZ_GUARD=1 ;;
    --no-guard) export PAXOS_FUZZ_GUARD=0 ;;
    --rebuild) rebuild=1 ;;
    --fresh) fresh=1 ;;
    --seed) seed=${2:?}; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
    esac
    shift
done
[[ $runs =~ ^[0-9]+$ ]] || die "-runs needs a number"
[[ -z $max_time || $max_time =~ ^[0-9]+$ ]] || die "-max_total_time needs whole seconds"
[[ -z $generate || $generate =~ ^[0-9]+$ ]] || die "--generate needs a number"
command -v swiftc >/dev/null || die "swiftc not found (e.g. export PATH=/opt/swift/usr/bin:\$PATH)"

mkdir -p "$WORK/artifacts" "$WORK/corpus" "$WORK/seeds"

# --- build, from a snapshot (others may be editing Sources/ while we compile) ---------------------
snapshot=$WORK/src
rm -rf "$snapshot.new"
mkdir -p "$snapshot.new"
cp "$REPO_ROOT"/Sources/PaxosWire/*.swift "$REPO_ROOT"/Sources/PaxosCore/*.swift "$snapshot.new/"
# the hostile-message catalogue (PaxosWire alone) for the tool's `catalogue` and `absurd` modes
cp "$REPO_ROOT"/Sources/PaxosTesting/HostileMessages.swift "$snapshot.new/"
rm -f "$snapshot.new/Exports.swift"  # one module here: PaxosWire is compiled in
sum=$(cat "$snapshot.new"/*.swift "$FUZZ"/*.swift | sha256sum | cut -c1-16)
TOOL=$WORK/paxos-fuzz-tool
FUZZER=$WORK/paxos-fuzz
if ((rebuild)) || [[ ! -f $WORK/build.sum || $(cat "$WORK/build.sum") != "$sum" || ! -x $TOOL ]]; then
    rm -rf "$snapshot"
    mv "$snapshot.new" "$snapshot"
    rm -f "$WORK/build.sum" "$FUZZER" "$TOOL"
    note "building the tool (swiftc -O, PaxosCore + Fuzz/Driver.swift Absurd.swift Tool.swift)"
    swiftc -O -module-name PaxosCore "$snapshot"/*.swift "$FUZZ/Driver.swift" "$FUZZ/Absurd.swift" \
        "$FUZZ/Tool.swift" -o "$TOOL" 2>"$WORK/build-tool.log" || {
        cat "$WORK/build-tool.log" >&2
        die "tool build failed"
    }
    if ((!only_tools)); then
        note "building the libFuzzer harness (swiftc -sanitize=fuzzer,address -parse-as-library -O)"
        if swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name PaxosCore "$snapshot"/*.swift \
            "$FUZZ/Driver.swift" "$FUZZ/FuzzTarget.swift" -o "$FUZZER" 2>"$WORK/build-fuzzer.log"; then
            :
        else
            grep -v 'ld.gold: warning' "$WORK/build-fuzzer.log" | head -20 >&2 || true
            note "libFuzzer build failed: falling back to the seeded generator"
            rm -f "$FUZZER"
        fi
    fi
    echo "$sum" >"$WORK/build.sum"
else
    rm -rf "$snapshot.new"
    note "sources unchanged since the last build ($sum); --rebuild forces one"
fi
if ((!only_tools)) && [[ ! -x $FUZZER ]] && [[ -f $WORK/build.sum ]]; then
    note "building the libFuzzer harness"
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name PaxosCore "$snapshot"/*.swift \
        "$FUZZ/Driver.swift" "$FUZZ/FuzzTarget.swift" -o "$FUZZER" 2>"$WORK/build-fuzzer.log" || rm -f "$FUZZER"
fi

rm -f "$WORK/seeds"/*
"$TOOL" corpus "$WORK/seeds" || die "the tool could not write the seed corpus"
((fresh)) && rm -f "$WORK/corpus"/*

status=0

# --- libFuzzer ------------------------------------------------------------------------------------
if ((!only_tools)); then
    if [[ -x $FUZZER ]]; then
        args=(-runs="$runs" -seed="$seed" -timeout=10 -rss_limit_mb=3072 -max_len=8192
            -dict="$FUZZ/paxos.dict" -artifact_prefix="$WORK/artifacts/" -print_final_stats=1
            -print_pcs=0 -reload=0)
        [[ -n $max_time ]] && args+=(-max_total_time="$max_time")
        have_corpus=""
        [[ -d $FUZZ/corpus ]] && have_corpus=1
        before=$(find "$WORK/artifacts" -type f | wc -l)
        note "libFuzzer: ${runs} runs${max_time:+, at most ${max_time}s}; log in $WORK/fuzz.log"
        start=$(date +%s)
        set +e
        # No leak checking (the harness keeps its template on purpose), no allocation stacks (half the
        # time went to recording them), a smaller quarantine.
        # The Swift backtracer, under ASan, reports its own memory reads as errors: off.
        SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no} \
        ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:malloc_context_size=0:quarantine_size_mb=64} "$FUZZER" "${args[@]}" "${extra[@]}" \
            "$WORK/corpus" "$WORK/seeds" ${have_corpus:+"$FUZZ/corpus"} >"$WORK/fuzz.log" 2>&1
        st=$?
        set -e
        secs=$(($(date +%s) - start))
        { grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$WORK/fuzz.log" || true; } | tail -2 | sed 's/^/  /'
        stat() { { grep -E "^stat::$1:" "$WORK/fuzz.log" || true; } | tail -1 | awk '{print $2}'; }
        done_line=$({ grep -E '^#[0-9]+[[:space:]]' "$WORK/fuzz.log" || true; } | tail -1)
        cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/cov \1, features \2, corpus \3/p' <<<"$done_line")
        echo "libFuzzer: $(stat number_of_executed_units) executions in ${secs}s," \
            "$(stat average_exec_per_sec) exec/s, peak RSS $(stat peak_rss_mb) MB; $cov; exit status $st"
        grep -E '^known bug stepped around' "$WORK/fuzz.log" | sed 's/^/  /' || true
        after=$(find "$WORK/artifacts" -type f | wc -l)
        if ((st == 72 && after == before)); then
            status=1
            echo "FAIL libFuzzer was interrupted (exit 72) before its runs were done"
        elif ((st != 0 || after > before)); then
            status=1
            echo "FAIL libFuzzer found a problem (exit $st); artifacts:"
            for f in $(find "$WORK/artifacts" -type f -newer "$WORK/build.sum" | sort); do
                echo "  $f ($(wc -c <"$f") bytes): $(head -c 256 "$f" | od -An -tx1 -v | tr -d ' \n')"
            done
            grep -E 'ERROR: libFuzzer|ERROR: AddressSanitizer|Fatal error|FUZZ INVARIANT|^ *#[0-9]+ 0x|SUMMARY' \
                "$WORK/fuzz.log" | head -40 | sed 's/^/  | /'
        else
            echo "PASS libFuzzer: no crash, no timeout, no OOM"
        fi
    else
        note "no libFuzzer harness: running the seeded generator for $runs inputs instead"
        generate=${generate:-$runs}
    fi
fi

# --- seeded generator -----------------------------------------------------------------------------
if [[ -n $generate ]]; then
    note "seeded generator: $generate inputs, seed $seed"
    if PAXOS_FUZZ_WATCHDOG=10 "$TOOL" generate "$generate" "$seed" >"$WORK/generate.log" 2>&1; then
        grep -v '^#' "$WORK/generate.log"
        echo "PASS generator: $generate inputs, no crash"
    else
        status=1
        tail -30 "$WORK/generate.log"
        [[ -f watchdog-input ]] && mv watchdog-input "$WORK/artifacts/watchdog-input-$(date +%s)"
        echo "FAIL generator crashed or hung (see $WORK/generate.log, $WORK/artifacts/)"
    fi
fi

# --- absurd catalogue -----------------------------------------------------------------------------
if ((absurd)); then
    echo "absurd messages in a simulated cluster (acceptors 1-3 starting blank, proposers 1-2, learners 1-2, 300 values):"
    "$TOOL" catalogue | "$TOOL" absurd 2>"$WORK/absurd.err" | tee "$WORK/absurd.log" | cut -c1-220
    bad=$(grep -cE '^[a-z]+/[^ ]+ +(STALL|WRONG|HANG|CRASH|SLOW)' "$WORK/absurd.log" | tr -d ' ' || true)
    badabsurd=$(grep -cE '^absurd/[^ ]+ +(STALL|WRONG|HANG|CRASH|SLOW)' "$WORK/absurd.log" | tr -d ' ' || true)
    echo "absurd catalogue: $bad entries not shrugged off ($badabsurd of them in category 'absurd'); full lines in $WORK/absurd.log"
    ((badabsurd == 0)) || status=1
fi
exit "$status"

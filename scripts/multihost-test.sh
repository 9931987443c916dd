#!/usr/bin/env bash
# Several hosts: the roles spread over three (or more) private network namespaces joined by a
# Linux bridge, multicast over their veth interfaces, hosts cut off mid-run (link down) and healed.
#
# Usage: scripts/multihost-test.sh [-n N] [--hosts H] [--only NAME[,NAME...]]
#                                  [--cut-side switch|host] [--feed S] [--cut-at S] [--cut-for S]
#                                  [--finish S] [--keep]
#
#   -n N            values per client (default 2000), fed through a pipe at an even pace over
#                   --feed seconds, so values are still flowing when hosts are cut off
#   --hosts H       host namespaces, 3..9 (default 3); every host runs an acceptor and a learner
#                   (acceptor-count H), hosts 1 and 2 also a proposer and a client
#   --only NAMES    run only these scenarios (comma-separated): minority, nomajority
#   --cut-side S    how a host is cut off: "switch" (default) sets its port on the bridge down, as
#                   if the cable were pulled at the switch: the host's own interface stays up, its
#                   local processes still hear each other; "host" sets the host's own veth down
#                   (the kernel then drops its routes; healing brings the link up and re-adds the
#                   multicast route)
#   --feed S        seconds over which each client's values are fed (default 8)
#   --cut-at S      seconds after the clients start at which hosts are cut off (default 2)
#   --cut-for S     seconds the cut lasts (default 4); --cut-at + --cut-for must not exceed --feed
#   --finish S      seconds allowed after healing for everything to be learned (default 20)
#   --keep          keep every scenario's folder (failed ones are always kept)
#
# Topology (all of it in namespaces created here and deleted on exit, also on failure/Ctrl-C):
#   pxmh<PID>-sw     the "switch": bridge br0 (no STP, multicast snooping off, so multicast floods
#                    to every port), ports p1..pH
#   pxmh<PID>-h<k>   host k: veth0 = 10.77.0.k/24, multicast on, route 224.0.0.0/4 dev veth0;
#                    its peer p<k> is a port of br0. Config: the course's four lines (239.0.0.1,
#                    ports 5000/6000/7000/8000) + "interface 10.77.0.k", "ttl 1", "acceptor-count H";
#                    state in its own folder host<k>/state.
#   host1: acceptor 1, proposer 1 (the initial leader), learner 1, client 1
#   host2: acceptor 2, proposer 2, learner 2, client 2      host3..H: acceptor k, learner k
#
# First a plumbing check (scripts/lib/mcast-probe.py, needs python3): a 100-byte and a
# 60000-byte (fragmented) multicast datagram cross from every host to every other host; a cut
# host neither reaches nor hears host 2; after healing it does again.
#
# Scenarios (each a fresh cluster on the same network):
#   minority    cut host 1 (leader, acceptor 1, learner 1, client 1): the others keep a majority,
#               so learners 2..H must keep learning during the cut (counts sampled 1.5 s after the
#               cut, once in-flight messages have settled, and at the heal must differ), while
#               learner 1, alone with one acceptor, learns nothing; after healing learner 1
#               catches up and both clients' values are all learned
#   nomajority  cut hosts 1..ceil(H/2), each alone: no majority anywhere, so no learner's count
#               may move from 1.5 s after the cut until the heal; after healing all completes
# The PASS line also reports, for information, the proposers' mode and ballot from their .status
# files before the cut and before the heal, and in whose ballots host H's acceptor voted.
# Throughout, every 0.2 s: all learners' outputs are prefixes of one sequence, and no process
# other than a finished client has exited. At the end: every learner has all 2N values and both
# clients exited 0; processes stopped with SIGTERM exit 0 promptly; scripts/check.sh (identical
# outputs, learned = proposed exactly once, each learner's database = its output).
#
# The binary is $PAXOS_BIN if set, else the repository's release build (built if missing).
# Prints one line per check, "PASS name (...)", "FAIL name: reason" or "SKIP name: reason", then
# "N passed, M failed" alone on the last line; exit status 0 only if nothing failed. Without root
# or without `ip`, prints "SKIP multihost: ..." and exits 0.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

usage() { sed -n '/^# Usage:/,/^#   --keep/s/^# \{0,1\}//p' "$0"; }

ALL_SCENARIOS=(minority nomajority)
n=2000
hosts=3
only=()
keep=0
cut_side=switch
feed=8
cut_at=2
cut_for=4
finish=20

SETTLE_MS=1500   # after a cut: time for in-flight messages and the leader change to settle
POLL=0.2         # seconds between two samples of the learners' outputs
TAIL_MS=500      # keep running this long once all is learned, so that late duplicates show up
STAGE=0.3        # seconds between acceptors, learners, proposer 1, proposer 2, clients
SUBNET=10.77.0   # host k is $SUBNET.k
GROUP=239.0.0.1
PORT_BASE=5000
PROBE_GROUP=239.77.0.1
PROBE_PORT=4999

to_ms() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }'; }

parse_args() {
    need() { (($# >= 2)) || die "option $1 needs a value (see --help)"; }
    while (($#)); do
        case $1 in
            -n) need "$@"; n=$2; shift ;;
            --hosts) need "$@"; hosts=$2; shift ;;
            --only) need "$@"; add_only_scenarios "$2"; shift ;;
            --cut-side) need "$@"; cut_side=$2; shift ;;
            --feed) need "$@"; feed=$2; shift ;;
            --cut-at) need "$@"; cut_at=$2; shift ;;
            --cut-for) need "$@"; cut_for=$2; shift ;;
            --finish) need "$@"; finish=$2; shift ;;
            --keep) keep=1 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
        shift
    done
    is_posint "$n" && ((10#$n < 1000000)) || die "-n needs an integer 1..999999, not '$n'"
    n=$((10#$n))
    [[ $hosts =~ ^[3-9]$ ]] || die "--hosts needs 3..9, not '$hosts'"
    [[ $cut_side == switch || $cut_side == host ]] || die "--cut-side is switch or host, not '$cut_side'"
    local v
    for v in feed cut_at cut_for finish; do
        is_seconds "${!v}" && ! is_zero "${!v}" || die "--${v//_/-} needs positive seconds, not '${!v}'"
    done
    FEED_MS=$(to_ms "$feed")
    CUT_AT_MS=$(to_ms "$cut_at")
    CUT_FOR_MS=$(to_ms "$cut_for")
    FINISH_MS=$(to_ms "$finish")
    ((CUT_AT_MS + CUT_FOR_MS <= FEED_MS)) ||
        die "--cut-at + --cut-for ($cut_at + $cut_for s) must not exceed --feed ($feed s): client 2 must still be feeding during the cut"
    ((CUT_FOR_MS > SETTLE_MS + 500)) || die "--cut-for must exceed $(fmt_s $((SETTLE_MS + 500))) s"
}

# --- the network ---------------------------------------------------------------------------

NS_PREFIX="pxmh$$"
SW_NS="$NS_PREFIX-sw"
MY_NS=()        # namespaces created so far (deleted in reverse order)
host_ns() { echo "$NS_PREFIX-h$1"; }
host_ip() { echo "$SUBNET.$1"; }

net_setup() {
    local k ns
    ip netns add "$SW_NS" || return 1
    MY_NS+=("$SW_NS")
    ip -n "$SW_NS" link set lo up &&
        ip -n "$SW_NS" link add br0 type bridge stp_state 0 mcast_snooping 0 &&
        ip -n "$SW_NS" link set br0 up || return 1
    for ((k = 1; k <= hosts; k++)); do
        ns=$(host_ns "$k")
        ip netns add "$ns" || return 1
        MY_NS+=("$ns")
        # No IPv6 in our namespaces: no router solicitations or MLD chatter on the bridge.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
        ip -n "$ns" link set lo up &&
            ip -n "$ns" link add veth0 type veth peer name "p$k" netns "$SW_NS" &&
            ip -n "$SW_NS" link set "p$k" master br0 &&
            ip -n "$SW_NS" link set "p$k" up &&
            ip -n "$ns" addr add "$(host_ip "$k")/24" dev veth0 &&
            ip -n "$ns" link set veth0 multicast on &&
            ip -n "$ns" link set veth0 up &&
            ip -n "$ns" route add 224.0.0.0/4 dev veth0 || return 1
    done
}

# net_teardown: ends whatever still runs inside our namespaces (only processes we started can
# be there), then deletes them, hosts first (their veth ends take the bridge ports along).
net_teardown() {
    local i ns pids
    for ((i = ${#MY_NS[@]} - 1; i >= 0; i--)); do
        ns=${MY_NS[i]}
        pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
        if [[ -n ${pids// /} ]]; then
            note "ending leftover processes in namespace $ns: $pids"
            # shellcheck disable=SC2086 # a list of PIDs
            kill -TERM $pids 2>/dev/null
            sleep 0.5
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null
        fi
        ip netns del "$ns" 2>/dev/null || note "could not delete network namespace $ns"
    done
    MY_NS=()
}

cut_host() {
    if [[ $cut_side == switch ]]; then
        ip -n "$SW_NS" link set "p$1" down
    else
        ip -n "$(host_ns "$1")" link set veth0 down
    fi
}

heal_host() {
    if [[ $cut_side == switch ]]; then
        ip -n "$SW_NS" link set "p$1" up
    else
        local ns
        ns=$(host_ns "$1")
        # Setting a link down flushes its routes; the connected one returns with the link.
        ip -n "$ns" link set veth0 up && ip -n "$ns" route replace 224.0.0.0/4 dev veth0
    fi
}

# --- the plumbing check --------------------------------------------------------------------

PY=""
PROBE=$SCRIPTS_DIR/lib/mcast-probe.py
PROBE_PIDS=()
SEND_PIDS=()

# probe_recv K OUT TIMEOUT TAG...: a receiver on host K in the background, output to OUT.
probe_recv() {
    local k=$1 out=$2 t=$3
    shift 3
    ip netns exec "$(host_ns "$k")" "$PY" "$PROBE" recv "$(host_ip "$k")" "$PROBE_GROUP" "$PROBE_PORT" "$t" "$@" \
        >"$out" 2>&1 &
    PROBE_PIDS+=($!)
}

# probe_send K TAG SIZE: three datagrams from host K, in the background.
probe_send() {
    local k=$1 tag=$2 size=$3
    ip netns exec "$(host_ns "$k")" "$PY" "$PROBE" send "$(host_ip "$k")" "$PROBE_GROUP" "$PROBE_PORT" "$tag" "$size" \
        >>"$PROBE_DIR/send.log" 2>&1 &
    SEND_PIDS+=($!)
}

# probe_wait_ready FILE...: until every receiver printed READY (bounded).
probe_wait_ready() {
    local deadline=$(($(now_ms) + 5000)) f ok
    while (($(now_ms) < deadline)); do
        ok=1
        for f in "$@"; do grep -q '^READY' "$f" 2>/dev/null || { ok=0; break; }; done
        ((ok)) && return 0
        sleep 0.05
    done
    return 1
}

# probe_collect: waits for the receivers (each bounded by its own timeout); status 0 if all
# exited 0. Fills PROBE_FAILED with the indexes of those that did not.
probe_collect() {
    local i st=0
    PROBE_FAILED=()
    for i in "${!PROBE_PIDS[@]}"; do
        wait "${PROBE_PIDS[i]}" || { PROBE_FAILED+=("$i"); st=1; }
    done
    PROBE_PIDS=()
    return $st
}

PROBE_DIR=""
plumbing() {
    PROBE_DIR=$WORK/plumbing
    mkdir -p "$PROBE_DIR"
    local k j problems=() files=() tags
    # 1. every host hears every other host, small and fragmented datagrams.
    for ((k = 1; k <= hosts; k++)); do
        tags=()
        for ((j = 1; j <= hosts; j++)); do ((j == k)) || tags+=("h$j-small" "h$j-big"); done
        probe_recv "$k" "$PROBE_DIR/mesh$k" 3 "${tags[@]}"
        files+=("$PROBE_DIR/mesh$k")
    done
    probe_wait_ready "${files[@]}" || problems+=("receivers did not start (see $PROBE_DIR)")
    for ((k = 1; k <= hosts; k++)); do
        probe_send "$k" "h$k-small" 100
        probe_send "$k" "h$k-big" 60000
    done
    wait_probe_senders
    if ! probe_collect; then
        for i in "${PROBE_FAILED[@]}"; do
            k=$((i + 1))
            problems+=("host $k heard only: $(grep -v READY "$PROBE_DIR/mesh$k" | paste -sd, - | sed 's/,/, /g')")
        done
    fi
    # 2. a cut host neither reaches nor hears host 2 (receivers must time out empty) ...
    if ((${#problems[@]} == 0)); then
        cut_host 1 || problems+=("could not cut host 1")
        probe_recv 2 "$PROBE_DIR/cut2" 0.7 h1-small
        probe_recv 1 "$PROBE_DIR/cut1" 0.7 h2-small
        probe_wait_ready "$PROBE_DIR/cut2" "$PROBE_DIR/cut1" || problems+=("receivers did not start (cut)")
        probe_send 1 h1-small 100
        probe_send 2 h2-small 100
        wait_probe_senders
        probe_collect || true
        grep -q '^h1-small' "$PROBE_DIR/cut2" && problems+=("host 2 still heard host 1 while it was cut off")
        grep -q '^h2-small' "$PROBE_DIR/cut1" && problems+=("host 1 still heard host 2 while it was cut off")
        # ... and after healing both directions work again.
        heal_host 1 || problems+=("could not heal host 1")
        probe_recv 2 "$PROBE_DIR/heal2" 2 h1-small
        probe_recv 1 "$PROBE_DIR/heal1" 2 h2-small
        probe_wait_ready "$PROBE_DIR/heal2" "$PROBE_DIR/heal1" || problems+=("receivers did not start (heal)")
        probe_send 1 h1-small 100
        probe_send 2 h2-small 100
        wait_probe_senders
        probe_collect || problems+=("after healing host 1, multicast between hosts 1 and 2 does not get through")
    fi
    if ((${#problems[@]} == 0)); then
        echo "PASS plumbing (100 B and 60000 B multicast crosses between all $hosts hosts; cut at the $cut_side, host 1 neither reaches nor hears host 2; healed, it does again)"
        rm -rf "$PROBE_DIR"
        return 0
    fi
    local IFS=$'\x1f' joined
    joined="${problems[*]}"
    echo "FAIL plumbing: ${joined//$'\x1f'/; }"
    echo "     kept: $PROBE_DIR"
    return 1
}

wait_probe_senders() {
    local pid
    for pid in "${SEND_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    SEND_PIDS=()
}

# --- the cluster ---------------------------------------------------------------------------

WORK=""        # this run's folder
dir=""         # the current scenario's folder
t0=0           # when its clients started (ms)
FEED_PIDS=()
declare -A CNT=()   # learner id -> lines in its output at the last sample
PROBLEM=""          # the first safety or liveness problem seen while sampling

# run_on K LABEL STDIN STDOUT ROLE ID: the binary's ROLE ID on host K, stderr to hostK/LABEL.log.
run_on() {
    local k=$1 label=$2 in=$3 out=$4 role=$5 id=$6
    # shellcheck disable=SC2034 # NS_EXEC and SELF_EXIT are common.sh's
    NS_EXEC=(ip netns exec "$(host_ns "$k")")
    spawn "$label" "$in" "$out" "$dir/host$k/$label.log" \
        "$PAXOS_BIN" "$role" "$id" "$dir/host$k/paxos.conf" --state "$dir/host$k/state"
    # shellcheck disable=SC2034
    NS_EXEC=()
}

# feeder FILE CHUNK: FILE's lines to stdout, CHUNK lines every 0.1 s.
feeder() {
    local -a lines
    local i=0
    mapfile -t lines <"$1"
    while ((i < ${#lines[@]})); do
        printf '%s\n' "${lines[@]:i:$2}"
        i=$((i + $2))
        sleep 0.1
    done
}

stop_feeders() {
    local pid
    for pid in "${FEED_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    FEED_PIDS=()
}

# sample: CNT[k] for every learner; checks that the outputs are prefixes of one sequence, that
# no non-client process has exited, and that a client that exited did so with status 0.
# Returns 1 (and sets PROBLEM) on the first problem.
sample() {
    local k c ref=1 label
    for ((k = 1; k <= hosts; k++)); do
        CNT[$k]=$(count_lines "$dir/learn$k")
        ((CNT[$k] > CNT[$ref])) && ref=$k
    done
    echo "$(($(now_ms) - t0)) $(counts)" >>"$dir/timeline"
    for ((k = 1; k <= hosts; k++)); do
        c=${CNT[$k]}
        ((k != ref && c > 0)) || continue
        if ! cmp -s <(head -n "$c" "$dir/learn$ref") <(head -n "$c" "$dir/learn$k"); then
            PROBLEM="safety: learner $k's $c lines are not a prefix of learner $ref's output"
            return 1
        fi
    done
    for label in "${LABELS[@]}"; do
        [[ -n ${PID_OF[$label]:-} ]] || continue
        is_running "$label" && continue
        reap "$label"
        # shellcheck disable=SC2034
        SELF_EXIT[$label]=1
        if [[ $label != client* ]]; then
            PROBLEM="$label exited by itself (status ${STATUS_OF[$label]}): $(tail -n 2 "$dir"/host*/"$label.log" 2>/dev/null | paste -sd' ' -)"
            return 1
        elif ((STATUS_OF[$label] != 0)); then
            PROBLEM="$label exited with status ${STATUS_OF[$label]}: $(tail -n 2 "$dir"/host*/"$label.log" 2>/dev/null | paste -sd' ' -)"
            return 1
        fi
    done
    return 0
}

counts() { # "learner1 12, learner2 40, ..."
    local k out=()
    for ((k = 1; k <= hosts; k++)); do out+=("learner$k ${CNT[$k]}"); done
    local IFS=,
    echo "${out[*]}" | sed 's/,/, /g'
}

all_done() {
    local k
    for ((k = 1; k <= hosts; k++)); do ((CNT[$k] >= 2 * n)) || return 1; done
    [[ -z ${PID_OF[client1]:-} && -z ${PID_OF[client2]:-} ]]
}

# poll_until DEADLINE_MS [COND]: samples every POLL s until the deadline (status 0), or until
# COND holds (status 0), or a problem (status 1, PROBLEM set). With COND, the deadline passing
# is status 2.
poll_until() {
    local deadline=$1 cond=${2:-}
    while :; do
        sample || return 1
        [[ -n $cond ]] && $cond && return 0
        (($(now_ms) < deadline)) || { [[ -n $cond ]] && return 2; return 0; }
        sleep "$POLL"
    done
}

# votes_info: which proposers' ballots the last host's acceptor (never cut off) voted in, e.g.
# "acceptor 3 voted in ballots of proposer 1 for 980 instances, of proposer 2 for 1020": shows the
# leader change. Empty without sqlite3 or when the query fails (informational only).
votes_info() {
    local db=$dir/host$hosts/state/acceptor-$hosts.sqlite rows p c parts=()
    command -v sqlite3 >/dev/null && [[ -f $db ]] || return 0
    rows=$(sqlite3 -init /dev/null -batch -readonly -list -noheader -separator ' ' "$db" \
        'SELECT proposer, count(*) FROM accepted GROUP BY proposer ORDER BY proposer' 2>/dev/null) || return 0
    while read -r p c; do [[ -n $p ]] && parts+=("proposer $p for $c"); done <<<"$rows"
    ((${#parts[@]} > 0)) || return 0
    local IFS=,
    echo "acceptor $hosts voted in ballots of ${parts[*]} instances" | sed 's/,/, of /g'
}

# leaders_info: the proposers' own view from their .status files (refreshed every second by the
# binary), e.g. "proposer 1 leader 1.1, proposer 2 follower 1.1". Empty without them (informational).
leaders_info() {
    local p f mode ballot parts=()
    for p in 1 2; do
        f=$dir/host$p/state/proposer-$p.status
        [[ -f $f ]] || continue
        mode=$(awk '$1 == "mode" { print $2 }' "$f" 2>/dev/null)
        ballot=$(awk '$1 == "ballot" { print $2 }' "$f" 2>/dev/null)
        [[ -n $mode ]] && parts+=("proposer $p $mode${ballot:+ $ballot}")
    done
    ((${#parts[@]} > 0)) || return 0
    local IFS=,
    echo "${parts[*]}" | sed 's/,/, /g'
}

# run_scenario NAME: prints its PASS/FAIL line; returns 0 pass, 1 fail.
run_scenario() {
    local name=$1 k cut=()
    case $name in
        minority) cut=(1) ;;
        nomajority) for ((k = 1; k <= (hosts + 1) / 2; k++)); do cut+=("$k"); done ;;
    esac
    dir=$WORK/$name
    mkdir -p "$dir" || die "mkdir $dir failed"
    PROBLEM=""
    CNT=()
    local problems=() info=()

    for ((k = 1; k <= hosts; k++)); do
        mkdir -p "$dir/host$k/state"
        write_config "$dir/host$k/paxos.conf" "$GROUP" "$PORT_BASE"
        printf 'interface %s\nttl 1\nacceptor-count %d\n' "$(host_ip "$k")" "$hosts" >>"$dir/host$k/paxos.conf"
        heal_host "$k" 2>/dev/null || true # every link up (a no-op when it already is)
    done
    local i
    for k in 1 2; do
        for ((i = 1; i <= n; i++)); do echo $((k * 1000000 + i)); done >"$dir/values$k"
        mkfifo "$dir/feed$k"
    done
    local chunk=$(((n * 100 + FEED_MS - 1) / FEED_MS)) # lines per 0.1 s
    ((chunk > 0)) || chunk=1

    # Start: acceptors, learners, proposer 1 (the initial leader), proposer 2, clients.
    for ((k = 1; k <= hosts; k++)); do run_on "$k" "acceptor$k" /dev/null /dev/null acceptor "$k"; done
    sleep "$STAGE"
    for ((k = 1; k <= hosts; k++)); do run_on "$k" "learner$k" /dev/null "$dir/learn$k" learner "$k"; done
    sleep "$STAGE"
    run_on 1 proposer1 /dev/null /dev/null proposer 1
    sleep "$STAGE"
    run_on 2 proposer2 /dev/null /dev/null proposer 2
    sleep "$STAGE"
    run_on 1 client1 "$dir/feed1" "$dir/host1/client1.out" client 1
    run_on 2 client2 "$dir/feed2" "$dir/host2/client2.out" client 2
    feeder "$dir/values1" "$chunk" >"$dir/feed1" &
    FEED_PIDS+=($!)
    feeder "$dir/values2" "$chunk" >"$dir/feed2" &
    FEED_PIDS+=($!)
    t0=$(now_ms)
    echo "# ms after the clients' start, learners' line counts" >"$dir/timeline"

    local st=0 lead_cut="" lead_heal="" at_settle=() at_heal=() t_cut t_heal caught="" t_done=""
    poll_until $((t0 + CUT_AT_MS)) || st=1
    if ((st == 0)); then
        lead_cut=$(leaders_info)
        ((CNT[2] > 0)) || problems+=("nothing learned in the $(fmt_s "$CUT_AT_MS") s before the cut ($(counts))")
        for k in "${cut[@]}"; do cut_host "$k" || problems+=("could not cut host $k"); done
        t_cut=$(now_ms)
        echo "$((t_cut - t0)) cut hosts ${cut[*]}" >>"$dir/timeline"
        poll_until $((t_cut + SETTLE_MS)) || st=1
    fi
    if ((st == 0)); then
        for ((k = 1; k <= hosts; k++)); do at_settle[k]=${CNT[$k]}; done
        poll_until $((t_cut + CUT_FOR_MS)) || st=1
    fi
    if ((st == 0)); then
        for ((k = 1; k <= hosts; k++)); do at_heal[k]=${CNT[$k]}; done
        lead_heal=$(leaders_info)
        for k in "${cut[@]}"; do heal_host "$k" || problems+=("could not heal host $k"); done
        t_heal=$(now_ms)
        echo "$((t_heal - t0)) healed hosts ${cut[*]}" >>"$dir/timeline"
        local span frozen=() grew=() moved=()
        span="between $(fmt_s $((t_cut - t0 + SETTLE_MS))) s and $(fmt_s $((t_heal - t0))) s"
        for ((k = 1; k <= hosts; k++)); do
            if [[ " ${cut[*]} " == *" $k "* ]]; then
                # Alone with one acceptor: no quorum, nothing new may be learned.
                ((at_heal[k] == at_settle[k])) && frozen+=("learner$k") ||
                    moved+=("learner $k (cut off) went from ${at_settle[k]} to ${at_heal[k]} $span")
            elif [[ $name == minority ]]; then
                ((at_heal[k] > at_settle[k])) && grew+=("learner$k +$((at_heal[k] - at_settle[k]))") ||
                    problems+=("no progress with a majority connected: learner $k stayed at ${at_settle[k]} $span")
            else
                ((at_heal[k] == at_settle[k])) && frozen+=("learner$k") ||
                    moved+=("learner $k went from ${at_settle[k]} to ${at_heal[k]} $span without a majority")
            fi
        done
        ((${#moved[@]} == 0)) || problems+=("${moved[@]}")
        local what="host ${cut[*]} cut off"
        if ((${#cut[@]} > 1)); then
            what=$(printf '%s, ' "${cut[@]}")
            what="hosts ${what%, } each cut off alone"
        fi
        info+=("$what $(fmt_s $((t_cut - t0))) s after the clients' start, for $(fmt_s $((t_heal - t_cut))) s")
        if [[ $name == minority ]]; then
            info+=("$span ${grew[*]}, ${frozen[*]} frozen at ${at_heal[1]}")
        else
            info+=("$span all learners frozen ($(counts))")
        fi

        # Healed: until every learner has everything and both clients are done.
        local ref_at_heal=0
        for ((k = 1; k <= hosts; k++)); do ((at_heal[k] > ref_at_heal)) && ref_at_heal=${at_heal[k]}; done
        local deadline=$((t_heal + FINISH_MS)) now
        while :; do
            sample || { st=1; break; }
            now=$(now_ms)
            if [[ -z $caught ]]; then
                if [[ $name == minority ]]; then
                    # Catch-up: the cut learner reaches what the best-informed learner had at the heal.
                    local behind=0
                    for k in "${cut[@]}"; do ((CNT[$k] >= ref_at_heal)) || behind=1; done
                    ((behind)) || caught=$((now - t_heal))
                else
                    # Progress resumes: some learner learns past the frozen count.
                    for ((k = 1; k <= hosts; k++)); do ((CNT[$k] > ref_at_heal)) && caught=$((now - t_heal)); done
                fi
            fi
            if all_done; then
                t_done=$((now - t_heal))
                poll_until $((now + TAIL_MS)) || st=1
                break
            fi
            ((now < deadline)) || break
            sleep "$POLL"
        done
        if ((st == 0)) && [[ -z $t_done ]]; then
            local waiting=()
            [[ -n ${PID_OF[client1]:-} ]] && waiting+=(client1)
            [[ -n ${PID_OF[client2]:-} ]] && waiting+=(client2)
            problems+=("not complete $(fmt_s "$FINISH_MS") s after healing: $(counts) of $((2 * n))${waiting[*]:+; still running: ${waiting[*]}}")
        fi
    fi
    ((st == 0)) || problems=("$PROBLEM" "${problems[@]}")

    stop_feeders
    stop_all
    local line
    while IFS= read -r line; do problems+=("$line"); done < <(exit_problems)
    forget_procs
    rm -f "$dir/feed1" "$dir/feed2"

    # scripts/check.sh on the files; the learner databases live in each host's own folder, so
    # they are linked into one folder as learner-<k>.sqlite for its Test 5.
    mkdir -p "$dir/dbcheck"
    local learned=()
    for ((k = 1; k <= hosts; k++)); do
        learned+=("$dir/learn$k")
        [[ -f $dir/host$k/state/learner-$k.sqlite ]] &&
            ln -sf "$dir/host$k/state/learner-$k.sqlite" "$dir/dbcheck/learner-$k.sqlite"
    done
    local check_ok=1
    "$SCRIPTS_DIR/check.sh" --state "$dir/dbcheck" --values "$dir/values1" "$dir/values2" \
        --learned "${learned[@]}" >"$dir/check.out" 2>&1 || check_ok=0
    if ((!check_ok)); then
        while IFS= read -r line; do problems+=("${line#FAIL }"); done < <(grep '^FAIL' "$dir/check.out")
        grep -q '^FAIL' "$dir/check.out" || problems+=("check.sh failed: $(tail -n 1 "$dir/check.out")")
    fi
    local checks
    checks=$(tail -n 1 "$dir/check.out")

    if ((${#problems[@]} == 0)); then
        if [[ $name == minority ]]; then
            info+=("healed: learner ${cut[*]} caught up in $(fmt_s "${caught:-0}") s")
        else
            info+=("healed: learning resumed after $(fmt_s "${caught:-0}") s")
        fi
        info+=("all $((2 * n)) values learned by $hosts learners $(fmt_s "$t_done") s after healing")
        [[ -z $lead_cut$lead_heal ]] ||
            info+=("status files before the cut: ${lead_cut:-?}; before the heal: ${lead_heal:-?}")
        local votes
        votes=$(votes_info)
        [[ -z $votes ]] || info+=("$votes")
        info+=("check.sh: $checks")
        local summary
        summary=$(printf '%s; ' "${info[@]}")
        summary=${summary%; }
        echo "PASS $name ($summary)"
        if ((keep)); then echo "     kept: $dir"; else rm -rf "$dir"; fi
        dir=""
        return 0
    fi
    local IFS=$'\x1f' joined
    joined="${problems[*]}"
    echo "FAIL $name: ${joined//$'\x1f'/; }"
    echo "     kept: $dir (values<k>, learn<k>, timeline, host<k>/*.log, host<k>/state/, check.out)"
    sed 's/^/     | /' "$dir/check.out"
    dir=""
    return 1
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    stop_feeders
    if ((${#PID_OF[@]} > 0)); then
        note "stopping the processes started by this test"
        stop_all
    fi
    local pid
    for pid in "${PROBE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    net_teardown
    if [[ -n $dir ]]; then
        note "interrupted; files kept in $dir"
    elif [[ -n $WORK && -d $WORK ]]; then
        rmdir "$WORK" 2>/dev/null || true # only when no failed scenario's folder is left in it
    fi
    exit "$rc"
}

main() {
    parse_args "$@"
    if ((EUID != 0)); then
        echo "SKIP multihost: needs root (network namespaces, veth pairs and a bridge)"
        exit 0
    fi
    if ! command -v ip >/dev/null; then
        echo "SKIP multihost: needs iproute2's ip (apt-get install -y iproute2)"
        exit 0
    fi
    ensure_binary
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/paxos-multihost.XXXXXX") || die "mktemp failed"

    if ! net_setup; then
        echo "SKIP multihost: could not create the namespaces, veth pairs and bridge (kernel without veth/bridge support?)"
        exit 0
    fi
    note "$hosts hosts on bridge br0 in namespace $SW_NS, $n values per client over ${feed}s, cut at the $cut_side; binary $PAXOS_BIN"

    local passed=0 failed=0
    if command -v python3 >/dev/null && PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) && [[ -x $PY ]]; then
        if plumbing; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "$passed passed, $failed failed"
            return 1
        fi
    else
        echo "SKIP plumbing: python3 is not installed (multicast between the namespaces is not checked separately)"
    fi

    local scenarios=("${ALL_SCENARIOS[@]}") name
    ((${#only[@]} == 0)) || scenarios=("${only[@]}")
    for name in "${scenarios[@]}"; do
        if run_scenario "$name"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

main "$@"

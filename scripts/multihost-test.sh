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
# Topology, in namespaces created here and deleted on exit (also on failure/Ctrl-C): pxmh<PID>-sw, the
# "switch" (bridge br0, no STP, multicast snooping off: multicast floods every port p1..pH), and
# pxmh<PID>-h<k>, host k: veth0 = 10.77.0.k/24 (peer p<k>), route 224.0.0.0/4 dev veth0; config = the
# course's four lines + "interface 10.77.0.k", "ttl 1", "acceptor-count H"; state in host<k>/state.
# Host k runs acceptor k and learner k; hosts 1 and 2 also proposer and client 1 and 2 (proposer 1 leads).
#
# First a plumbing check (paxos-bench probe, beside the paxos binary): 100-byte and 60000-byte
# (fragmented) datagrams cross between all hosts; a cut host neither reaches nor hears host 2; healed, it does.
# Scenarios (each a fresh cluster on the same network):
#   minority    cut host 1: learners 2..H must keep learning during the cut (counts 1.5 s after the cut
#               and at the heal differ) while learner 1, alone with one acceptor, learns nothing; healed,
#               learner 1 catches up and all values are learned
#   nomajority  cut hosts 1..ceil(H/2), each alone: no learner's count may move from 1.5 s after the cut
#               until the heal; healed, all completes
# Throughout, every 0.2 s: all outputs are prefixes of one sequence (`paxos check --prefix`) and no process
# but a finished client has exited. At the end: all 2N values learned, clients exited 0, SIGTERM obeyed
# promptly, `paxos check` passes (identical outputs, exactly once, each learn database = its output). The
# PASS line also shows the proposers' mode and ballot (.status files) before the cut and before the heal.
#
# The binary is $PAXOS_BIN if set, else the repository's release build (built if missing). Prints
# "PASS name (...)", "FAIL name: reason" or "SKIP name: reason" per check, then "N passed, M failed";
# exit status 0 only if nothing failed. Without root or `ip`: "SKIP multihost: ..." and exit 0.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib/common.sh"

ALL_SCENARIOS=(minority nomajority)
n=2000 hosts=3 only=() keep=0 cut_side=switch feed=8 cut_at=2 cut_for=4 finish=20
SETTLE_MS=1500 # after a cut: time for in-flight messages and the leader change to settle
POLL=0.2       # seconds between two samples of the learners' outputs
TAIL_MS=500    # keep running this long once all is learned, so that late duplicates show up
STAGE=0.3      # seconds between acceptors, learners, proposer 1, proposer 2, clients
SUBNET=10.77.0 GROUP=239.0.0.1 PORT_BASE=5000 PROBE_GROUP=239.77.0.1 PROBE_PORT=4999

USAGE_END=--keep
is_n() { is_posint "$1" && ((10#$1 < 1000000)); }
is_hosts() { [[ $1 =~ ^[3-9]$ ]]; }
is_side() { [[ $1 == switch || $1 == host ]]; }
is_positive_seconds() { is_seconds "$1" && ! is_zero "$1"; }
declare -A FLAGS=([--keep]="keep 1")
declare -A OPTS=(
    [-n]="n is_n needs an integer 1..999999, not '%s'"
    [--hosts]="hosts is_hosts needs 3..9, not '%s'"
    [--only]="only add_only_scenarios"
    [--cut-side]="cut_side is_side is switch or host, not '%s'"
    [--feed]="feed is_positive_seconds needs positive seconds, not '%s'"
    [--cut-at]="cut_at is_positive_seconds needs positive seconds, not '%s'"
    [--cut-for]="cut_for is_positive_seconds needs positive seconds, not '%s'"
    [--finish]="finish is_positive_seconds needs positive seconds, not '%s'")

to_ms() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }'; }

parse_args() {
    parse_opts "$@"
    n=$((10#$n))
    FEED_MS=$(to_ms "$feed") CUT_AT_MS=$(to_ms "$cut_at") CUT_FOR_MS=$(to_ms "$cut_for") FINISH_MS=$(to_ms "$finish")
    ((CUT_AT_MS + CUT_FOR_MS <= FEED_MS)) ||
        die "--cut-at + --cut-for ($cut_at + $cut_for s) must not exceed --feed ($feed s): client 2 must still be feeding during the cut"
    ((CUT_FOR_MS > SETTLE_MS + 500)) || die "--cut-for must exceed $(fmt_s $((SETTLE_MS + 500))) s"
}

# --- the network ---------------------------------------------------------------------------

NS_PREFIX="pxmh$$"
SW_NS="$NS_PREFIX-sw"
MY_NS=() # namespaces created so far (deleted in reverse order)
host_ns() { echo "$NS_PREFIX-h$1"; }
host_ip() { echo "$SUBNET.$1"; }

net_setup() {
    local k ns
    ip netns add "$SW_NS" || return 1
    MY_NS+=("$SW_NS")
    ip -n "$SW_NS" link set lo up && ip -n "$SW_NS" link add br0 type bridge stp_state 0 mcast_snooping 0 &&
        ip -n "$SW_NS" link set br0 up || return 1
    for ((k = 1; k <= hosts; k++)); do
        ns=$(host_ns "$k")
        ip netns add "$ns" || return 1
        MY_NS+=("$ns")
        # No IPv6 in our namespaces: no router solicitations or MLD chatter on the bridge.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 &>/dev/null || true
        ip -n "$ns" link set lo up &&
            ip -n "$ns" link add veth0 type veth peer name "p$k" netns "$SW_NS" &&
            ip -n "$SW_NS" link set "p$k" master br0 && ip -n "$SW_NS" link set "p$k" up &&
            ip -n "$ns" addr add "$(host_ip "$k")/24" dev veth0 &&
            ip -n "$ns" link set veth0 multicast on && ip -n "$ns" link set veth0 up &&
            ip -n "$ns" route add 224.0.0.0/4 dev veth0 || return 1
    done
}

# Hosts first: their veth ends take the bridge ports along.
net_teardown() { local i; for ((i = ${#MY_NS[@]} - 1; i >= 0; i--)); do netns_kill_delete "${MY_NS[i]}"; done; MY_NS=(); }

cut_host() {
    if [[ $cut_side == switch ]]; then ip -n "$SW_NS" link set "p$1" down; else ip -n "$(host_ns "$1")" link set veth0 down; fi
}

# Setting a host's link down flushes its routes; the connected one returns with the link, not ours.
heal_host() {
    if [[ $cut_side == switch ]]; then ip -n "$SW_NS" link set "p$1" up
    else ip -n "$(host_ns "$1")" link set veth0 up && ip -n "$(host_ns "$1")" route replace 224.0.0.0/4 dev veth0
    fi
}

# --- the plumbing check --------------------------------------------------------------------

PROBE=() PROBE_DIR="" PROBE_PIDS=() SEND_PIDS=()

# probe_recv K NAME TIMEOUT TAG...: a receiver on host K in the background, output to PROBE_DIR/NAME.
probe_recv() {
    ip netns exec "$(host_ns "$1")" "${PROBE[@]}" recv "$(host_ip "$1")" "$PROBE_GROUP" "$PROBE_PORT" "${@:3}" \
        >"$PROBE_DIR/$2" 2>&1 &
    PROBE_PIDS+=($!)
}

# probes_ready NAME...: until every receiver printed READY (5 s at most).
probes_ready() {
    local deadline=$(($(now_ms) + 5000)) f ok
    while (($(now_ms) < deadline)); do
        ok=1
        for f in "$@"; do grep -q '^READY' "$PROBE_DIR/$f" 2>/dev/null || { ok=0; break; }; done
        ((ok)) && return 0
        sleep 0.05
    done
    return 1
}

# probe_send K TAG SIZE...: three datagrams of each SIZE from host K, then waits for the senders.
probe_send() {
    local size
    for size in "${@:3}"; do
        ip netns exec "$(host_ns "$1")" "${PROBE[@]}" send "$(host_ip "$1")" "$PROBE_GROUP" "$PROBE_PORT" "$2-$size" "$size" \
            >>"$PROBE_DIR/send.log" 2>&1 &
        SEND_PIDS+=($!)
    done
}

# probes_collect: waits for senders and receivers (each bounded by its own timeout); FAILED_PROBES lists
# the receivers (by index) that did not hear everything.
probes_collect() {
    local i
    for i in "${SEND_PIDS[@]}"; do wait "$i" 2>/dev/null || true; done
    FAILED_PROBES=()
    for i in "${!PROBE_PIDS[@]}"; do wait "${PROBE_PIDS[i]}" || FAILED_PROBES+=("$i"); done
    PROBE_PIDS=() SEND_PIDS=()
    ((${#FAILED_PROBES[@]} == 0))
}

# probe_pair NAME TIMEOUT: host 1 and host 2 each listen for the other's small datagram; status 0 if both heard.
probe_pair() {
    probe_recv 2 "${1}2" "$2" h1-100
    probe_recv 1 "${1}1" "$2" h2-100
    probes_ready "${1}2" "${1}1" || problems+=("receivers did not start ($1)")
    probe_send 1 h1 100
    probe_send 2 h2 100
    probes_collect
}

plumbing() {
    PROBE_DIR=$WORK/plumbing
    mkdir -p "$PROBE_DIR"
    local k j problems=() names=() tags
    # 1. every host hears every other host, small and fragmented datagrams.
    for ((k = 1; k <= hosts; k++)); do
        tags=()
        for ((j = 1; j <= hosts; j++)); do ((j == k)) || tags+=("h$j-100" "h$j-60000"); done
        probe_recv "$k" "mesh$k" 3 "${tags[@]}"
        names+=("mesh$k")
    done
    probes_ready "${names[@]}" || problems+=("receivers did not start (see $PROBE_DIR)")
    for ((k = 1; k <= hosts; k++)); do probe_send "$k" "h$k" 100 60000; done
    if ! probes_collect; then
        for k in "${FAILED_PROBES[@]}"; do
            problems+=("host $((k + 1)) heard only: $(grep -v READY "$PROBE_DIR/mesh$((k + 1))" | paste -sd, - | sed 's/,/, /g')")
        done
    fi
    # 2. a cut host neither reaches nor hears host 2 (receivers must time out empty), and healed both work.
    if ((${#problems[@]} == 0)); then
        cut_host 1 || problems+=("could not cut host 1")
        probe_pair cut 0.7 || true
        grep -q '^h1-100' "$PROBE_DIR/cut2" && problems+=("host 2 still heard host 1 while it was cut off")
        grep -q '^h2-100' "$PROBE_DIR/cut1" && problems+=("host 1 still heard host 2 while it was cut off")
        heal_host 1 || problems+=("could not heal host 1")
        probe_pair heal 2 || problems+=("after healing host 1, multicast between hosts 1 and 2 does not get through")
    fi
    if ((${#problems[@]} == 0)); then
        echo "PASS plumbing (100 B and 60000 B multicast crosses between all $hosts hosts; cut at the $cut_side, host 1 neither reaches nor hears host 2; healed, it does again)"
        rm -rf "$PROBE_DIR"
        return 0
    fi
    echo "FAIL plumbing: $(joined "${problems[@]}")"
    echo "     kept: $PROBE_DIR"
    return 1
}

# --- the cluster ---------------------------------------------------------------------------

WORK="" dir="" FEED_PIDS=()
declare -A CNT=() # learner id -> lines in its output at the last sample
PROBLEM=""        # the first safety or liveness problem seen while sampling

# launch ROLE ID: the binary's ROLE ID on host ID (the course timeline's callback); learners print to
# learn<k>, clients read feed<k>; stderr to host<k>/<label>.log.
launch() {
    local k=$2 label=$1$2 in=/dev/null out=/dev/null
    [[ $1 == learner ]] && out=$dir/learn$k
    [[ $1 == client ]] && in=$dir/feed$k out=$dir/host$k/$label.out
    # shellcheck disable=SC2034 # common.sh's
    NS_EXEC=(ip netns exec "$(host_ns "$k")")
    spawn "$label" "$in" "$out" "$dir/host$k/$label.log" \
        "$PAXOS_BIN" "$1" "$k" "$dir/host$k/paxos.conf" --state "$dir/host$k/state"
    NS_EXEC=()
}

# feeder FILE CHUNK: FILE's lines to stdout, CHUNK lines every 0.1 s.
feeder() {
    local -a lines
    local i
    mapfile -t lines <"$1"
    for ((i = 0; i < ${#lines[@]}; i += $2)); do
        printf '%s\n' "${lines[@]:i:$2}"
        sleep 0.1
    done
}

stop_feeders() {
    local pid
    for pid in "${FEED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    FEED_PIDS=()
}

LEARN=() # the learners' output files

# sample: CNT[k] for every learner; the outputs must be prefixes of one sequence (paxos check --prefix),
# no non-client process may have exited, and a client that exited must have done so with status 0.
# Returns 1 (and sets PROBLEM) on the first problem.
sample() {
    local k label out
    for ((k = 1; k <= hosts; k++)); do CNT[$k]=$(count_lines "$dir/learn$k"); done
    echo "$(($(now_ms) - T0)) $(counts)" >>"$dir/timeline"
    if ! out=$(paxos_check --prefix "${LEARN[@]}"); then
        PROBLEM="safety: ${out#FAIL prefix: }"
        return 1
    fi
    for label in "${LABELS[@]}"; do
        [[ -n ${PID_OF[$label]:-} ]] && ! is_running "$label" || continue
        reap "$label"
        # shellcheck disable=SC2034
        SELF_EXIT[$label]=1
        local why=""
        if [[ $label != client* ]]; then why="exited by itself (status ${STATUS_OF[$label]})"
        elif ((STATUS_OF[$label] != 0)); then why="exited with status ${STATUS_OF[$label]}"
        fi
        [[ -z $why ]] || { PROBLEM="$label $why: $(tail -n 2 "$dir"/host*/"$label.log" 2>/dev/null | paste -sd' ' -)"; return 1; }
    done
}

counts() { local k out=(); for ((k = 1; k <= hosts; k++)); do out+=("learner$k ${CNT[$k]}"); done; printf '%s, ' "${out[@]}" | sed 's/, $//'; }

all_done() {
    local k
    for ((k = 1; k <= hosts; k++)); do ((CNT[$k] >= 2 * n)) || return 1; done
    [[ -z ${PID_OF[client1]:-} && -z ${PID_OF[client2]:-} ]]
}

# poll_until DEADLINE_MS [COND]: samples every POLL s until the deadline (status 0), or until COND holds
# (status 0), or a problem (status 1, PROBLEM set). With COND, the deadline passing is status 2.
poll_until() {
    while :; do
        sample || return 1
        [[ -n ${2:-} ]] && $2 && return 0
        (($(now_ms) < $1)) || { [[ -n ${2:-} ]] && return 2; return 0; }
        sleep "$POLL"
    done
}

# leaders_info: the proposers' own view from their .status files, e.g. "proposer 1 leader 1.1, ...".
leaders_info() {
    local p f parts=()
    for p in 1 2; do
        f=$dir/host$p/state/proposer-$p.status
        [[ -f $f ]] && parts+=("$(awk -v p="$p" '$1 == "mode" { m = $2 } $1 == "ballot" { b = $2 }
            END { if (m != "") printf "proposer %s %s%s", p, m, (b != "" ? " " b : "") }' "$f")")
    done
    printf '%s, ' "${parts[@]}" | sed 's/^, //; s/, , /, /g; s/, $//'
}

# run_scenario NAME: prints its PASS/FAIL line; returns 0 pass, 1 fail.
run_scenario() {
    local name=$1 k i cut=() problems=() info=() dbs=()
    case $name in
        minority) cut=(1) ;;
        nomajority) for ((k = 1; k <= (hosts + 1) / 2; k++)); do cut+=("$k"); done ;;
    esac
    dir=$WORK/$name PROBLEM="" CNT=() LEARN=()
    mkdir -p "$dir" || die "mkdir $dir failed"
    for ((k = 1; k <= hosts; k++)); do
        mkdir -p "$dir/host$k/state"
        write_config "$dir/host$k/paxos.conf" "$GROUP" "$PORT_BASE"
        printf 'interface %s\nttl 1\nacceptor-count %d\n' "$(host_ip "$k")" "$hosts" >>"$dir/host$k/paxos.conf"
        heal_host "$k" 2>/dev/null || true # every link up (a no-op when it already is)
        LEARN+=("$dir/learn$k")
        dbs+=("$dir/host$k/state/learner-$k.sqlite")
    done
    for k in 1 2; do
        for ((i = 1; i <= n; i++)); do echo $((k * 1000000 + i)); done >"$dir/values$k"
        mkfifo "$dir/feed$k"
    done
    local chunk=$(((n * 100 + FEED_MS - 1) / FEED_MS)) # lines per 0.1 s
    ((chunk > 0)) || chunk=1

    # The course timeline: acceptors, learners, proposer 1 (the initial leader), proposer 2, clients.
    TL_ACCEPTORS=$hosts TL_LEARNERS=$hosts TL_STAGE=$STAGE TL_PROPOSER_GAP=$STAGE TL_CLIENT_DELAY=$STAGE
    course_timeline
    for k in 1 2; do
        feeder "$dir/values$k" "$chunk" >"$dir/feed$k" &
        FEED_PIDS+=($!)
    done
    echo "# ms after the clients' start, learners' line counts" >"$dir/timeline"

    local st=0 lead_cut="" lead_heal="" at_settle=() at_heal=() t_cut t_heal caught="" t_done=""
    poll_until $((T0 + CUT_AT_MS)) || st=1
    if ((st == 0)); then
        lead_cut=$(leaders_info)
        ((CNT[2] > 0)) || problems+=("nothing learned in the $(fmt_s "$CUT_AT_MS") s before the cut ($(counts))")
        for k in "${cut[@]}"; do cut_host "$k" || problems+=("could not cut host $k"); done
        t_cut=$(now_ms)
        echo "$((t_cut - T0)) cut hosts ${cut[*]}" >>"$dir/timeline"
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
        echo "$((t_heal - T0)) healed hosts ${cut[*]}" >>"$dir/timeline"
        local span frozen=() grew=() d
        span="between $(fmt_s $((t_cut - T0 + SETTLE_MS))) s and $(fmt_s $((t_heal - T0))) s"
        for ((k = 1; k <= hosts; k++)); do
            d=$((at_heal[k] - at_settle[k]))
            if [[ $name == minority && $k != 1 ]]; then
                ((d > 0)) && grew+=("learner$k +$d") ||
                    problems+=("no progress with a majority connected: learner $k stayed at ${at_settle[k]} $span")
            else # no quorum within its reach: nothing new may be learned
                ((d == 0)) && frozen+=("learner$k") ||
                    problems+=("learner $k went from ${at_settle[k]} to ${at_heal[k]} $span without a majority")
            fi
        done
        local what="host 1 cut off"
        ((${#cut[@]} == 1)) || what="hosts $(printf '%s, ' "${cut[@]}" | sed 's/, $//') each cut off alone"
        info+=("$what $(fmt_s $((t_cut - T0))) s after the clients' start, for $(fmt_s $((t_heal - t_cut))) s")
        [[ $name == minority ]] && info+=("$span ${grew[*]}, ${frozen[*]} frozen at ${at_heal[1]}") ||
            info+=("$span all learners frozen ($(counts))")

        # Healed: until every learner has everything and both clients are done. "caught": after the
        # minority cut, learner 1 reaches what the best-informed learner had at the heal; after the other,
        # some learner learns past it.
        local best=0 deadline=$((t_heal + FINISH_MS)) now
        for ((k = 1; k <= hosts; k++)); do ((at_heal[k] > best)) && best=${at_heal[k]}; done
        while :; do
            sample || { st=1; break; }
            now=$(now_ms)
            if [[ -z $caught ]]; then
                if [[ $name == minority ]]; then ((CNT[1] >= best)) && caught=$((now - t_heal))
                else for ((k = 1; k <= hosts; k++)); do ((CNT[$k] > best)) && caught=$((now - t_heal)); done
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

    # paxos check on the files, each learner's database in its own host's folder.
    if ! paxos_check --values "$dir/values1" "$dir/values2" --learned "${LEARN[@]}" --databases "${dbs[@]}" \
        >"$dir/check.out" 2>&1; then
        while IFS= read -r line; do problems+=("${line#FAIL }"); done < <(grep '^FAIL' "$dir/check.out")
        grep -q '^FAIL' "$dir/check.out" || problems+=("paxos check failed: $(tail -n 1 "$dir/check.out")")
    fi

    if ((${#problems[@]} == 0)); then
        if [[ $name == minority ]]; then
            info+=("healed: learner ${cut[*]} caught up in $(fmt_s "${caught:-0}") s")
        else
            info+=("healed: learning resumed after $(fmt_s "${caught:-0}") s")
        fi
        info+=("all $((2 * n)) values learned by $hosts learners $(fmt_s "$t_done") s after healing")
        [[ -z $lead_cut$lead_heal ]] || info+=("status files before the cut: ${lead_cut:-?}; before the heal: ${lead_heal:-?}")
        info+=("paxos check: $(tail -n 1 "$dir/check.out")")
        echo "PASS $name ($(joined "${info[@]}"))"
        if ((keep)); then echo "     kept: $dir"; else rm -rf "$dir"; fi
        dir=""
        return 0
    fi
    echo "FAIL $name: $(joined "${problems[@]}")"
    echo "     kept: $dir (values<k>, learn<k>, timeline, host<k>/*.log, host<k>/state/, check.out)"
    sed 's/^/     | /' "$dir/check.out"
    dir=""
    return 1
}

cleanup() {
    local rc=$? pid
    set +e
    trap - EXIT INT TERM
    stop_feeders
    ((${#PID_OF[@]} == 0)) || { note "stopping the processes started by this test"; stop_all; }
    for pid in "${PROBE_PIDS[@]}" "${SEND_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
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
    ((EUID == 0)) || { echo "SKIP multihost: needs root (network namespaces, veth pairs and a bridge)"; exit 0; }
    command -v ip >/dev/null || { echo "SKIP multihost: needs iproute2's ip (apt-get install -y iproute2)"; exit 0; }
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

    local passed=0 failed=0 scenarios=("${ALL_SCENARIOS[@]}") name
    PROBE=("${PAXOS_BENCH_BIN:-$(dirname -- "$PAXOS_BIN")/paxos-bench}" probe)
    if [[ -x ${PROBE[0]} ]]; then
        if ! plumbing; then
            echo "0 passed, 1 failed"
            return 1
        fi
        passed=1
    else
        echo "SKIP plumbing: no ${PROBE[0]} (swift build -c release --product paxos-bench; multicast between the namespaces is not checked separately)"
    fi
    ((${#only[@]} == 0)) || scenarios=("${only[@]}")
    for name in "${scenarios[@]}"; do
        if run_scenario "$name"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

main "$@"

# shellcheck shell=bash
# Shared helpers for run.sh and integration-test.sh (sourced, never run): messages, clocks,
# inputs and config, the private network namespace, and the processes the scripts start.
# Linux only (network namespaces); needs bash >= 4.4 (associative arrays, EPOCHREALTIME).

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
    echo "${0##*/}: needs bash >= 4.4 (this is $BASH_VERSION)" >&2
    exit 2
fi

# The repository's scripts/ folder and the repository root, resolved physically.
SCRIPTS_DIR=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
REPO_ROOT=$(dirname -- "$SCRIPTS_DIR")

note() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
    note "$*"
    exit 2
}

# Milliseconds since the epoch. EPOCHREALTIME's decimal separator follows the locale: keep digits.
now_ms() {
    local t=${EPOCHREALTIME//[!0-9]/}
    echo $((10#$t / 1000))
}

# "1234" ms -> "1.2"
fmt_s() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

is_posint() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 > 0)); }
is_seconds() { [[ $1 =~ ^([0-9]+(\.[0-9]*)?|\.[0-9]+)$ ]]; }
is_probability() { [[ $1 =~ ^(0(\.[0-9]*)?|1(\.0*)?|\.[0-9]+)$ ]]; }
is_zero() { [[ $1 =~ ^0*\.?0*$ ]]; }

# Number of lines in FILE, 0 if it does not exist yet.
count_lines() {
    local n=0
    [[ -f $1 ]] && n=$(wc -l <"$1")
    echo $((n))
}

# gen_values N FILE: N random integers 0..32767 (bash's $RANDOM range, the course's range), one a line.
gen_values() {
    local n=$1 i
    for ((i = 0; i < n; i++)); do echo "$RANDOM"; done >"$2"
}

# write_config FILE IP PORT_BASE: the course's four lines; ports BASE, +1000, +2000, +3000
# (5000/6000/7000/8000 by default). Whitespace is irregular on purpose, as in the handout's file.
write_config() {
    local file=$1 ip=$2 base=$3
    printf 'clients %s %d\nproposers  %s\t%d\nacceptors %s  %d\nlearners\t%s %d\n' \
        "$ip" "$base" "$ip" $((base + 1000)) "$ip" $((base + 2000)) "$ip" $((base + 3000)) >"$file"
}

# ensure_binary: exports PAXOS_BIN (absolute). Honours a PAXOS_BIN already set; otherwise uses the
# repository's release build, building it first if it is missing or if FORCE_BUILD=1 (--build).
ensure_binary() {
    if [[ -n ${PAXOS_BIN:-} ]]; then
        [[ -f $PAXOS_BIN && -x $PAXOS_BIN ]] || die "PAXOS_BIN=$PAXOS_BIN is not an executable file"
    else
        PAXOS_BIN=$REPO_ROOT/.build/release/paxos
        if [[ ! -x $PAXOS_BIN || ${FORCE_BUILD:-0} == 1 ]]; then
            command -v swift >/dev/null || die "no binary at $PAXOS_BIN and no swift to build it (or set PAXOS_BIN)"
            note "building the release binary (swift build -c release --product paxos)"
            (cd "$REPO_ROOT" && swift build -c release --product paxos) >&2 || die "build failed"
            [[ -x $PAXOS_BIN ]] || die "build finished but $PAXOS_BIN is missing"
        fi
    fi
    PAXOS_BIN=$(CDPATH='' cd -P -- "$(dirname -- "$PAXOS_BIN")" && pwd -P)/$(basename -- "$PAXOS_BIN")
    export PAXOS_BIN
}

# ---------------------------------------------------------------------------------------------
# Private network namespace. Everything multicast (and above all any packet loss) happens inside
# it, never on the host: deleting the namespace also deletes its firewall rules and routes.

NETNS=""       # name of the namespace we created, "" when none
NS_EXEC=()     # command prefix that runs a command inside it (empty: host)

can_use_netns() { ((EUID == 0)) && command -v ip >/dev/null; }

# netns_create NAME: a namespace whose loopback carries multicast (224.0.0.0/4 routed to lo).
netns_create() {
    local name=$1
    ip netns add "$name" || return 1
    NETNS=$name # recorded at once, so the EXIT trap removes it even if a later step fails
    ip -n "$name" link set lo up &&
        ip -n "$name" link set lo multicast on &&
        ip -n "$name" route add 224.0.0.0/4 dev lo || return 1
    NS_EXEC=(ip netns exec "$name")
}

# netns_add_loss GROUP P: drop a fraction P of the datagrams arriving for GROUP, inside our namespace.
netns_add_loss() {
    [[ -n $NETNS ]] || die "packet loss needs the private network namespace (run as root)"
    command -v iptables >/dev/null || die "iptables is not installed (apt-get install -y iptables)"
    ip netns exec "$NETNS" iptables -A INPUT -d "$1" -m statistic --mode random --probability "$2" -j DROP ||
        die "could not add the loss rule inside namespace $NETNS"
}

# netns_delete: ends anything still inside our namespace (only processes we started can be in it),
# then deletes it.
netns_delete() {
    [[ -n $NETNS ]] || return 0
    local pids
    pids=$(ip netns pids "$NETNS" 2>/dev/null | tr '\n' ' ')
    if [[ -n ${pids// /} ]]; then
        note "ending leftover processes in namespace $NETNS: $pids"
        # shellcheck disable=SC2086 # a list of PIDs
        kill -TERM $pids 2>/dev/null
        sleep 0.5
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
    fi
    ip netns del "$NETNS" 2>/dev/null || note "could not delete network namespace $NETNS"
    NETNS=""
    NS_EXEC=()
}

# ---------------------------------------------------------------------------------------------
# Processes. Each one starts under `setsid`, so it leads its own process group (PGID = PID):
# Ctrl-C on the terminal reaches only this script, whose trap then stops them in order, and a
# signal to -PID also reaches anything the process forked. `ip netns exec`, setsid (as a
# non-leader) and the launchers all exec, so $! is the paxos process itself.
# Processes are only ever signalled by these PIDs, and only while bash still lists them as
# running jobs (an unreaped PID cannot have been reused).

declare -A PID_OF=()     # label (e.g. acceptor1) -> PID of its current incarnation
declare -A STATUS_OF=()  # label -> exit status once stopped or reaped
declare -A SELF_EXIT=()  # label -> 1 if it exited on its own before we stopped it
declare -A HARD_KILL=()  # label -> 1 if it ignored SIGTERM for GRACE seconds
LABELS=()                # labels in start order
GRACE=${GRACE:-3}        # whole seconds a process gets to exit after SIGTERM (env GRACE)
SETSID=()
command -v setsid >/dev/null && SETSID=(setsid)

# spawn LABEL STDIN STDOUT STDERR CMD...: starts CMD in the background (inside the namespace if
# any). A '+' before STDOUT appends to it instead of truncating it; STDERR is either a file
# (appended to when STDOUT is) or "&1" for the same file as STDOUT.
spawn() {
    local label=$1 in=$2 out=$3 err=$4
    shift 4
    local -a cmd=("${SETSID[@]}" "${NS_EXEC[@]}" "$@")
    if [[ $out == +* && $err == "&1" ]]; then
        "${cmd[@]}" <"$in" >>"${out#+}" 2>&1 &
    elif [[ $out == +* ]]; then
        "${cmd[@]}" <"$in" >>"${out#+}" 2>>"$err" &
    elif [[ $err == "&1" ]]; then
        "${cmd[@]}" <"$in" >"$out" 2>&1 &
    else
        "${cmd[@]}" <"$in" >"$out" 2>"$err" &
    fi
    PID_OF[$label]=$!
    [[ -v STATUS_OF[$label] ]] && unset "STATUS_OF[$label]"
    [[ " ${LABELS[*]} " == *" $label "* ]] || LABELS+=("$label")
}

# is_running LABEL: bash still lists the process among its running jobs (bash marks a job done
# as soon as it reaps the child). `jobs` must run directly inside $( ): in a pipeline or another
# subshell it sees no jobs at all.
is_running() {
    local pid=${PID_OF[$1]:-} running
    [[ -n $pid ]] || return 1
    running=$(jobs -rp)
    [[ $'\n'$running$'\n' == *$'\n'$pid$'\n'* ]]
}

# signal_proc SIGNAL LABEL: to the process's group, falling back to the PID alone (no setsid).
signal_proc() {
    local pid=${PID_OF[$2]:-}
    [[ -n $pid ]] || return 0
    kill "-$1" -- "-$pid" 2>/dev/null || kill "-$1" "$pid" 2>/dev/null || true
}

# reap LABEL: waits for the process and records its exit status. Bash's "Killed" notice is muted.
reap() {
    local pid=${PID_OF[$1]:-} st=0
    [[ -n $pid ]] || return 0
    { wait "$pid" || st=$?; } 2>/dev/null
    STATUS_OF[$1]=$st
    unset "PID_OF[$1]"
}

# kill9 LABEL: a crash, for the restart tests.
kill9() {
    {
        is_running "$1" && signal_proc KILL "$1"
        reap "$1"
    } 2>/dev/null
}

# stop_all: SIGTERM to every running process, up to GRACE seconds to exit, then SIGKILL.
# Records every exit status; processes that had already exited are marked in SELF_EXIT.
stop_all() {
    local label deadline
    local -a live=()
    for label in "${LABELS[@]}"; do
        [[ -n ${PID_OF[$label]:-} ]] || continue
        if is_running "$label"; then
            live+=("$label")
            signal_proc TERM "$label"
        else
            SELF_EXIT[$label]=1
        fi
    done
    deadline=$(($(now_ms) + GRACE * 1000))
    while (($(now_ms) < deadline)); do
        local any=0
        for label in "${live[@]}"; do is_running "$label" && any=1 && break; done
        ((any)) || break
        sleep 0.1
    done
    # Muted: bash would print a "Killed" notice for each; exit_problems reports them instead.
    {
        for label in "${live[@]}"; do
            if is_running "$label"; then
                HARD_KILL[$label]=1
                signal_proc KILL "$label"
            fi
        done
        for label in "${LABELS[@]}"; do reap "$label"; done
    } 2>/dev/null
}

# exit_problems: one line per process that broke the contract (SIGTERM -> prompt exit 0; a
# client exits 0 by itself once everything is decided). Prints nothing when all is well.
exit_problems() {
    local label st
    for label in "${LABELS[@]}"; do
        st=${STATUS_OF[$label]:-}
        [[ -n $st ]] || continue
        if [[ -n ${HARD_KILL[$label]:-} ]]; then
            echo "$label ignored SIGTERM for ${GRACE}s (killed)"
        elif ((st != 0)) && [[ -n ${SELF_EXIT[$label]:-} ]]; then
            echo "$label exited by itself with status $st"
        elif ((st != 0)); then
            echo "$label exited with status $st after SIGTERM"
        elif [[ -n ${SELF_EXIT[$label]:-} && $label != client* ]]; then
            echo "$label exited by itself (status 0) before the end"
        fi
    done
}

# forget_procs: clears the records between scenarios.
forget_procs() {
    PID_OF=()
    STATUS_OF=()
    SELF_EXIT=()
    HARD_KILL=()
    LABELS=()
}

# namespaced_run NAME: for the measurement scripts. Needs root; finds the binary; creates a fresh
# private namespace that is removed, with every process started in it, when the script exits.
namespaced_run() {
    can_use_netns || die "needs root and iproute2 (it runs in a private network namespace)"
    ensure_binary
    NETNS=""
    NS_EXEC=()
    trap 'stop_all; netns_delete' EXIT
    trap 'exit 130' INT TERM
    netns_create "$1-$$" || die "could not create a network namespace"
}

# add_only_scenarios LIST: appends the comma-separated LIST to the caller's `only` array, refusing any
# name that is not in its ALL_SCENARIOS (the --only option of the test scripts).
add_only_scenarios() {
    local name
    local -a names
    IFS=, read -ra names <<<"$1"
    for name in "${names[@]}"; do
        [[ " ${ALL_SCENARIOS[*]} " == *" $name "* ]] ||
            die "unknown scenario '$name' (known: ${ALL_SCENARIOS[*]})"
        only+=("$name")
    done
}

# shellcheck shell=bash
# Shared by the scripts that run clusters (sourced, never run): messages, clocks, option parsing, inputs
# and config, private network namespaces, the processes the scripts start, and THE course timeline.
# Verdicts on files are `paxos check` (Swift); only orchestration lives here. Linux, bash >= 4.4.

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
    echo "${0##*/}: needs bash >= 4.4 (this is $BASH_VERSION)" >&2
    exit 2
fi

SCRIPTS_DIR=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
REPO_ROOT=$(dirname -- "$SCRIPTS_DIR")

# The launchers log only warnings by default (the course's terminal); these scripts' log files want more.
export PAXOS_LOG_LEVEL=${PAXOS_LOG_LEVEL:-info}
# A reader that went away (run.sh | head -1) must not stop the script, least of all in its cleanup:
# SIGPIPE is ignored (see the callers) and a failed write is not an error.
note() { printf '%s: %s\n' "${0##*/}" "$*" >&2 2>/dev/null || :; }
die() { note "$*"; exit 2; }

# Milliseconds since the epoch (EPOCHREALTIME's decimal separator follows the locale: keep digits).
now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((10#$t / 1000)); }
fmt_s() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); } # 1234 ms -> "1.2"
is_posint() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 > 0)); }
is_seconds() { [[ $1 =~ ^([0-9]+(\.[0-9]*)?|\.[0-9]+)$ ]]; }
is_probability() { [[ $1 =~ ^(0(\.[0-9]*)?|1(\.0*)?|\.[0-9]+)$ ]]; }
is_zero() { [[ $1 =~ ^0*\.?0*$ ]]; }
count_lines() { local n=0; [[ -f $1 ]] && n=$(wc -l <"$1"); echo $((n)); } # 0 if FILE is absent

# parse_opts ARGS...: the caller's OPTS maps an option to "VARIABLE [TEST MESSAGE]" (the option takes a
# value; TEST is a command that must accept it, else "OPTION MESSAGE", with %s for the value) and FLAGS
# maps a flag to "VARIABLE VALUE". -h/--help prints the caller's usage.
parse_opts() {
    local var test msg
    while (($#)); do
        if [[ -v FLAGS[$1] ]]; then
            read -r var msg <<<"${FLAGS[$1]}"
            printf -v "$var" %s "$msg"
        elif [[ -v OPTS[$1] ]]; then
            (($# >= 2)) || die "option $1 needs a value (see --help)"
            read -r var test msg <<<"${OPTS[$1]}"
            if [[ -n $test ]] && ! $test "$2"; then
                # shellcheck disable=SC2059 # the message is the format
                die "$1 $(printf "$msg" "$2")"
            fi
            [[ $var == only ]] || printf -v "$var" %s "$2"
            shift
        elif [[ $1 == -h || $1 == --help ]]; then
            usage
            exit 0
        else
            usage >&2
            die "unknown argument: $1"
        fi
        shift
    done
}

# usage: the script's header from "# Usage:" to the line naming its last option ($USAGE_END).
usage() { sed -n "/^# Usage:/,/^#   ${USAGE_END:---build}/s/^# \{0,1\}//p" "$0"; }

# gen_values N FILE: N random integers 0..32767 (the course's range), one a line.
gen_values() { local i; for ((i = 0; i < $1; i++)); do echo "$RANDOM"; done >"$2"; }

# ports_in_use BASE: any of BASE, +1000, +2000, +3000 is bound by a UDP socket here (needs ss; without
# it, none is taken to be).
ports_in_use() {
    command -v ss >/dev/null || return 1
    local p
    for p in "$1" $(($1 + 1000)) $(($1 + 2000)) $(($1 + 3000)); do
        [[ -n $(ss -Hnlu "sport = :$p" 2>/dev/null) ]] && return 0
    done
    return 1
}

# write_config FILE IP PORT_BASE: the course's four lines, ports BASE, +1000, +2000, +3000; whitespace
# irregular on purpose, as in the handout's file.
write_config() {
    printf 'clients %s %d\nproposers  %s\t%d\nacceptors %s  %d\nlearners\t%s %d\n' \
        "$2" "$3" "$2" $(($3 + 1000)) "$2" $(($3 + 2000)) "$2" $(($3 + 3000)) >"$1"
}

# ensure_binary: exports PAXOS_BIN (absolute): as set, else the repository's release build, built when
# missing, older than the sources (an incremental build) or when FORCE_BUILD=1 (--build).
ensure_binary() {
    if [[ -n ${PAXOS_BIN:-} ]]; then
        [[ -f $PAXOS_BIN && -x $PAXOS_BIN ]] || die "PAXOS_BIN=$PAXOS_BIN is not an executable file"
    else
        PAXOS_BIN=$REPO_ROOT/.build/release/paxos
        local newer=""
        [[ -x $PAXOS_BIN ]] && newer=$(find "$REPO_ROOT/Sources" "$REPO_ROOT/Package.swift" -newer "$PAXOS_BIN" -type f -print -quit)
        [[ -n $newer ]] && note "the sources changed since $PAXOS_BIN was built (${newer#"$REPO_ROOT"/}): rebuilding"
        if [[ ! -x $PAXOS_BIN || -n $newer || ${FORCE_BUILD:-0} == 1 ]]; then
            command -v swift >/dev/null || die "no binary at $PAXOS_BIN and no swift to build it (or set PAXOS_BIN)"
            note "building the release binary (swift build -c release --product paxos)"
            (cd "$REPO_ROOT" && swift build -c release --product paxos) >&2 || die "build failed"
            [[ -x $PAXOS_BIN ]] || die "build finished but $PAXOS_BIN is missing"
        fi
    fi
    PAXOS_BIN=$(CDPATH='' cd -P -- "$(dirname -- "$PAXOS_BIN")" && pwd -P)/$(basename -- "$PAXOS_BIN")
    export PAXOS_BIN
}

# paxos_check ARGS...: the course's checks on files (`paxos check`, see its --help).
paxos_check() { "$PAXOS_BIN" check "$@"; }

# --- private network namespaces ---------------------------------------------------------------
# Multicast (and any packet loss) happens inside them, never on the host: deleting a namespace also
# deletes its firewall rules and routes.

NETNS=""   # the namespace we created, "" when none
NS_EXEC=() # command prefix that runs a command inside it (empty: host)

can_use_netns() { ((EUID == 0)) && command -v ip >/dev/null; }

# netns_create NAME: a namespace whose loopback carries multicast (224.0.0.0/4 routed to lo).
netns_create() {
    ip netns add "$1" || return 1
    NETNS=$1 # at once, so the EXIT trap removes it even if a later step fails
    ip -n "$1" link set lo up && ip -n "$1" link set lo multicast on &&
        ip -n "$1" route add 224.0.0.0/4 dev lo || return 1
    NS_EXEC=(ip netns exec "$1")
}

# netns_add_loss GROUP P: drop a fraction P of the datagrams arriving for GROUP, inside our namespace.
netns_add_loss() {
    [[ -n $NETNS ]] || die "packet loss needs the private network namespace (run as root)"
    command -v iptables >/dev/null || die "iptables is not installed (apt-get install -y iptables)"
    ip netns exec "$NETNS" iptables -A INPUT -d "$1" -m statistic --mode random --probability "$2" -j DROP ||
        die "could not add the loss rule inside namespace $NETNS"
}

# netns_delete: ends whatever still runs inside our namespace (only processes we started can be there),
# then deletes it.
netns_delete() {
    local pids
    if [[ -n $NETNS ]]; then
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
    fi
    NETNS=""
    NS_EXEC=()
}

# --- processes ----------------------------------------------------------------------------------
# Each starts under setsid, leading its own process group (PGID = PID): Ctrl-C reaches only the script,
# whose trap stops them in order. `ip netns exec`, setsid and the launchers all exec, so $! is the paxos
# process itself. Processes are only signalled by these PIDs, and only while bash still lists them as
# running jobs (an unreaped PID cannot have been reused).

declare -A PID_OF=()    # label (e.g. acceptor1) -> PID of its current incarnation
declare -A STATUS_OF=() # label -> exit status once stopped or reaped
declare -A SELF_EXIT=() # label -> 1 if it exited on its own before we stopped it
declare -A HARD_KILL=() # label -> 1 if it ignored SIGTERM for GRACE seconds
LABELS=()               # labels in start order
GRACE=${GRACE:-3}       # whole seconds a process gets to exit after SIGTERM
SETSID=()
command -v setsid >/dev/null && SETSID=(setsid)

# spawn LABEL STDIN STDOUT STDERR CMD...: CMD in the background (inside the namespace if any). A '+'
# before STDOUT appends (to STDERR too); STDERR "&1" is the same file as STDOUT.
spawn() {
    local label=$1 in=$2 out=$3 err=$4
    shift 4
    local -a cmd=("${SETSID[@]}" "${NS_EXEC[@]}" "$@")
    if [[ $out == +* && $err == "&1" ]]; then "${cmd[@]}" <"$in" >>"${out#+}" 2>&1 &
    elif [[ $out == +* ]]; then "${cmd[@]}" <"$in" >>"${out#+}" 2>>"$err" &
    elif [[ $err == "&1" ]]; then "${cmd[@]}" <"$in" >"$out" 2>&1 &
    else "${cmd[@]}" <"$in" >"$out" 2>"$err" &
    fi
    PID_OF[$label]=$!
    [[ -v STATUS_OF[$label] ]] && unset "STATUS_OF[$label]"
    [[ " ${LABELS[*]} " == *" $label "* ]] || LABELS+=("$label")
}

# is_running LABEL: bash still lists it among its running jobs. `jobs` must run directly inside $( ):
# in a pipeline or another subshell it sees no jobs at all.
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

# reap LABEL: waits for it and records its exit status (bash's "Killed" notice muted).
reap() {
    local pid=${PID_OF[$1]:-} st=0
    [[ -n $pid ]] || return 0
    { wait "$pid" || st=$?; } 2>/dev/null
    STATUS_OF[$1]=$st
    unset "PID_OF[$1]"
}

kill9() { { is_running "$1" && signal_proc KILL "$1"; reap "$1"; } 2>/dev/null; } # a crash

# stop_all: SIGTERM to every running process, GRACE seconds to exit, then SIGKILL; records every exit
# status, and in SELF_EXIT those that had exited already.
stop_all() {
    local label deadline any
    local -a live=()
    for label in "${LABELS[@]}"; do
        [[ -n ${PID_OF[$label]:-} ]] || continue
        if is_running "$label"; then live+=("$label") && signal_proc TERM "$label"; else SELF_EXIT[$label]=1; fi
    done
    deadline=$(($(now_ms) + GRACE * 1000))
    while (($(now_ms) < deadline)); do
        any=0
        for label in "${live[@]}"; do is_running "$label" && any=1 && break; done
        ((any)) || break
        sleep 0.1
    done
    {
        for label in "${live[@]}"; do
            is_running "$label" && HARD_KILL[$label]=1 && signal_proc KILL "$label"
        done
        for label in "${LABELS[@]}"; do reap "$label"; done
    } 2>/dev/null
}

# exit_problems: one line per process that broke the contract (SIGTERM -> prompt exit 0; a client exits
# 0 by itself once everything is decided).
exit_problems() {
    local label st
    for label in "${LABELS[@]}"; do
        st=${STATUS_OF[$label]:-}
        [[ -n $st ]] || continue
        if [[ -n ${HARD_KILL[$label]:-} ]]; then echo "$label ignored SIGTERM for ${GRACE}s (killed)"
        elif ((st != 0)) && [[ -n ${SELF_EXIT[$label]:-} ]]; then echo "$label exited by itself with status $st"
        elif ((st != 0)); then echo "$label exited with status $st after SIGTERM"
        elif [[ -n ${SELF_EXIT[$label]:-} && $label != client* ]]; then echo "$label exited by itself (status 0) before the end"
        fi
    done
}


# --- the course timeline ----------------------------------------------------------------------------
# The one start order every cluster script follows (the course's run.sh): acceptors; STAGE; learners;
# STAGE; proposers; CLIENT_DELAY; client 1 (T0 = now); for a LATE learner: GAP, it,
# GAP; the other clients. Each process is started by the caller's `launch ROLE ID`.
TL_ACCEPTORS=3 TL_LEARNERS=2 TL_PROPOSERS=2 TL_CLIENTS=2 TL_LATE=0
TL_STAGE=1 TL_CLIENT_DELAY=1 TL_GAP=1
T0=0
course_timeline() {
    local i
    for ((i = 1; i <= TL_ACCEPTORS; i++)); do launch acceptor "$i"; done
    sleep "$TL_STAGE"
    for ((i = 1; i <= TL_LEARNERS; i++)); do ((i == TL_LATE)) || launch learner "$i"; done
    sleep "$TL_STAGE"
    for ((i = 1; i <= TL_PROPOSERS; i++)); do launch proposer "$i"; done
    sleep "$TL_CLIENT_DELAY"
    T0=$(now_ms)
    launch client 1
    if ((TL_LATE)); then
        sleep "$TL_GAP"
        launch learner "$TL_LATE"
        sleep "$TL_GAP"
    fi
    for ((i = 2; i <= TL_CLIENTS; i++)); do launch client "$i"; done
}

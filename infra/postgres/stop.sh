#!/usr/bin/env bash
# Stop a cluster started by infra/postgres/start.sh and delete its directory.
#   infra/postgres/stop.sh [DIR]       (default: $RELAY_TEST_PG_DIR)
# `pg_ctl stop -m fast` first; if that fails, SIGINT (fast shutdown) then SIGQUIT/SIGKILL to the
# postmaster named in DIR/data/postmaster.pid. Set RELAY_KEEP_DIRS=1 to keep the directory (logs).
# Only acts on directories carrying start.sh's marker file; safe to call twice.
set -uo pipefail

log() { echo "postgres/stop.sh: $*" >&2; }

D=${1:-${RELAY_TEST_PG_DIR:-}}
[[ -n $D ]] || { log "usage: $0 DIR (or set RELAY_TEST_PG_DIR)"; exit 2; }
[[ -d $D ]] || exit 0
[[ -f $D/.relaytest-postgres ]] || { log "$D was not created by infra/postgres/start.sh; not touching it"; exit 1; }

PG_USER='' PG_BIN=/usr/lib/postgresql/15/bin
# shellcheck disable=SC1091
[[ -f $D/state ]] && . "$D/state"

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
wait_gone() { # pid seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do alive "$1" || return 0; sleep 0.1; done
    ! alive "$1"
}
postmaster_pid() {
    local pid
    pid=$(head -1 "$D/data/postmaster.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    # guard against pid reuse: it must be a postgres process using this data directory
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$D/data" || return 1
    echo "$pid"
}

if PID=$(postmaster_pid); then
    AS=()
    if [[ $(id -u) == 0 && -n $PG_USER && $PG_USER != root ]]; then AS=(runuser -u "$PG_USER" --); fi
    "${AS[@]}" "$PG_BIN/pg_ctl" -D "$D/data" -m fast -w -t 60 stop >> "$D/stop.log" 2>&1 ||
        log "pg_ctl stop failed; signalling postmaster $PID"
    if alive "$PID"; then
        kill -INT "$PID" 2>/dev/null; wait_gone "$PID" 20 ||
        { kill -QUIT "$PID" 2>/dev/null; wait_gone "$PID" 5; } ||
        { kill -KILL "$PID" 2>/dev/null; wait_gone "$PID" 5; } ||
        log "postmaster $PID is still running"
    fi
fi

# The watcher start.sh may have left (unless that watcher is what runs this script).
W=$(cat "$D/watcher.pid" 2>/dev/null || true)
if [[ -n $W && $W != "$$" ]] && kill -0 "$W" 2>/dev/null &&
    tr '\0' ' ' < "/proc/$W/cmdline" 2>/dev/null | grep -qF -- "relaytest-watcher"; then
    kill "$W" 2>/dev/null
fi

if [[ ${RELAY_KEEP_DIRS:-0} == 1 ]]; then
    log "kept $D"
else
    rm -rf -- "$D"
fi
exit 0

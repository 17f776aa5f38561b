#!/usr/bin/env bash
# Crash a cluster started by infra/postgres/start.sh: SIGKILL its postmaster, as the OOM killer or a failing host
# would (no shutdown checkpoint; the next start replays the WAL). Then waits until the postmaster's children
# (backends, WAL writer, checkpointer) have noticed and exited: a new postmaster refuses to start while any of them
# still holds the old shared memory. Start it again with `$RELAY_TEST_PG_CTL start`.
#
#   infra/postgres/kill.sh [DIR]       (default: $RELAY_TEST_PG_DIR)
set -uo pipefail

log() { echo "postgres/kill.sh: $*" >&2; }

D=${1:-${RELAY_TEST_PG_DIR:-}}
[[ -n $D && -f $D/.relaytest-postgres ]] || { log "usage: $0 DIR (a directory of infra/postgres/start.sh)"; exit 2; }

alive() { kill -0 "$1" 2>/dev/null; }
pid=$(head -1 "$D/data/postmaster.pid" 2>/dev/null)
[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || { log "no postmaster running in $D"; exit 1; }
# Guard against pid reuse: it must be the postgres process of this data directory.
tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$D/data" || { log "pid $pid is not this cluster's postmaster"; exit 1; }

mapfile -t children < <(pgrep -P "$pid")
kill -KILL "$pid"
for ((i = 0; i < 300; i++)); do
    left=0
    for child in "$pid" "${children[@]}"; do alive "$child" && left=$((left + 1)); done
    ((left == 0)) && exit 0
    sleep 0.1
done
log "${left} process(es) of the killed postmaster $pid still running after 30 s"
exit 1

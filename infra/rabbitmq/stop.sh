#!/usr/bin/env bash
# Stop a node started by infra/rabbitmq/start.sh and delete its directory.
#   infra/rabbitmq/stop.sh [DIR]       (default: $RELAY_TEST_RABBITMQ_DIR)
# Orderly `rabbitmqctl stop` first; if that fails, TERM then KILL the node's own process group.
# Then stops the node's private epmd. Set RELAY_KEEP_DIRS=1 to keep the directory (logs).
# Only acts on directories carrying start.sh's marker file; safe to call twice.
set -uo pipefail

log() { echo "rabbitmq/stop.sh: $*" >&2; }

D=${1:-${RELAY_TEST_RABBITMQ_DIR:-}}
[[ -n $D ]] || { log "usage: $0 DIR (or set RELAY_TEST_RABBITMQ_DIR)"; exit 2; }
[[ -d $D ]] || exit 0
[[ -f $D/.relaytest-rabbitmq ]] || { log "$D was not created by infra/rabbitmq/start.sh; not touching it"; exit 1; }

RMQ_NODE='' RMQ_EPMD_PORT='' RMQ_BIN=/usr/lib/rabbitmq/bin
# shellcheck disable=SC1091
[[ -f $D/state ]] && . "$D/state"

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
wait_gone() { # pid seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do alive "$1" || return 0; sleep 0.1; done
    ! alive "$1"
}

LAUNCHER=$(cat "$D/launcher.pid" 2>/dev/null || true)
BEAM=$(cat "$D/pid" 2>/dev/null || true)
# The beam pid must still be this node's VM (guards against pid reuse): its command line names $D.
if alive "$BEAM" && [[ -r /proc/$BEAM/cmdline ]] && ! tr '\0' ' ' < "/proc/$BEAM/cmdline" | grep -qF -- "$D"; then
    BEAM=''
fi

if alive "$BEAM" || alive "$LAUNCHER"; then
    if [[ -n $RMQ_NODE ]] && alive "$BEAM"; then
        if timeout 40 env HOME="$D" ERL_EPMD_PORT="$RMQ_EPMD_PORT" "$RMQ_BIN/rabbitmqctl" -n "$RMQ_NODE" \
            stop "$D/pid" >> "$D/stop.log" 2>&1; then
            wait_gone "$BEAM" 5 || true
            wait_gone "$LAUNCHER" 2 || true
        else
            log "rabbitmqctl stop failed for $RMQ_NODE; killing it"
        fi
    fi
    # Fallback: the launcher was started with setsid, so its pid is the process group of the node.
    if alive "$BEAM" || alive "$LAUNCHER"; then
        [[ -n $LAUNCHER ]] && kill -TERM -- "-$LAUNCHER" 2>/dev/null
        alive "$BEAM" && kill -TERM "$BEAM" 2>/dev/null
        wait_gone "$BEAM" 15 || true
        wait_gone "$LAUNCHER" 5 || true
        [[ -n $LAUNCHER ]] && kill -KILL -- "-$LAUNCHER" 2>/dev/null
        alive "$BEAM" && kill -KILL "$BEAM" 2>/dev/null
        wait_gone "$BEAM" 5 || log "process $BEAM of node $RMQ_NODE is still running"
    fi
fi

# The private epmd (started by the node on ERL_EPMD_PORT). `epmd -kill` refuses while any node is still
# registered with it: the nodes of a test cluster share one (infra/rabbitmq/cluster.sh), and the last one to stop
# ends it. No other node uses this port.
if [[ -n $RMQ_EPMD_PORT ]]; then
    EPMD=$(command -v epmd || ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -1)
    if [[ -n $EPMD ]] && names=$("$EPMD" -port "$RMQ_EPMD_PORT" -names 2>/dev/null) && ! grep -q '^name ' <<< "$names"; then
        "$EPMD" -port "$RMQ_EPMD_PORT" -kill >/dev/null 2>&1 || log "could not stop epmd on port $RMQ_EPMD_PORT"
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

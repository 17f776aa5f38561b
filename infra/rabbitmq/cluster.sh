#!/usr/bin/env bash
# A private three-node RabbitMQ cluster for the cluster test (never touches any other broker).
#
#   eval "$(infra/rabbitmq/cluster.sh DIR start)"   # three nodes in DIR/node1..3, joined into one cluster
#   infra/rabbitmq/cluster.sh DIR kill N            # SIGKILL node N (1-3): a hard stop, no goodbye to the others
#   infra/rabbitmq/cluster.sh DIR restart N         # start node N again (same name, ports, data); waits until it runs
#   infra/rabbitmq/cluster.sh DIR ctl N ARGS...     # rabbitmqctl against node N, e.g. `ctl 1 add_vhost x`
#   infra/rabbitmq/cluster.sh DIR stop              # stop all three and delete DIR (RELAY_KEEP_DIRS=1 keeps it)
#
# Each node is an infra/rabbitmq/start.sh node (own AMQP and distribution ports, own data directory); the three
# share one private epmd and one Erlang cookie so they can see each other, and nodes 2 and 3 join node 1 with
# `rabbitmqctl join_cluster`. `start` prints `export VAR=...` lines on stdout (also saved as DIR/env):
#   RELAY_TEST_CLUSTER_HOSTS   the nodes' AMQP addresses, `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`
#   RELAY_TEST_CLUSTER         this script with DIR, ready for a command: `$RELAY_TEST_CLUSTER kill 1`
#   RELAY_TEST_CLUSTER_USER / RELAY_TEST_CLUSTER_PASSWORD   the broker user (guest: connections from loopback only)
# With RELAY_INFRA_OWNER_PID set, each node stops itself once that process is gone (see start.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NODES=(1 2 3)

log() { echo "rabbitmq/cluster.sh: $*" >&2; }
usage() { log "usage: $0 DIR start|kill N|restart N|ctl N ARGS...|stop"; exit 2; }

[[ $# -ge 2 ]] || usage
D=$1 COMMAND=$2
shift 2

node_dir() { echo "$D/node$1"; }
check_node() { [[ ${1:-} =~ ^[123]$ ]] || { log "node must be 1, 2 or 3, not '${1:-}'"; exit 2; }; }

# ctl N ARGS...: rabbitmqctl as start.sh set it up for that node (its HOME holds the shared cookie).
ctl() {
    local n=$1
    shift
    # shellcheck disable=SC1091
    (. "$(node_dir "$n")/state" && env HOME="$(node_dir "$n")" ERL_EPMD_PORT="$RMQ_EPMD_PORT" \
        "$RMQ_BIN/rabbitmqctl" -n "$RMQ_NODE" "$@")
}

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

stop_all() {
    local n
    for n in "${NODES[@]}"; do
        [[ -f $(node_dir "$n")/.relaytest-rabbitmq ]] && "$HERE/stop.sh" "$(node_dir "$n")" || true
    done
    if [[ ${RELAY_KEEP_DIRS:-0} == 1 ]]; then log "kept $D"; else rm -rf -- "$D"; fi
}

case $COMMAND in
start)
    mkdir -p "$D"
    D=$(cd "$D" && pwd)
    ok=0
    trap '[[ $ok == 1 ]] || { log "cluster failed to start"; stop_all; }' EXIT
    cookie=$(openssl rand -hex 20)
    name="relaycluster-$$-$RANDOM"
    # Node 1 picks the epmd port; the others use the same one, so each can find the others' distribution ports.
    RELAY_RABBITMQ_NODENAME="$name-1@localhost" RELAY_RABBITMQ_COOKIE=$cookie RELAY_RABBITMQ_TLS=0 \
        "$HERE/start.sh" "$(node_dir 1)" > /dev/null
    # shellcheck disable=SC1091
    epmd_port=$(. "$(node_dir 1)/state" && echo "$RMQ_EPMD_PORT")
    pids=()
    for n in 2 3; do
        RELAY_RABBITMQ_NODENAME="$name-$n@localhost" RELAY_RABBITMQ_COOKIE=$cookie RELAY_RABBITMQ_TLS=0 \
            RELAY_RABBITMQ_EPMD_PORT=$epmd_port "$HERE/start.sh" "$(node_dir "$n")" > /dev/null &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || { log "a node failed to start"; exit 1; }; done
    for n in 2 3; do
        ctl "$n" stop_app > /dev/null
        ctl "$n" join_cluster "$name-1@localhost" > /dev/null
        ctl "$n" start_app > /dev/null
    done
    running=$(ctl 1 cluster_status --formatter json | grep -o '"running_nodes":\[[^]]*\]' | grep -o "$name" | wc -l)
    [[ $running == 3 ]] || { log "expected 3 running nodes after joining, found $running"; exit 1; }
    hosts=''
    for n in "${NODES[@]}"; do
        # shellcheck disable=SC1091
        hosts+="${hosts:+,}127.0.0.1:$(. "$(node_dir "$n")/state" && echo "$RMQ_PORT")"
    done
    {
        printf 'export RELAY_TEST_CLUSTER_HOSTS=%q\n' "$hosts"
        printf 'export RELAY_TEST_CLUSTER=%q\n' "$HERE/cluster.sh $D"
        printf 'export RELAY_TEST_CLUSTER_USER=%q\n' guest
        printf 'export RELAY_TEST_CLUSTER_PASSWORD=%q\n' guest
    } > "$D/env"
    ok=1
    cat "$D/env"
    ;;
kill)
    check_node "${1:-}"
    nd=$(node_dir "$1")
    beam=$(cat "$nd/pid" 2>/dev/null || true)
    launcher=$(cat "$nd/launcher.pid" 2>/dev/null || true)
    alive "$beam" || { log "node $1 is not running"; exit 1; }
    kill -KILL "$beam"
    for ((i = 0; i < 100; i++)); do alive "$beam" || alive "$launcher" || break; sleep 0.1; done
    ! alive "$beam" || { log "node $1 (pid $beam) survived SIGKILL"; exit 1; }
    ;;
restart)
    check_node "${1:-}"
    nd=$(node_dir "$1")
    rm -f "$nd/pid"    # the killed VM's: `rabbitmqctl wait` must read the new one
    "$nd/launch"
    ctl "$1" wait "$nd/pid" --timeout "${RELAY_RABBITMQ_START_TIMEOUT:-60}" > "$nd/wait.log" 2>&1 ||
        { log "node $1 did not start again"; tail -n 40 "$nd"/log/*.log >&2; exit 1; }
    ;;
ctl)
    check_node "${1:-}"
    ctl "$@"
    ;;
stop)
    stop_all
    ;;
*)
    usage
    ;;
esac

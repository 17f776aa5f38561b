#!/usr/bin/env bash
# Start a private RabbitMQ node for tests and benchmarks. It never touches any other broker on the
# machine: its own node name, AMQP port, distribution port, epmd port and data directory.
#
#   eval "$(infra/rabbitmq/start.sh [DIR])"     # ... later: infra/rabbitmq/stop.sh "$RELAY_TEST_RABBITMQ_DIR"
#
# DIR (optional) is an empty directory for the node's state; without it a temp dir is created.
# On success prints `export VAR=...` lines on stdout (also saved as DIR/env) and exits 0:
#   RELAY_TEST_RABBITMQ_HOST/PORT/USER/PASSWORD, RELAY_TEST_RABBITMQCTL (append e.g. `status`,
#   `stop_app`, `start_app`), RELAY_TEST_RABBITMQ_DIR (argument for stop.sh), and with TLS
#   RELAY_TEST_RABBITMQ_TLS_PORT and RELAY_TEST_RABBITMQ_TLS_DIR (the certificates of infra/rabbitmq/tls.sh).
# On failure prints the log tail on stderr, stops whatever it started and exits 1.
# Recipe: /work/shared/RECIPES.md "A private RabbitMQ node for tests". The AMQP port P is chosen so
# that P+20000 (the node's distribution port) is free too. The node uses a private epmd (ERL_EPMD_PORT)
# so no shared epmd is started or left behind.
#
# Environment knobs (all optional):
#   RELAY_RABBITMQ_NODENAME     the node's name (default: unique to this call)
#   RELAY_RABBITMQ_TLS=0        no TLS listener (default: one on its own port, certificates from tls.sh in DIR/tls)
#   RELAY_RABBITMQ_EPMD_PORT    use this epmd port: the nodes of one cluster share an epmd (infra/rabbitmq/cluster.sh)
#   RELAY_RABBITMQ_COOKIE       the Erlang cookie: the nodes of one cluster share it
# DIR/launch starts the node again with the same name, ports and data (after a hard stop, as cluster.sh does).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RABBIT_BIN=${RABBIT_BIN:-/usr/lib/rabbitmq/bin}
WAIT_TIMEOUT=${RELAY_RABBITMQ_START_TIMEOUT:-60}

log() { echo "rabbitmq/start.sh: $*" >&2; }

[[ -x $RABBIT_BIN/rabbitmq-server ]] || { log "$RABBIT_BIN/rabbitmq-server not found (apt-get install rabbitmq-server)"; exit 1; }

port_in_use() {
    local p=$1
    if command -v ss >/dev/null 2>&1 && [[ -n "$(ss -Htln "sport = :$p" 2>/dev/null)" ]]; then
        return 0
    fi
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null
}

# rabbitmqctl itself listens on 35672-35682: keep the node's ports away from that range.
near_cli_ports() { (( $1 >= 35660 && $1 <= 35695 )); }

pick_amqp_port() {
    local i p
    for ((i = 0; i < 500; i++)); do
        p=$((20000 + RANDOM % 20000))
        near_cli_ports "$p" && continue
        port_in_use "$p" || port_in_use $((p + 20000)) || { echo "$p"; return 0; }
    done
    return 1
}

# pick_other_port TAKEN...: a free port that is none of the ports already taken (nor their P+20000).
pick_other_port() {
    local i p t clash
    for ((i = 0; i < 500; i++)); do
        p=$((20000 + RANDOM % 20000))
        near_cli_ports "$p" && continue
        clash=0
        for t in "$@"; do [[ $p == "$t" || $p == $((t + 20000)) ]] && clash=1; done
        ((clash == 0)) || continue
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}

if [[ $# -ge 1 && -n $1 ]]; then
    D=$1
    mkdir -p "$D"
else
    D=$(mktemp -d "${TMPDIR:-/tmp}/relaytest-rabbitmq.XXXXXX")
fi
D=$(cd "$D" && pwd)
: > "$D/.relaytest-rabbitmq"     # marker: stop.sh only deletes directories carrying it

NODE=${RELAY_RABBITMQ_NODENAME:-relaytest-$$-$RANDOM@localhost}
P='' EPMD_PORT='' TLS_PORT=''

ok=0
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ $ok != 1 ]] && ((rc == 130 || rc == 143)); then
        log "interrupted; stopping what was started"
        "$HERE/stop.sh" "$D" >&2 || true
    elif [[ $ok != 1 ]]; then
        log "RabbitMQ node $NODE failed to start (port $P, dir $D)"
        local f
        for f in "$D/out.log" "$D/wait.log" "$D"/log/*.log; do
            [[ -s $f ]] || continue
            echo "----- tail of $f -----" >&2
            tail -n 40 "$f" >&2
        done
        "$HERE/stop.sh" "$D" >&2 || true
        exit $((rc == 0 ? 1 : rc))
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

P=$(pick_amqp_port) || { log "no free port pair P, P+20000 found"; exit 1; }
if [[ -n ${RELAY_RABBITMQ_EPMD_PORT:-} ]]; then
    EPMD_PORT=$RELAY_RABBITMQ_EPMD_PORT
else
    EPMD_PORT=$(pick_other_port "$P") || { log "no free port for epmd found"; exit 1; }
fi
echo '[].' > "$D/enabled_plugins"
: > "$D/rabbitmq.conf"
if [[ ${RELAY_RABBITMQ_TLS:-1} == 1 ]]; then
    TLS_PORT=$(pick_other_port "$P" "$EPMD_PORT") || { log "no free port for the TLS listener found"; exit 1; }
    "$HERE/tls.sh" "$D/tls"
    # Client certificates are asked for and checked against the CA, but optional: password logins work too.
    cat > "$D/rabbitmq.conf" <<CONF
listeners.ssl.default = 127.0.0.1:$TLS_PORT
ssl_options.cacertfile = $D/tls/ca.pem
ssl_options.certfile = $D/tls/server.pem
ssl_options.keyfile = $D/tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
CONF
fi
if [[ -n ${RELAY_RABBITMQ_COOKIE:-} ]]; then
    # HOME is DIR for the node and for rabbitmqctl: both read the cookie from there.
    printf '%s' "$RELAY_RABBITMQ_COOKIE" > "$D/.erlang.cookie"
    chmod 400 "$D/.erlang.cookie"
fi
CTL="env HOME=$D ERL_EPMD_PORT=$EPMD_PORT $RABBIT_BIN/rabbitmqctl -n $NODE"
{
    printf 'RMQ_NODE=%q\n' "$NODE"
    printf 'RMQ_PORT=%q\n' "$P"
    printf 'RMQ_EPMD_PORT=%q\n' "$EPMD_PORT"
    printf 'RMQ_BIN=%q\n' "$RABBIT_BIN"
} > "$D/state"

# setsid: the node gets its own session, so a Ctrl-C on the terminal does not reach it;
# the caller stops it in an orderly way with stop.sh.
cat > "$D/launch" <<LAUNCH
#!/usr/bin/env bash
# Starts node $NODE (again): same name, ports and data directory. Written by infra/rabbitmq/start.sh.
setsid env HOME=$(printf %q "$D") ERL_EPMD_PORT=$EPMD_PORT \\
    RABBITMQ_NODENAME=$(printf %q "$NODE") RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$P \\
    RABBITMQ_MNESIA_BASE=$(printf %q "$D/mnesia") RABBITMQ_LOG_BASE=$(printf %q "$D/log") \\
    RABBITMQ_CONFIG_FILE=$(printf %q "$D/rabbitmq") RABBITMQ_ENABLED_PLUGINS_FILE=$(printf %q "$D/enabled_plugins") \\
    RABBITMQ_PID_FILE=$(printf %q "$D/pid") \\
    $(printf %q "$RABBIT_BIN/rabbitmq-server") >> $(printf %q "$D/out.log") 2>&1 < /dev/null &
echo \$! > $(printf %q "$D/launcher.pid")
LAUNCH
chmod +x "$D/launch"
"$D/launch"
LAUNCHER=$(cat "$D/launcher.pid")

$CTL wait "$D/pid" --timeout "$WAIT_TIMEOUT" > "$D/wait.log" 2>&1 &
WAITER=$!
while kill -0 "$WAITER" 2>/dev/null; do
    if ! kill -0 "$LAUNCHER" 2>/dev/null; then
        kill "$WAITER" 2>/dev/null || true
        wait "$WAITER" 2>/dev/null || true
        log "rabbitmq-server exited during startup"
        exit 1
    fi
    sleep 0.2
done
if ! wait "$WAITER"; then
    log "rabbitmqctl wait failed or timed out after ${WAIT_TIMEOUT}s"
    exit 1
fi

# Optional safety net: with RELAY_INFRA_OWNER_PID set (test.sh sets it to its own pid), a detached
# watcher stops this node when that process is gone, even if it was killed with SIGKILL.
if [[ -n ${RELAY_INFRA_OWNER_PID:-} ]]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; exec "$2" "$3"' \
        relaytest-watcher "$RELAY_INFRA_OWNER_PID" "$HERE/stop.sh" "$D" < /dev/null > /dev/null 2>&1 &
    echo $! > "$D/watcher.pid"
fi

{
    printf 'export RELAY_TEST_RABBITMQ_HOST=%q\n' 127.0.0.1
    printf 'export RELAY_TEST_RABBITMQ_PORT=%q\n' "$P"
    printf 'export RELAY_TEST_RABBITMQ_USER=%q\n' guest
    printf 'export RELAY_TEST_RABBITMQ_PASSWORD=%q\n' guest
    printf 'export RELAY_TEST_RABBITMQCTL=%q\n' "$CTL"
    printf 'export RELAY_TEST_RABBITMQ_DIR=%q\n' "$D"
    if [[ -n $TLS_PORT ]]; then
        printf 'export RELAY_TEST_RABBITMQ_TLS_PORT=%q\n' "$TLS_PORT"
        printf 'export RELAY_TEST_RABBITMQ_TLS_DIR=%q\n' "$D/tls"
    fi
} > "$D/env"
ok=1
cat "$D/env"

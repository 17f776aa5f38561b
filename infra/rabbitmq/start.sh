#!/usr/bin/env bash
# Starts a private RabbitMQ node (own name, ports and data dir) and prints `export` lines for it.
# Usage: eval "$(infra/rabbitmq/start.sh)"; stop with infra/rabbitmq/stop.sh "$RELAY_TEST_RABBITMQ_DIR"
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

# The node's distribution port is P+20000: both must be free.
port=$(free_port 20000)
dir=$(mktemp -d -t relay-rabbitmq.XXXXXX)
node="relaytest-$$-$port@localhost"
echo '[].' > "$dir/enabled_plugins"
: > "$dir/rabbitmq.conf"
env HOME="$dir" RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_CONFIG_FILE="$dir/rabbitmq" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_PID_FILE="$dir/pid" \
    setsid "$RABBITMQ_BIN/rabbitmq-server" > "$dir/out.log" 2>&1 < /dev/null &
echo $! > "$dir/launcher.pid"
echo "$node" > "$dir/node"
ctl="env HOME=$dir $RABBITMQ_BIN/rabbitmqctl -n $node"
if ! $ctl wait "$dir/pid" --timeout 60 > "$dir/wait.log" 2>&1; then
  echo "RabbitMQ did not start; log tail:" >&2
  tail -n 30 "$dir/out.log" >&2 || true
  "$here/rabbitmq/stop.sh" "$dir" >&2 || true
  exit 1
fi
cat <<VARS
export RELAY_TEST_RABBITMQ_DIR='$dir'
export RELAY_TEST_RABBITMQ_HOST=127.0.0.1
export RELAY_TEST_RABBITMQ_PORT=$port
export RELAY_TEST_RABBITMQ_USER=guest
export RELAY_TEST_RABBITMQ_PASSWORD=guest
export RELAY_TEST_RABBITMQCTL='$ctl'
VARS

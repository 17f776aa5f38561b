#!/usr/bin/env bash
# Stops the node started by start.sh in DIR and removes DIR.
set -uo pipefail
dir=${1:?usage: stop.sh DIR}
[ -d "$dir" ] || exit 0
node=$(cat "$dir/node" 2>/dev/null || true)
if [ -n "$node" ]; then
  timeout 60 env HOME="$dir" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$node" stop "$dir/pid" > /dev/null 2>&1 || true
fi
for f in "$dir/pid" "$dir/launcher.pid"; do
  pid=$(cat "$f" 2>/dev/null || true)
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
done
# epmd is shared by every Erlang node on the machine; leave it running.
rm -rf "$dir"

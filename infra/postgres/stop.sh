#!/usr/bin/env bash
# Stops the cluster started by start.sh in DIR and removes DIR.
set -uo pipefail
dir=${1:?usage: stop.sh DIR}
[ -d "$dir" ] || exit 0
pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
if [ -n "$pid" ]; then
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
fi
rm -rf "$dir"

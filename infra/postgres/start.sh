#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster on a free port in a temp dir and prints `export` lines.
# Usage: eval "$(infra/postgres/start.sh)"; stop with infra/postgres/stop.sh "$RELAY_TEST_PG_DIR"
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

port=$(free_port)
dir=$(mktemp -d -t relay-postgres.XXXXXX)
as=()
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses to run as root.
  chown postgres:postgres "$dir"
  as=(runuser -u postgres --)
fi
if ! "${as[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 > "$dir/initdb.log" 2>&1; then
  echo "initdb failed:" >&2; tail -n 20 "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1
fi
if ! "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
     -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=300 -c fsync=off" \
     start > "$dir/pg_ctl.log" 2>&1; then
  echo "PostgreSQL did not start; log tail:" >&2
  tail -n 30 "$dir/server.log" >&2 || true
  rm -rf "$dir"
  exit 1
fi
cat <<VARS
export RELAY_TEST_PG_DIR='$dir'
export RELAY_TEST_PG_DATA='$dir/data'
export RELAY_TEST_PG_CTL='${as[*]} $PG_BIN/pg_ctl -D $dir/data -l $dir/server.log -w -t 60'
export RELAY_TEST_POSTGRES='Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres'
VARS

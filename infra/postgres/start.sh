#!/usr/bin/env bash
# Start a private PostgreSQL 15 cluster for tests and benchmarks (never touches other clusters).
#
#   eval "$(infra/postgres/start.sh [DIR])"     # ... later: infra/postgres/stop.sh "$RELAY_TEST_PG_DIR"
#
# DIR (optional) is an empty directory for the cluster; without it a temp dir is created.
# As root the cluster belongs to the `postgres` user (initdb refuses root); otherwise to you.
# Trust auth, superuser `postgres`, listens on 127.0.0.1 only, unix socket in DIR, max_connections 300, sized as a
# production server (shared_buffers 1GB, max_wal_size 8GB, checkpoint_timeout 15min, wal_compression lz4; compose.yaml
# runs its server with the same), and durable as in production: fsync on, synchronous_commit on (RELAY_PG_FSYNC=off
# turns fsync off, for a comparison only). These settings are in postgresql.conf, so a later `pg_ctl restart`/`start` keeps them.
# RELAY_PG_EXTRA_CONF: lines appended to postgresql.conf (profiling: shared_preload_libraries = 'pg_stat_statements').
# On success prints `export VAR=...` lines on stdout (also saved as DIR/env) and exits 0:
#   RELAY_TEST_POSTGRES        Npgsql connection string (database `postgres`; create your own)
#   RELAY_TEST_PG_DATA         the data directory
#   RELAY_TEST_PG_CTL          pg_ctl as the right user, already given -D, -l, -w -t 60; append e.g.
#                              `restart -m fast`, `stop -m fast`, `start`
#   RELAY_TEST_PG_KILL         infra/postgres/kill.sh with DIR: SIGKILL the postmaster (a crash), then start it
#                              again with `$RELAY_TEST_PG_CTL start`
#   RELAY_TEST_PG_DIR / RELAY_TEST_PG_PORT   (for stop.sh, psql -h 127.0.0.1 -p ...)
# On failure prints the log tail on stderr, stops whatever it started and exits 1.
# Recipe: /work/shared/RECIPES.md "A private PostgreSQL cluster for tests".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
START_TIMEOUT=${RELAY_POSTGRES_START_TIMEOUT:-60}

log() { echo "postgres/start.sh: $*" >&2; }

[[ -x $PGBIN/initdb ]] || { log "$PGBIN/initdb not found (apt-get install postgresql-15)"; exit 1; }

port_in_use() {
    local p=$1
    if command -v ss >/dev/null 2>&1 && [[ -n "$(ss -Htln "sport = :$p" 2>/dev/null)" ]]; then
        return 0
    fi
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null
}

pick_port() {
    local i p
    for ((i = 0; i < 500; i++)); do
        p=$((20000 + RANDOM % 20000))
        (( p >= 35660 && p <= 35695 )) && continue   # rabbitmqctl's own ports
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}

if [[ $# -ge 1 && -n $1 ]]; then
    D=$1
    mkdir -p "$D"
else
    D=$(mktemp -d "${TMPDIR:-/tmp}/relaytest-postgres.XXXXXX")
fi
D=$(cd "$D" && pwd)
: > "$D/.relaytest-postgres"     # marker: stop.sh only deletes directories carrying it

if [[ $(id -u) == 0 ]]; then
    PG_USER=postgres
    id -u "$PG_USER" >/dev/null 2>&1 || { log "user '$PG_USER' does not exist (it comes with postgresql-15)"; exit 1; }
    chown "$PG_USER:" "$D"
    AS=(runuser -u "$PG_USER" --)
else
    PG_USER=$(id -un)
    AS=()
fi
{
    printf 'PG_USER=%q\n' "$PG_USER"
    printf 'PG_BIN=%q\n' "$PGBIN"
} > "$D/state"

PORT=''
ok=0
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ $ok != 1 ]] && ((rc == 130 || rc == 143)); then
        log "interrupted; stopping what was started"
        "$HERE/stop.sh" "$D" >&2 || true
    elif [[ $ok != 1 ]]; then
        log "PostgreSQL failed to start (port $PORT, dir $D)"
        local f
        for f in "$D/initdb.log" "$D/pg_ctl.log" "$D/server.log"; do
            [[ -s $f ]] || continue
            [[ $f == */initdb.log && -s $D/pg_ctl.log ]] && continue   # initdb went fine
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

PORT=$(pick_port) || { log "no free port found"; exit 1; }

# initdb -N: skip the final fsync of a throwaway cluster.
if ! "${AS[@]}" "$PGBIN/initdb" -D "$D/data" -A trust -U postgres -E UTF8 -N > "$D/initdb.log" 2>&1; then
    log "initdb failed"
    exit 1
fi
cat >> "$D/data/postgresql.conf" <<CONF

# ---- relaytest (infra/postgres/start.sh) ----
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$D'
max_connections = 300
# Durable, as production runs: a commit returns once its WAL is on disk. Every figure measured on this cluster
# states these two settings (infra/bench.sh reads them back from the server).
fsync = ${RELAY_PG_FSYNC:-on}
synchronous_commit = on
# Sized as a production server is, not as initdb's defaults (made to start anywhere) are: with 128 MB of shared
# buffers the backends wrote out evicted pages themselves, and with max_wal_size 1 GB a flat-out run checkpointed
# every 540 MB of WAL (about every 20 s), each checkpoint making the next change of every page log the page whole
# (docs/performance.md, "A PostgreSQL server sized for production"). Durability is unchanged.
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 15min
wal_compression = lz4
CONF
# For profiling the server's side of a run, e.g. RELAY_PG_EXTRA_CONF="shared_preload_libraries = 'pg_stat_statements'".
[[ -z ${RELAY_PG_EXTRA_CONF:-} ]] || printf '%s\n' "$RELAY_PG_EXTRA_CONF" >> "$D/data/postgresql.conf"

PG_CTL="$PGBIN/pg_ctl -D $D/data -l $D/server.log -w -t 60"
[[ ${#AS[@]} -gt 0 ]] && PG_CTL="${AS[*]} $PG_CTL"

# pg_ctl puts the postmaster in its own session, so a Ctrl-C on the terminal does not reach it.
if ! $PG_CTL -t "$START_TIMEOUT" start > "$D/pg_ctl.log" 2>&1; then
    log "pg_ctl start failed or timed out after ${START_TIMEOUT}s"
    exit 1
fi

# Optional safety net: with RELAY_INFRA_OWNER_PID set (test.sh sets it to its own pid), a detached
# watcher stops this cluster when that process is gone, even if it was killed with SIGKILL.
if [[ -n ${RELAY_INFRA_OWNER_PID:-} ]]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; exec "$2" "$3"' \
        relaytest-watcher "$RELAY_INFRA_OWNER_PID" "$HERE/stop.sh" "$D" < /dev/null > /dev/null 2>&1 &
    echo $! > "$D/watcher.pid"
fi

{
    printf 'export RELAY_TEST_POSTGRES=%q\n' "Host=127.0.0.1;Port=$PORT;Username=postgres;Database=postgres"
    printf 'export RELAY_TEST_PG_DATA=%q\n' "$D/data"
    printf 'export RELAY_TEST_PG_CTL=%q\n' "$PG_CTL"
    printf 'export RELAY_TEST_PG_KILL=%q\n' "$HERE/kill.sh $D"
    printf 'export RELAY_TEST_PG_DIR=%q\n' "$D"
    printf 'export RELAY_TEST_PG_PORT=%q\n' "$PORT"
} > "$D/env"
ok=1
cat "$D/env"

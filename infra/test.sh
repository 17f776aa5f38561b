#!/usr/bin/env bash
# The one test command: installs RabbitMQ and PostgreSQL if missing, starts a private broker node and
# database cluster on free ports, runs every test in the solution, stops what it started, and ends with
# "N passed, N failed". Extra arguments go to `dotnet test` (e.g. --filter PreceptRelayTests).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. infra/lib.sh

ensure_installed

results=$(mktemp -d -t relay-test-results.XXXXXX)
cleanup() {
  [ -n "${RELAY_TEST_RABBITMQ_DIR:-}" ] && infra/rabbitmq/stop.sh "$RELAY_TEST_RABBITMQ_DIR"
  [ -n "${RELAY_TEST_PG_DIR:-}" ] && infra/postgres/stop.sh "$RELAY_TEST_PG_DIR"
  rm -rf "$results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "Starting a private RabbitMQ node and PostgreSQL cluster ..."
rabbit_env=$(infra/rabbitmq/start.sh); eval "$rabbit_env"
pg_env=$(infra/postgres/start.sh); eval "$pg_env"
echo "RabbitMQ on 127.0.0.1:$RELAY_TEST_RABBITMQ_PORT, PostgreSQL at $RELAY_TEST_POSTGRES"

status=0
dotnet test EnrichmentRelay.sln --logger "trx;LogFilePrefix=results" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@" || status=$?

# Sum the counters of every test assembly's TRX file.
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  value() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(value passed)))
  failed=$((failed + $(value failed) + $(value error) + $(value timeout) + $(value aborted)))
  skipped=$((skipped + $(value notExecuted)))
done

line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo
echo "$line"
if [ "$status" -ne 0 ] || [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi

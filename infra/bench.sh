#!/usr/bin/env bash
# Benchmarks: the relay against its own baselines, measured side by side in one run (issue #7).
#
#   infra/bench.sh                                  # all sections (about 10 minutes on 2 cores)
#   infra/bench.sh --sections e2e-postgres,memory   # some of them; other driver options after these
#   infra/bench.sh --micro [--filter '*Intake*']    # the BenchmarkDotNet hot-path suites (no services needed)
#
# Like infra/test.sh it installs rabbitmq-server and postgresql-15 with apt-get when missing (as root), starts a
# private RabbitMQ node and PostgreSQL cluster on free ports in temp dirs (infra/rabbitmq/start.sh,
# infra/postgres/start.sh), builds the solution in Release, and runs the load driver
# (tests/EnrichmentRelay.Benchmarks), which starts the relay as separate processes against the in-driver
# provider sandbox (no artificial latency). It stops everything it started, whatever happens.
# Prints a markdown table ready for the README and writes it, with the same figures as JSON, to
# bench-results/bench-<UTC time>.{md,json} (and latest.{md,json}). Relay logs: bench-results/work-<time>/logs.
# Not run by infra/test.sh or CI: it takes minutes and wants a quiet machine.
#
# Environment knobs (all optional):
#   RELAY_KEEP_DIRS=1     keep the broker/cluster directories (logs) after the run
#   RELAY_PG_FSYNC=on     PostgreSQL with fsync (infra/postgres/start.sh turns it off for throwaway clusters)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RABBIT_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
PG_INITDB=/usr/lib/postgresql/15/bin/initdb
DRIVER=tests/EnrichmentRelay.Benchmarks/bin/Release/net10.0/EnrichmentRelay.Benchmarks.dll

say() { echo "bench.sh: $*" >&2; }

if ! command -v dotnet >/dev/null 2>&1; then
    say "'dotnet' is not on PATH: install the .NET 10 SDK (https://dotnet.microsoft.com/download), then re-run."
    exit 1
fi

build() {
    local t0=$SECONDS
    say "building the solution in Release"
    dotnet build EnrichmentRelay.sln -c Release -nologo -v quiet -clp:ErrorsOnly
    say "built ($((SECONDS - t0)) s)"
}

if [[ ${1:-} == --micro ]]; then
    shift
    build
    # BenchmarkDotNet writes its reports to ./BenchmarkDotNet.Artifacts; keep them with the other results.
    mkdir -p bench-results
    cd bench-results
    exec dotnet "../$DRIVER" micro "$@"
fi

# ---- cleanup: runs on every exit ---------------------------------------------------------------
RMQ_DIR='' PG_DIR=''
stop_services() {
    if [[ -n $RMQ_DIR ]]; then
        [[ ! -f $RMQ_DIR/.relaytest-rabbitmq ]] || infra/rabbitmq/stop.sh "$RMQ_DIR" || true
        [[ ${RELAY_KEEP_DIRS:-0} == 1 ]] || rm -rf -- "$RMQ_DIR"
        RMQ_DIR=''
    fi
    if [[ -n $PG_DIR ]]; then
        [[ ! -f $PG_DIR/.relaytest-postgres ]] || infra/postgres/stop.sh "$PG_DIR" || true
        [[ ${RELAY_KEEP_DIRS:-0} == 1 ]] || rm -rf -- "$PG_DIR"
        PG_DIR=''
    fi
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    stop_services
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# ---- prerequisites -------------------------------------------------------------------------
missing=()
[[ -x $RABBIT_SERVER ]] || missing+=(rabbitmq-server)
[[ -x $PG_INITDB ]] || missing+=(postgresql-15)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]]; then
        say "installing ${missing[*]} (only the binaries are used; any system service is left alone)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
        [[ -x $RABBIT_SERVER ]] || { say "$RABBIT_SERVER still missing after installing rabbitmq-server"; exit 1; }
        [[ -x $PG_INITDB ]] || { say "$PG_INITDB still missing after installing postgresql-15"; exit 1; }
    else
        say "missing: ${missing[*]}"
        say "the benchmarks need $RABBIT_SERVER (Debian package rabbitmq-server) and $PG_INITDB (package postgresql-15)."
        say "install them, then re-run:  sudo apt-get install -y --no-install-recommends ${missing[*]}"
        exit 1
    fi
fi

build

# ---- services -------------------------------------------------------------------------------
TMP=${TMPDIR:-/tmp}
RMQ_DIR=$(mktemp -d "$TMP/relaybench-rabbitmq.XXXXXX")
PG_DIR=$(mktemp -d "$TMP/relaybench-postgres.XXXXXX")

t0=$SECONDS
# RELAY_INFRA_OWNER_PID: the services stop themselves should this script be killed outright.
eval "$(RELAY_INFRA_OWNER_PID=$$ infra/rabbitmq/start.sh "$RMQ_DIR")"
say "RabbitMQ on 127.0.0.1:$RELAY_TEST_RABBITMQ_PORT ($((SECONDS - t0)) s)"
t0=$SECONDS
eval "$(RELAY_INFRA_OWNER_PID=$$ infra/postgres/start.sh "$PG_DIR")"
say "PostgreSQL on 127.0.0.1:$RELAY_TEST_PG_PORT ($((SECONDS - t0)) s)"

# ---- the load driver ------------------------------------------------------------------------
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain --untracked-files=no 2>/dev/null) ]] || commit+="+changes"
export BENCH_COMMIT=$commit
export BENCH_COMMAND="infra/bench.sh${*:+ $*}"
set +e
dotnet "$DRIVER" load --out "$ROOT/bench-results" "$@"
rc=$?
set -e
exit "$rc"

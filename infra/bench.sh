#!/usr/bin/env bash
# Benchmarks: the relay against its own baselines, measured side by side in one run (issue #7).
#
#   infra/bench.sh                                  # all sections (about 8 minutes on 2 cores)
#   infra/bench.sh --sections e2e-postgres,memory   # some of them; other driver options after these
#   infra/bench.sh --micro [--filter '*Intake*']    # the BenchmarkDotNet hot-path suites (no services needed)
#
# Like infra/test.sh it installs rabbitmq-server and postgresql-15 with apt-get when missing (as root), starts a
# private RabbitMQ node and PostgreSQL cluster on free ports in temp dirs (infra/rabbitmq/start.sh,
# infra/postgres/start.sh), builds the solution in Release, and runs the load driver
# (tests/EnrichmentRelay.Benchmarks), which starts the relay as separate processes against the in-driver
# provider sandbox (no artificial latency). It stops everything it started, whatever happens.
# Durable, as production runs: PostgreSQL with fsync and synchronous_commit on (infra/postgres/start.sh), SQLite as
# the relay opens it; each figure states the durability its database reported during the run, and only durable
# figures meet a goal. One extra flat-out run with fsync off (section e2e-postgres-fsync-off) is shown labelled.
# Prints markdown tables and writes them, with the same figures as JSON, to bench-results/bench-<UTC time>.{md,json}
# (and latest.{md,json}). Relay logs: bench-results/work-<time>/logs. A full run (all sections, none failed) also
# writes its tables into docs/performance.md between the <!-- bench:begin --> and <!-- bench:end --> lines, leaving
# the hand-written text around them alone; a --sections run only writes bench-results/.
# Not run by infra/test.sh or CI: it takes minutes and wants a quiet machine.
#
# Environment knobs (all optional):
#   RELAY_KEEP_DIRS=1     keep the broker/cluster directories (logs) and the SQLite databases after the run
#   RELAY_PG_FSYNC=off    every PostgreSQL run with fsync off: its figures are then marked not durable, meeting no goal
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DRIVER=tests/EnrichmentRelay.Benchmarks/bin/Release/net10.0/EnrichmentRelay.Benchmarks.dll

say() { echo "bench.sh: $*" >&2; }
# shellcheck source=infra/services.sh
source infra/services.sh

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
require_packages "the benchmarks"

build

# ---- services ------------------------------------------------------------------------------
start_services relaybench

# ---- the load driver ------------------------------------------------------------------------
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain --untracked-files=no 2>/dev/null) ]] || commit+="+changes"
export BENCH_COMMIT=$commit
export BENCH_COMMAND="infra/bench.sh${*:+ $*}"
set +e
dotnet "$DRIVER" load --out "$ROOT/bench-results" "$@"
rc=$?
set -e

# ---- docs/performance.md: the latest full run's tables ---------------------------------------
some_sections() {
    local arg
    for arg in "$@"; do
        case $arg in --sections | --sections=* | /sections | /sections=* | sections=*) return 0 ;; esac
    done
    return 1
}

# Replaces what lies between the marker lines of $2 with the tables in $1; everything outside them stays as it is.
write_tables_into() {
    local tables=$1 page=$2 begin='<!-- bench:begin -->' end='<!-- bench:end -->'
    if [[ $(grep -cxF -- "$begin" "$page") -ne 1 || $(grep -cxF -- "$end" "$page") -ne 1 ]] \
        || (( $(grep -nxF -- "$begin" "$page" | cut -d: -f1) > $(grep -nxF -- "$end" "$page" | cut -d: -f1) )); then
        say "$page needs one '$begin' line and, after it, one '$end' line: not rewritten (the tables are in $tables)"
        return 1
    fi
    awk -v begin="$begin" -v end="$end" -v tables="$tables" '
        $0 == begin { print; print ""; while ((getline line < tables) > 0) print line; print ""; skipping = 1; next }
        $0 == end { skipping = 0 }
        !skipping { print }' "$page" >"$page.tmp"
    mv "$page.tmp" "$page"
    say "wrote this run's tables into $page (between its bench markers)"
}

if some_sections "$@"; then
    say "a --sections run: docs/performance.md left as it is (the tables are in bench-results/latest.md)"
elif [[ $rc -ne 0 ]]; then
    say "a section failed: docs/performance.md left as it is (the tables are in bench-results/latest.md)"
else
    write_tables_into bench-results/latest.md docs/performance.md
fi
exit "$rc"

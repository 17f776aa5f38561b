#!/usr/bin/env bash
# Run the whole test suite against a private RabbitMQ node and a private PostgreSQL 15 cluster.
#
#   infra/test.sh                      # all tests but the cluster test
#   infra/test.sh --filter Foo         # extra arguments go to `dotnet test`
#   infra/test.sh --cluster            # only the tests of category Cluster, on a three-node RabbitMQ cluster
#                                      # (what infra/test-cluster.sh runs; CI runs both)
#
# Starts the services on free ports in temp dirs (infra/rabbitmq/start.sh, infra/postgres/start.sh, with
# --cluster infra/rabbitmq/cluster.sh instead of the single node; without it a second node and cluster for the outage
# tests), exports RELAY_TEST_* for the tests, builds EnrichmentRelay.sln in Release (the relays it starts run optimized,
# as they ship), runs the two test assemblies side by side with a TRX logger each, stops the services whatever
# happens (also on failure and Ctrl-C), and ends with the line `N passed, N failed[, N skipped]` counted over all test assemblies.
# The cluster test is kept apart so that each run stays under 10 minutes on 2 cores (README, Run and test).
# Before the tests it packs the contracts package into a local folder feed (RELAY_TEST_PACKAGE_FEED: the .NET
# example is built against it) and runs `npm ci` for the Node example and the AsyncAPI validator.
# Exit status: 0 only if dotnet test succeeded, no test failed and at least one test ran.
#
# Environment knobs (all optional):
#   RELAY_TEST_RESULTS_DIR   keep the TRX files there (default: a temp dir, deleted at the end)
#   RELAY_TEST_VERBOSITY     console logger verbosity (default: minimal; failures are shown in full)
#   RELAY_KEEP_DIRS=1        keep the broker/cluster and PostgreSQL directories (logs) after the run;
#                            =failed keeps them only when the run failed (the RabbitMQ node logs around a failure)
#   RELAY_TEST_ARTIFACTS     where the browser test saves its screenshots (default: test-artifacts/)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Test target; overridable only to exercise this script against another project.
TARGET=${RELAY_TEST_TARGET:-EnrichmentRelay.sln}

CHROMIUM=/usr/bin/chromium   # the dashboard's browser test drives it headless

# Which tests: the suite, or the cluster test alone. Every `--filter` given is narrowed to the chosen side.
CLUSTER=0
if [[ ${1:-} == --cluster ]]; then
    CLUSTER=1
    shift
fi
if ((CLUSTER)); then SIDE='Category=Cluster'; else SIDE='Category!=Cluster'; fi
args=() filtered=0
while (($#)); do
    if [[ $1 == --filter && $# -ge 2 ]]; then
        args+=(--filter "($2)&$SIDE")
        filtered=1
        shift 2
    else
        args+=("$1")
        shift
    fi
done
((filtered)) || args+=(--filter "$SIDE")

say() { echo "test.sh: $*" >&2; }
# shellcheck source=infra/services.sh
source infra/services.sh

# ---- cleanup: runs on every exit ---------------------------------------------------------------
RESULTS_DIR='' OWN_RESULTS_DIR=0 TESTS_STARTED=0 PACKAGE_FEED= test_pids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    ((rc == 0)) || RELAY_RUN_FAILED=1
    ((${#test_pids[@]} == 0)) || kill "${test_pids[@]}" 2>/dev/null
    stop_services
    [[ $OWN_RESULTS_DIR == 1 && -n $RESULTS_DIR ]] && rm -rf -- "$RESULTS_DIR"
    [[ -n $PACKAGE_FEED ]] && rm -rf -- "$PACKAGE_FEED"
    # Failed before any test could run (prerequisites, services): still end with the summary line.
    if ((rc != 0 && rc != 130 && rc != 143 && TESTS_STARTED == 0)); then
        echo "0 passed, 0 failed"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# ---- prerequisites -------------------------------------------------------------------------
# chromium: the dashboard's browser test; promtool: the alert rules' unit tests; python3-pika, node and npm: the
# examples and the AsyncAPI validator.
require_packages "the tests" "$CHROMIUM:chromium" /usr/bin/promtool:prometheus \
    /usr/lib/python3/dist-packages/pika:python3-pika /usr/bin/node:nodejs /usr/bin/npm:npm
if ! command -v dotnet >/dev/null 2>&1; then
    say "'dotnet' is not on PATH: install the .NET 10 SDK (https://dotnet.microsoft.com/download), then re-run."
    exit 1
fi

# ---- the contracts package, and the npm packages of the examples and the AsyncAPI check -------------------
# (The cluster test needs neither.)
if ((CLUSTER == 0)); then
    t0=$SECONDS
    PACKAGE_FEED=$(mktemp -d "${TMPDIR:-/tmp}/relaytest-packages.XXXXXX")
    dotnet pack src/EnrichmentRelay.Contracts -c Release -o "$PACKAGE_FEED" -nologo -v quiet
    package=$(basename "$(compgen -G "$PACKAGE_FEED/EnrichmentRelay.Contracts.*.nupkg")")
    package_version=${package#EnrichmentRelay.Contracts.}
    package_version=${package_version%.nupkg}
    # A copy of the same version restored by an earlier run would hide this one: forget it.
    global_packages=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')
    rm -rf -- "${global_packages%/}/enrichmentrelay.contracts/$package_version"
    export RELAY_TEST_PACKAGE_FEED=$PACKAGE_FEED
    say "packed EnrichmentRelay.Contracts $package_version into a local feed for the .NET example ($((SECONDS - t0)) s)"
    t0=$SECONDS
    # Exactly what package-lock.json says (npm ci), install scripts off; skipped while node_modules was installed
    # from the same lock file.
    npm_installed=()
    for npm_project in examples/node infra/asyncapi; do
        lock_hash=$(sha256sum "$npm_project/package-lock.json" | cut -d' ' -f1)
        [[ $(cat "$npm_project/node_modules/.relay-lock-hash" 2>/dev/null) == "$lock_hash" ]] && continue
        npm ci --prefix "$npm_project" --ignore-scripts --no-audit --no-fund --loglevel=error > /dev/null
        echo "$lock_hash" > "$npm_project/node_modules/.relay-lock-hash"
        npm_installed+=("$npm_project")
    done
    say "npm packages: examples/node (amqplib) and infra/asyncapi (@asyncapi/parser) as locked; npm ci ran for ${npm_installed[*]:-none} ($((SECONDS - t0)) s)"
fi

# ---- build, while the services start ---------------------------------------------------------
# Built once, in Release (the relays the tests start run optimized, as they ship); the services below start meanwhile.
dotnet build "$TARGET" -c Release -nologo -v quiet &
build_pid=$!
test_pids=("$build_pid")   # stopped by cleanup if a service fails to start

# ---- services (RELAY_TEST_* for the tests) --------------------------------------------------
if ((CLUSTER)); then
    start_postgres relaytest
    start_cluster relaytest
else
    start_services relaytest
    start_outage_services relaytest
fi

# ---- dotnet test ----------------------------------------------------------------------------
if [[ -n ${RELAY_TEST_RESULTS_DIR:-} ]]; then
    RESULTS_DIR=$RELAY_TEST_RESULTS_DIR
    mkdir -p "$RESULTS_DIR"
    rm -f "$RESULTS_DIR"/results_*.trx
else
    RESULTS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/relaytest-results.XXXXXX")
    OWN_RESULTS_DIR=1
fi

export RELAY_TEST_ARTIFACTS=${RELAY_TEST_ARTIFACTS:-$ROOT/test-artifacts}
# The suite starts a relay for nearly every integration test, each living seconds: tiered PGO's instrumented first tier
# is pure cost to them (the suite ran 11 minutes with it against 8), so its processes run without. The JIT mode
# changes how fast code runs, never what it does; infra/bench.sh measures the relay as it ships.
export DOTNET_TieredPGO=${DOTNET_TieredPGO:-0}
rm -f "$RELAY_TEST_ARTIFACTS"/*.png   # only this run's screenshots are reported below
# Built once, then the test assemblies run side by side: the integration tests spend most of their time waiting on
# the relays, brokers and sandboxes they start, which leaves room for the unit tests.
if [[ $TARGET == EnrichmentRelay.sln ]]; then
    test_projects=(tests/EnrichmentRelay.IntegrationTests tests/EnrichmentRelay.Tests)
else
    test_projects=("$TARGET")
fi
build_rc=0
wait "$build_pid" || build_rc=$?
test_pids=()
if ((build_rc != 0)); then
    say "the build failed (exit $build_rc)"
    exit 1
fi
TESTS_STARTED=1
for project in "${test_projects[@]}"; do
    dotnet test "$project" -c Release --no-build \
        --logger "trx;LogFilePrefix=results_$(basename "$project")" \
        --logger "console;verbosity=${RELAY_TEST_VERBOSITY:-minimal}" \
        --results-directory "$RESULTS_DIR" \
        "${args[@]}" &
    test_pids+=($!)
done
test_rc=0
for pid in "${test_pids[@]}"; do
    wait "$pid" || test_rc=$?
done
test_pids=()

# ---- counts over all TRX files --------------------------------------------------------------
# <Counters total=".." executed=".." passed=".." failed=".." error=".." timeout=".." aborted=".."
#           inconclusive=".." ... notExecuted=".." .../>
# Skipped tests show up only as total - executed (notExecuted stays 0 with xunit's adapter).
counter() { # file attribute -> number (0 if absent)
    local v
    v=$(grep -o '<Counters [^>]*' "$1" | grep -o " $2=\"[0-9]*\"" | head -1 | grep -o '[0-9][0-9]*' || true)
    echo "${v:-0}"
}
passed=0 failed=0 skipped=0 trx_files=0 not_run=0
while IFS= read -r -d '' trx; do
    trx_files=$((trx_files + 1))
    passed=$((passed + $(counter "$trx" passed)))
    failed=$((failed + $(counter "$trx" failed) + $(counter "$trx" error) + $(counter "$trx" timeout) + $(counter "$trx" aborted)))
    not_run=$(($(counter "$trx" total) - $(counter "$trx" executed)))
    ((not_run >= $(counter "$trx" notExecuted))) || not_run=$(counter "$trx" notExecuted)
    skipped=$((skipped + not_run + $(counter "$trx" inconclusive)))
done < <(find "$RESULTS_DIR" -maxdepth 1 -name 'results_*.trx' -print0)

# Measured figures the tests report (lines starting "[figure]" in a test's output), e.g. poll cost.
find "$RESULTS_DIR" -maxdepth 1 -name 'results_*.trx' -exec grep -oh '\[figure\][^&<]*' {} + 2>/dev/null | sort -u || true

# The slowest tests, to keep the suite within its 10 minutes.
say "slowest tests:"
find "$RESULTS_DIR" -maxdepth 1 -name 'results_*.trx' -exec grep -oh '<UnitTestResult [^>]*' {} + 2>/dev/null |
    sed -n 's/.*testName="\([^"]*\)".*duration="\([0-9]*\):\([0-9]*\):\([0-9.]*\)".*/\2 \3 \4 \1/p' |
    awk '{ s = $1 * 3600 + $2 * 60 + $3; $1 = $2 = $3 = ""; sub(/^ +/, ""); printf "%7.1f s  %s\n", s, $0 }' |
    sort -rn | head -12 >&2 || true

status=0
if ((test_rc != 0)); then
    say "dotnet test exited with $test_rc"
    status=1
fi
((failed == 0)) || status=1
if ((passed + failed == 0)); then
    say "no test ran"
    status=1
fi
((status == 0)) || RELAY_RUN_FAILED=1
stop_services   # before the summary, so the summary is the last line printed
[[ $OWN_RESULTS_DIR == 1 ]] || say "TRX files ($trx_files) in $RESULTS_DIR"
if compgen -G "$RELAY_TEST_ARTIFACTS/*.png" > /dev/null; then say "screenshots in $RELAY_TEST_ARTIFACTS"; fi

summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
exit "$status"

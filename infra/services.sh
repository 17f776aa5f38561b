# Sourced by infra/test.sh and infra/bench.sh: the packages they need, and a private RabbitMQ node (or a
# three-node RabbitMQ cluster) and PostgreSQL cluster on free ports in temp dirs, stopped again by stop_services
# (call it from an EXIT trap).
#
#   source infra/services.sh
#   require_packages "the tests" [/usr/bin/chromium:chromium ...]   # installs what is missing (as root)
#   start_services relaytest                                        # exports RELAY_TEST_* for the children
#   start_outage_services relaytest                                 # a second pair, RELAY_TEST_OUTAGE_*
#   start_postgres relaytest; start_cluster relaytest               # the cluster test's: PostgreSQL, 3 RabbitMQ nodes
#   stop_services
#
# The caller defines say() for its messages. RELAY_KEEP_DIRS=1 keeps the services' directories (logs);
# RELAY_KEEP_DIRS=failed keeps them only when the caller has set RELAY_RUN_FAILED=1 before stop_services.

RABBIT_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
PG_INITDB=/usr/lib/postgresql/15/bin/initdb
RMQ_DIR='' PG_DIR='' CLUSTER_DIR='' OUTAGE_RMQ_DIR='' OUTAGE_PG_DIR='' STARTED=''

# require_packages WHO [PATH:PACKAGE ...]: RabbitMQ and PostgreSQL 15 always, plus the extra ones named.
require_packages() {
    local who=$1 wanted path package
    shift
    local -a missing=() paths=()
    # openssl: the test node's TLS certificates (infra/rabbitmq/tls.sh) and the cluster's Erlang cookie.
    for wanted in "$RABBIT_SERVER:rabbitmq-server" "$PG_INITDB:postgresql-15" /usr/bin/openssl:openssl "$@"; do
        path=${wanted%%:*} package=${wanted#*:}
        paths+=("$path")
        [[ -x $path ]] || missing+=("$package")
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) != 0 ]]; then
        say "missing: ${missing[*]}"
        say "$who need ${paths[*]} (Debian packages rabbitmq-server, postgresql-15 and the others named)."
        say "install them, then re-run:  sudo apt-get install -y --no-install-recommends ${missing[*]}"
        exit 1
    fi
    say "installing ${missing[*]} (only the binaries are used; any system service is left alone)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
    for path in "${paths[@]}"; do
        [[ -x $path ]] || { say "$path still missing after installing ${missing[*]}"; exit 1; }
    done
}

# start_services PREFIX: starts both and exports their RELAY_TEST_* variables (see infra/*/start.sh).
start_services() {
    local prefix=$1 t0
    t0=$SECONDS
    start_in_new_dir RMQ_DIR "$prefix-rabbitmq" infra/rabbitmq/start.sh || exit 1
    eval "$STARTED"
    say "RabbitMQ on 127.0.0.1:$RELAY_TEST_RABBITMQ_PORT, TLS on ${RELAY_TEST_RABBITMQ_TLS_PORT:-none} ($((SECONDS - t0)) s; logs in $RMQ_DIR/log)"
    start_postgres "$prefix"
}

# start_in_new_dir DIR_VAR LABEL COMMAND...: runs COMMAND... with a new temp dir as its last argument, the dir's path
# in the variable named DIR_VAR and what it prints (its `export` lines) in STARTED; up to 3 tries. The ports the start
# scripts pick are free when they pick them, but another process (an outgoing connection's ephemeral port) can take one
# before the server binds it (RabbitMQ: dist_port_already_used; PostgreSQL: could not bind IPv4 address): a new try
# picks other ports. A failed start stops what it had started. RELAY_INFRA_OWNER_PID: the services stop themselves
# should the calling script be killed outright.
start_in_new_dir() {
    local dir_var=$1 label=$2 attempt dir
    shift 2
    for attempt in 1 2 3; do
        dir=$(mktemp -d "${TMPDIR:-/tmp}/$label.XXXXXX")
        printf -v "$dir_var" '%s' "$dir"
        if STARTED=$(export RELAY_INFRA_OWNER_PID=$$; "$@" "$dir"); then
            return 0
        fi
        rm -rf -- "$dir"
        printf -v "$dir_var" '%s' ''
        say "$label did not start (try $attempt of 3; its log tail is above)"
    done
    return 1
}

# start_postgres PREFIX: the PostgreSQL cluster alone (durable: fsync and synchronous_commit on).
start_postgres() {
    local prefix=$1 t0=$SECONDS
    start_in_new_dir PG_DIR "$prefix-postgres" infra/postgres/start.sh || exit 1
    eval "$STARTED"
    say "PostgreSQL on 127.0.0.1:$RELAY_TEST_PG_PORT ($((SECONDS - t0)) s; log in $PG_DIR/server.log)"
}

# start_outage_services PREFIX: a RabbitMQ node and a PostgreSQL cluster of their own for the tests that stop, crash or
# kill them (OutageTests), so that those run beside the other tests instead of after them; the same variables as
# start_services, named RELAY_TEST_OUTAGE_* instead of RELAY_TEST_*.
start_outage_services() {
    local prefix=$1 t0=$SECONDS
    start_in_new_dir OUTAGE_RMQ_DIR "$prefix-outage-rabbitmq" env RELAY_RABBITMQ_TLS=0 infra/rabbitmq/start.sh || exit 1
    eval "${STARTED//export RELAY_TEST_/export RELAY_TEST_OUTAGE_}"
    start_in_new_dir OUTAGE_PG_DIR "$prefix-outage-postgres" infra/postgres/start.sh || exit 1
    eval "${STARTED//export RELAY_TEST_/export RELAY_TEST_OUTAGE_}"
    say "for the outage tests: RabbitMQ on 127.0.0.1:$RELAY_TEST_OUTAGE_RABBITMQ_PORT, PostgreSQL on 127.0.0.1:$RELAY_TEST_OUTAGE_PG_PORT ($((SECONDS - t0)) s)"
}

# start_cluster PREFIX: three RabbitMQ nodes joined into one cluster (infra/rabbitmq/cluster.sh); RELAY_TEST_CLUSTER*.
start_cluster() {
    local prefix=$1 t0=$SECONDS
    start_in_new_dir CLUSTER_DIR "$prefix-cluster" start_cluster_in || exit 1
    eval "$STARTED"
    say "RabbitMQ cluster of 3 nodes on $RELAY_TEST_CLUSTER_HOSTS ($((SECONDS - t0)) s; logs in $CLUSTER_DIR/node*/log)"
}

start_cluster_in() { infra/rabbitmq/cluster.sh "$1" start; }

stop_services() {
    # The stop scripts delete a directory unless RELAY_KEEP_DIRS=1: tell them what was decided here.
    local keep=0
    KEPT=()
    if [[ ${RELAY_KEEP_DIRS:-0} == 1 || (${RELAY_KEEP_DIRS:-0} == failed && ${RELAY_RUN_FAILED:-0} == 1) ]]; then keep=1; fi
    if [[ -n $CLUSTER_DIR ]]; then
        [[ ! -d $CLUSTER_DIR/node1 ]] || RELAY_KEEP_DIRS=$keep infra/rabbitmq/cluster.sh "$CLUSTER_DIR" stop || true
        if ((keep)); then KEPT+=("$CLUSTER_DIR/node*/log"); else rm -rf -- "$CLUSTER_DIR"; fi
        CLUSTER_DIR=''
    fi
    stop_dir "$keep" "$RMQ_DIR" .relaytest-rabbitmq infra/rabbitmq/stop.sh log
    stop_dir "$keep" "$OUTAGE_RMQ_DIR" .relaytest-rabbitmq infra/rabbitmq/stop.sh log
    stop_dir "$keep" "$PG_DIR" .relaytest-postgres infra/postgres/stop.sh server.log
    stop_dir "$keep" "$OUTAGE_PG_DIR" .relaytest-postgres infra/postgres/stop.sh server.log
    RMQ_DIR='' OUTAGE_RMQ_DIR='' PG_DIR='' OUTAGE_PG_DIR=''
    ((${#KEPT[@]} == 0)) || say "kept the services' directories; logs in ${KEPT[*]}"
}

# stop_dir KEEP DIR MARKER STOP_SCRIPT LOG: stops the service in DIR (when its start script's marker is there), then
# deletes DIR or, with KEEP=1, adds its log to KEPT.
stop_dir() {
    local keep=$1 dir=$2 marker=$3 stop=$4 log=$5
    [[ -n $dir ]] || return 0
    [[ ! -f $dir/$marker ]] || RELAY_KEEP_DIRS=$keep "$stop" "$dir" || true
    if ((keep)); then KEPT+=("$dir/$log"); else rm -rf -- "$dir"; fi
}

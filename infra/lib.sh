# Shared by infra/test.sh and infra/bench.sh: install what is missing, find free ports.
# shellcheck shell=bash

RABBITMQ_BIN=/usr/lib/rabbitmq/bin
PG_BIN=/usr/lib/postgresql/15/bin

# Installs RabbitMQ and PostgreSQL 15 when absent (apt-get as root; otherwise says what to install).
ensure_installed() {
  local missing=()
  [ -x "$RABBITMQ_BIN/rabbitmq-server" ] || missing+=(rabbitmq-server)
  [ -x "$PG_BIN/initdb" ] || missing+=(postgresql-15)
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "The .NET 10 SDK is required (dotnet not found on PATH)." >&2
    exit 1
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing: ${missing[*]}. Install them first, e.g.: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing ${missing[*]} ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The packages try to start system services; we never use those, so a refusal is fine.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A free port P in 20000-40000 (with P+offset also free when an offset is given).
free_port() {
  local offset=${1:-0} p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    if port_free "$p" && { [ "$offset" -eq 0 ] || port_free $((p + offset)); }; then
      echo "$p"
      return 0
    fi
  done
  echo "No free port found" >&2
  return 1
}

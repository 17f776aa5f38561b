#!/usr/bin/env bash
# The cluster test: the relay on a private three-node RabbitMQ cluster (infra/rabbitmq/cluster.sh) with quorum
# queues, one node killed mid-run and started again. Kept out of infra/test.sh so that each run stays under
# 10 minutes on 2 cores; CI (.ci/run) runs both. Same output and exit status as infra/test.sh.
#
#   infra/test-cluster.sh              # extra arguments go to `dotnet test`, as with infra/test.sh
#   RELAY_KEEP_DIRS=failed infra/test-cluster.sh   # keep the nodes' logs (DIR/node*/log) when the test fails
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/test.sh" --cluster "$@"

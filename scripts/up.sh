#!/usr/bin/env bash
# Runs netkan on this machine (`netkan up`): installs redis-server if missing, builds in
# release mode, and starts everything. With no REDIS_URL it starts its own redis-server
# (append-only, data under ./data, port 6389). Extra arguments go to `netkan up`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prereqs.sh
install_prereqs redis-server git
exec cargo run --release --quiet -p netkan -- up "$@"

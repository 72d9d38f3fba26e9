#!/usr/bin/env bash
# Runs netkan on this machine (`netkan up`): installs redis-server if missing, builds in
# release mode, and starts everything. With no REDIS_URL it starts its own redis-server
# (append-only, data under ./data, port 6389). Extra arguments go to `netkan up`.
# NETKAN_BUILD_PROFILE=dev runs the debug build instead (what CI's smoke run does, reusing
# the test build).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prereqs.sh
install_prereqs redis-server git
exec cargo run --profile "${NETKAN_BUILD_PROFILE:-release}" --quiet -p netkan -- up "$@"

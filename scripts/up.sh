#!/usr/bin/env bash
# Runs netkan on this machine (`netkan up`): installs redis-server if missing, builds in
# release mode, and starts everything. With no REDIS_URL it starts its own redis-server
# (append-only, data under ./data, port 6389). Extra arguments go to `netkan up`.
#
# The build is the README's and docs/OPERATIONS.md's (`cargo build --release --workspace`),
# so after either one the other compiles nothing. netkan is exec'd itself, not through
# `cargo run`: a Ctrl-C then reaches netkan up, which stops its workers, web and Redis in
# order (docs/OPERATIONS.md, "Stopping"). NETKAN_BUILD_PROFILE=dev runs the debug build
# instead (what CI's smoke run does, reusing the test build).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prereqs.sh
install_prereqs redis-server git
profile=${NETKAN_BUILD_PROFILE:-release}
# Cargo puts the dev profile's output under debug/, every other profile under its own name.
dir=$profile
[ "$profile" = dev ] && dir=debug
cargo build --profile "$profile" --quiet --workspace
exec "${CARGO_TARGET_DIR:-target}/$dir/netkan" up "$@"

#!/usr/bin/env bash
# The web front end's benchmark (docs/BENCHMARKS.md, "Web front end"): wrk against
# /logs/<uuid> with 200 lines and /api/v1/jobs/<uuid>, then the delay from a worker writing a
# log line to an SSE client and to headless Chromium. Runs on a private redis-server.
# Installs redis-server, wrk, chromium and chromedriver with apt-get if missing.
# Arguments go to the benchmark: --duration SECS (wrk, default 10), --lines N, --no-browser.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prereqs.sh
install_prereqs redis-server wrk chromium chromedriver:chromium-driver
exec cargo run --release -p netkan-web --example bench -- "$@"

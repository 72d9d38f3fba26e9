#!/usr/bin/env bash
# Runs every test of netkan. On Debian it first installs what the tests need and is missing
# (redis-server, git; iproute2 for the fault scenarios' network namespaces; chromium and
# chromedriver for the web's browser test; nginx and openssl for the deploy test); each test starts its own private redis-server
# on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prereqs.sh
install_prereqs redis-server git ip:iproute2 chromium chromedriver:chromium-driver nginx openssl
exec cargo test --workspace "$@"

#!/usr/bin/env bash
# Builds every cargo-fuzz target of fuzz/ and runs each for a bounded time.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 60) each
#   scripts/fuzz.sh log_query       # one target
#   FUZZ_SECONDS=300 scripts/fuzz.sh
#
# Needs a nightly toolchain (rustup toolchain install nightly); installs cargo-fuzz if it is
# missing. Each target starts from its seeds (fuzz/seeds/<target>/, and for ckan_parse the
# real files of ../shared/ckan-real or $CKAN_REAL_DIR when present) in a scratch corpus, so the checkout is
# not changed. Without a sanitizer: the workspace forbids unsafe code, so the targets look for
# panics (overflow checks and debug assertions are on), hangs (-timeout) and memory blow-ups
# (-rss_limit_mb); FUZZ_SANITIZER=address turns AddressSanitizer on. A crash fails the script
# and leaves the input under fuzz/artifacts/<target>/. A failing build fails it too.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-none}
toolchain=${FUZZ_TOOLCHAIN:-nightly}

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  echo "fuzz: the $toolchain toolchain is missing: rustup toolchain install $toolchain" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo +"$toolchain" fuzz list)
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets found in fuzz/" >&2; exit 1; }

echo "== fuzz: building ${targets[*]} (sanitizer: $sanitizer)"
started=$(date +%s)
(cd fuzz && cargo +"$toolchain" fuzz build --sanitizer "$sanitizer")
echo "fuzz: built in $(( $(date +%s) - started )) s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds+=("$PWD/fuzz/seeds/$target")
  real=${CKAN_REAL_DIR:-../shared/ckan-real}
  if [ "$target" = ckan_parse ] && [ -d "$real" ]; then
    for sub in netkan ckan metanetkan-targets; do
      [ -d "$real/$sub" ] && seeds+=("$(cd "$real/$sub" && pwd)")
    done
  fi
  corpus="$scratch/$target"
  mkdir -p "$corpus"
  echo "== fuzz: $target for $seconds s (seeds: ${seeds[*]:-none})"
  log="$scratch/$target.log"
  # The first directory collects new inputs; the others are read only.
  if ! (cd fuzz && cargo +"$toolchain" fuzz run --sanitizer "$sanitizer" "$target" "$corpus" "${seeds[@]}" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1) \
      >"$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz: $target FAILED; the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
  # The figures of the run: executions, their rate, coverage, corpus size.
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|DONE' "$log" | sed "s/^/fuzz: $target: /"
  grep -E '#[0-9]+\s+DONE' "$log" | tail -1 | sed "s/^/fuzz: $target: /" || true
done
echo "fuzz: every target ran $seconds s without a failure"

#!/usr/bin/env bash
# Builds every cargo-fuzz target of fuzz/ and runs each for a bounded time.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 60) each
#   scripts/fuzz.sh log_query       # one target
#   FUZZ_SECONDS=300 scripts/fuzz.sh
#   FUZZ_SECONDS=20 scripts/fuzz.sh                    # what CI runs
#
# Needs a nightly toolchain and cargo-fuzz; installs either if it is missing. Each target
# starts from its seeds (fuzz/seeds/<target>/, and for ckan_parse the real files of
# ../shared/ckan-real or $CKAN_REAL_DIR when present) in a scratch corpus, so the checkout
# is not changed. Without a sanitizer: the workspace forbids unsafe code, so the targets look
# for panics (overflow checks and debug assertions are on), hangs (-timeout) and memory
# blow-ups (-rss_limit_mb); FUZZ_SANITIZER=address turns AddressSanitizer on. A crash fails
# the script and leaves the input under fuzz/artifacts/<target>/; a failed build fails it too.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-none}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
# `release` (default) or `dev`: a dev build takes half the CPU time to build but runs
# about 50 times fewer inputs per second (docs/RELIABILITY.md).
profile=${FUZZ_PROFILE:-release}
case "$profile" in
  release) profile_flag=() ;;
  dev) profile_flag=(--dev) ;;
  *) echo "fuzz: FUZZ_PROFILE must be release or dev, not $profile" >&2; exit 1 ;;
esac

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  echo "== fuzz: installing the $toolchain toolchain"
  rustup toolchain install "$toolchain" --profile minimal
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

echo "== fuzz: building ${targets[*]} (sanitizer: $sanitizer, profile: $profile)"
started=$(date +%s)
(cd fuzz && cargo +"$toolchain" fuzz build "${profile_flag[@]}" --sanitizer "$sanitizer")
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
  if ! (cd fuzz && cargo +"$toolchain" fuzz run "${profile_flag[@]}" --sanitizer "$sanitizer" "$target" "$corpus" "${seeds[@]}" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1) \
      >"$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz: $target FAILED; the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
  # The figures of the run: executions, their rate, coverage, corpus size.
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|DONE' "$log" | sed "s/^/fuzz: $target: /"
done
echo "fuzz: every target ran $seconds s without a failure"

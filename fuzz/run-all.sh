#!/usr/bin/env bash
# Runs every fuzz target with cargo-fuzz (libFuzzer, nightly toolchain), one after another,
# each on its corpus (fuzz/corpus/<target>, new finds are added there) plus its saved crash
# and regression inputs (fuzz/regressions/<target>). Prints one summary line per target.
#
#   fuzz/run-all.sh                 60 seconds per target
#   fuzz/run-all.sh 10              10 seconds per target (what CI runs)
#   fuzz/run-all.sh --runs 10000000 ten million inputs per target
#   fuzz/run-all.sh 30 mqtt_codec   only the named targets
#
# FUZZ_SANITIZER=none builds without AddressSanitizer (about twice the executions per
# second; the Rust code is memory-safe, ASan watches the C underneath: SQLite, zstd).
# FUZZ_MAX_SECS=N caps each target's time on top of --runs.
#
# A crash stops the run with libFuzzer's report; the input is in fuzz/artifacts/<target>/.
# Needs `cargo +nightly` and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"

limit=(-max_total_time=60)
case "${1:-}" in
  --runs) limit=(-runs="$2"); shift 2 ;;
  ''|*[!0-9]*) ;;
  *) limit=(-max_total_time="$1"); shift ;;
esac
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^ota-fuzz$')
fi

# Bounds every target runs under. The delta targets play a device that gives a patch at
# most 64 MiB (see src/delta.rs): an allocation far beyond that is a finding.
extra_args() {
  case "$1" in
    delta_apply) echo "-malloc_limit_mb=512 -max_len=65536" ;;
    broker_session|oss_post_object|native_api|aliyun_rpc) echo "-max_len=16384" ;;
    *) echo "" ;;
  esac
}

# One build of every target first (shared dependencies compile once). FUZZ_CI=1 (CI's brief
# runs) builds unoptimised, without ASan or debug info and with parallel codegen: minutes
# instead of a quarter of an hour on two cores, at an exec/s that does not matter for seconds.
build=(-O --debug-assertions)
[ -n "${FUZZ_SANITIZER:-}" ] && build+=(-s "$FUZZ_SANITIZER")
[ -n "${FUZZ_MAX_SECS:-}" ] && limit+=(-max_total_time="$FUZZ_MAX_SECS")
if [ -n "${FUZZ_CI:-}" ]; then
  build=(--dev -s none --codegen-units 16)
  export CARGO_PROFILE_DEV_DEBUG=0
fi
cargo +nightly fuzz build "${build[@]}" --features libfuzzer
summary=()
for t in "${targets[@]}"; do
  dirs=("corpus/$t")
  mkdir -p "corpus/$t"
  [ -d "regressions/$t" ] && dirs+=("regressions/$t")
  log="$(mktemp)"
  start=$(date +%s)
  # shellcheck disable=SC2046
  if ! cargo +nightly fuzz run "${build[@]}" --features libfuzzer "$t" "${dirs[@]}" -- \
      "${limit[@]}" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 $(extra_args "$t") \
      >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $t FAILED (log: $log)" >&2
    exit 1
  fi
  secs=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
  files=$(find "corpus/$t" -type f | wc -l)
  summary+=("$(printf '%-18s %12s runs %8s exec/s %6ss  corpus %s files' "$t" "$runs" "$rate" "$secs" "$files")")
  rm -f "$log"
done
printf '%s\n' "${summary[@]}"

#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-fuzz (libFuzzer + AddressSanitizer) of
#   options     the options string -> parsed pairs -> Config (any input: Ok or an option error)
#   csv_update  the CSV reader of on_csv_write=update (any file: row written and the file parses,
#               or an I/O error and the file left unchanged)
# Usage: bash scripts/fuzz.sh [seconds per target, default 60] [target ...]
# Needs cargo-fuzz (installed here on first use) and a nightly toolchain, or stable with
# RUSTC_BOOTSTRAP=1 (used when no nightly is installed). Findings land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(options csv_update)

command -v cargo-fuzz > /dev/null || cargo install --locked cargo-fuzz
if rustup toolchain list 2> /dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
for t in "${targets[@]}"; do
  echo "== fuzz $t for ${secs} s"
  mkdir -p "corpus/$t"
  set +e
  "${fuzz[@]}" run -O "$t" "corpus/$t" -- -max_total_time="$secs" 2>&1 | grep -E '^(Done|==|SUMMARY|INFO: seed)|panicked|ERROR'
  status=${PIPESTATUS[0]}
  set -e
  # libFuzzer leaves a crash-*/leak-*/timeout-* file for every finding.
  if ls "artifacts/$t"/* > /dev/null 2>&1; then
    echo "fuzz $t: findings in fuzz/artifacts/$t" >&2
    exit 1
  fi
  [ "$status" -eq 0 ] || { echo "fuzz $t: cargo fuzz exited with $status" >&2; exit "$status"; }
done
echo "fuzz: no findings"

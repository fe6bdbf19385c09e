#!/usr/bin/env bash
# Format and lint of every language, changing nothing (scripts/test-all.sh runs it first):
#   Rust: rustfmt (rustfmt.toml) and clippy -D warnings (the [lints] table of Cargo.toml);
#   Go: gofmt; Python: ruff check and ruff format (ruff.toml); C and C++ of the examples and
#   tests: clang-format (.clang-format). `go vet` needs the built library: test-all runs it
#   with the Go tests. `scripts/lint.sh --fix` rewrites what the formatters would change.
# Needs scripts/setup.sh's tools: ruff in target/test-venv, clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=false
[ "${1:-}" = "--fix" ] && fix=true
ruff="target/test-venv/bin/ruff"
c_files() {
  git ls-files 'examples/*.c' 'examples/*.cpp' 'examples/*.h' 'examples/*.hpp' \
    'tests/*.c' 'tests/*.cpp' 'tests/*.h' 'tests/*.hpp'
}
if $fix; then
  cargo fmt --all
  cargo fmt --all --manifest-path fuzz/Cargo.toml
  gofmt -w bindings/go examples/go
  "$ruff" format .
  "$ruff" check --fix .
  c_files | xargs clang-format -i
  exit 0
fi
echo "-- rust: rustfmt, clippy"
cargo fmt --all --check
cargo fmt --all --check --manifest-path fuzz/Cargo.toml
cargo clippy --quiet --workspace --all-targets --all-features --locked -- -D warnings
echo "-- go: gofmt"
unformatted="$(gofmt -l bindings/go examples/go)"
[ -z "$unformatted" ] || { echo "gofmt would change (scripts/lint.sh --fix):"; echo "$unformatted"; exit 1; }
echo "-- python: ruff check, ruff format --check"
"$ruff" check --quiet .
"$ruff" format --check --quiet .
echo "-- c and c++: clang-format"
c_files | xargs clang-format --dry-run -Werror
echo "format and lint: clean"

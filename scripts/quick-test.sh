#!/usr/bin/env bash
# The quick test, for every change before the full one (scripts/test-all.sh): the library (its
# unit tests, trackers, tasks, regions, predictions), the `carbon-tracker` command, the C ABI
# (C and C++ programs built against the header, the header and the Python option types up to
# date) and the Go binding. About 25 s after a build on a 2-core machine; it builds
# first what it needs. Needs cargo, a C and a C++ compiler, and Go 1.21+ (scripts/setup.sh).
# Left to the full test: Fortran, Python, CMake, the cluster and job tests (Slurm, MPI,
# Prometheus), online uploads, doctests, install and publisher checks, lint.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
if [ -x /usr/lib/go-1.22/bin/go ]; then export PATH="/usr/lib/go-1.22/bin:$PATH"; fi
export CARBON_TRACKER_LOOPBACK_ONLY=1 # no test may reach a non-loopback address
export CODECARBON_LOG_LEVEL=error

targets=(--lib --bins --test integration)
# The modules of the integration tests (tests/integration.rs) it runs.
modules=(tracker:: tasks:: regions:: prediction:: header:: binding_options:: c_abi:: cli::)
echo "== build"
cargo build --quiet # the debug C library, for the Go binding
cargo test --quiet --no-run "${targets[@]}" 2> /dev/null || cargo test --no-run "${targets[@]}"
start=$(date +%s)

echo "== library, command, C ABI (cargo test)"
cargo test --quiet --lib --bins
cargo test --quiet --test integration -- --test-threads 4 "${modules[@]}"

echo "== go binding (go test)"
export PKG_CONFIG_PATH="$(bash scripts/dev-pkgconfig.sh "$root/target/debug")"
(cd bindings/go && go test -count=1 ./...)

echo "quick test: passed in $(($(date +%s) - start)) s after the build"

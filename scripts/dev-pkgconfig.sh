#!/usr/bin/env bash
# Writes a carbon_tracker.pc for the library as cargo built it in this checkout (not installed),
# and prints the directory to put in PKG_CONFIG_PATH:
#   PKG_CONFIG_PATH="$(bash scripts/dev-pkgconfig.sh target/debug)" go test ./bindings/go/...
# Installed copies get their .pc from `cmake --install` (cmake/carbon_tracker.pc.in).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lib_dir="$(cd "${1:-$root/target/debug}" && pwd)"
version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
mkdir -p "$lib_dir/pkgconfig"
cat > "$lib_dir/pkgconfig/carbon_tracker.pc" <<PC
libdir=$lib_dir
includedir=$root/include

Name: carbon_tracker
Description: Energy and carbon emissions of the program it is linked into (uninstalled build)
Version: $version
Libs: -L\${libdir} -lcarbon_tracker -Wl,-rpath,\${libdir}
Libs.private: -lpthread -ldl -lm
Cflags: -I\${includedir}
PC
echo "$lib_dir/pkgconfig"

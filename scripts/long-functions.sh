#!/usr/bin/env bash
# Lists the functions in src/ longer than a limit (default 80 lines), longest first:
# `lines path:line name`. Exits 1 when there is one. Relies on rustfmt's layout: a function
# ends at the first `}` at the indentation of its `fn` line.
set -euo pipefail
limit="${1:-80}"
cd "$(dirname "$0")/.."
find src -name '*.rs' -print0 | xargs -0 awk -v limit="$limit" '
  FNR == 1 { open = 0 }
  !open && match($0, /^[ \t]*((pub(\([^)]*\))?|const|async|unsafe|extern "C") +)*fn +[A-Za-z0-9_]+/) {
    if ($0 ~ /[;}][ \t]*$/) next            # a declaration, or a function on one line
    indent = $0; sub(/[^ \t].*/, "", indent)
    name = $0; sub(/.*fn +/, "", name); sub(/[^A-Za-z0-9_].*/, "", name)
    open = 1; start = FNR; next
  }
  open && $0 == indent "}" {
    open = 0; n = FNR - start + 1
    if (n > limit) printf "%d %s:%d %s\n", n, FILENAME, start, name
  }
' | sort -rn > "${TMPDIR:-/tmp}/long-functions.$$"
cat "${TMPDIR:-/tmp}/long-functions.$$"
found=$(wc -l < "${TMPDIR:-/tmp}/long-functions.$$")
rm -f "${TMPDIR:-/tmp}/long-functions.$$"
[ "$found" -eq 0 ]

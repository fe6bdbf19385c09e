#!/usr/bin/env bash
# Lists the functions of src/ longer than a limit (80 lines by default), longest first, and their
# count: `scripts/long-functions.sh [LIMIT] [DIR]`. A report, not a gate (it exits 0).
# A function runs from its `fn` line to the `}` at the same indentation (rustfmt's layout);
# the unit tests (a file's `#[cfg(test)]` module at the end) are left out.
set -euo pipefail
limit="${1:-80}"
dir="${2:-$(cd "$(dirname "$0")/.." && pwd)/src}"
find "$dir" -name '*.rs' -print0 | sort -z | xargs -0 awk -v limit="$limit" -v root="$dir/" '
  FNR == 1 { depth = 0; in_tests = 0 }
  /^#\[cfg\(test\)\]/ { in_tests = 1 }
  in_tests { next }
  depth == 0 && match($0, /^ *((pub(\([a-z]+\))? )?(const )?(async )?(unsafe )?(extern "C" )?)fn [A-Za-z0-9_]+/) {
    line = $0
    if (line ~ /;[ \t]*$/) next   # a declaration without a body (a trait item)
    indent = substr(line, 1, match(line, /[^ ]/) - 1)
    name = line; sub(/^ *.*fn /, "", name); sub(/[^A-Za-z0-9_].*/, "", name)
    start = FNR; depth = 1
    if (line ~ /\}[ \t]*$/ && line ~ /\{/) { depth = 0 }   # a one-line function
    next
  }
  depth == 1 && $0 == indent "}" {
    n = FNR - start + 1
    if (n > limit) { file = FILENAME; sub(root, "", file); printf "%5d  %s:%d  %s\n", n, file, start, name }
    depth = 0
  }
' | sort -rn | awk -v limit="$limit" '{ print } END { printf "%d function(s) over %d lines\n", NR, limit }'

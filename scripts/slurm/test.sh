#!/usr/bin/env bash
# Every launch of issue 28's table under a real Slurm (scripts/slurm/cluster.sh: one node, then two
# in network namespaces): each case's ranks run tests/c/node_rank.c against the debug library with
# RAM forced to 10 W, and their RAM energies, summed per node, must be the node's (10 W x the time
# the node was measured) within 2 % (scripts/slurm/check_ranks.py). Run as root, from anywhere:
#   bash scripts/slurm/test.sh            all cases; CT_SLURM_CASES="srun_n4 ..." runs only those
# Without Slurm (or not root) the stage is skipped, unless CT_REQUIRE_CLUSTER_TOOLS=1: then it fails.
# Prints a table `case | ranks' sum / nodes | per node host:ranks:ratio | ranks` and exits 1 if a
# case failed (after running them all).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cl="$root/scripts/slurm/cluster.sh"
tl="$root/scripts/slurm/torchrun_like.py"
missing=""
for t in slurmctld slurmd srun sbatch munged mpirun nsenter unshare ip cc python3; do
  command -v "$t" > /dev/null 2>&1 || missing="$missing $t"
done
[ "$(id -u)" = 0 ] || missing="$missing (root)"
if [ -n "$missing" ]; then
  if [ -n "${CT_REQUIRE_CLUSTER_TOOLS:-}" ]; then echo "slurm test: missing:$missing (CT_REQUIRE_CLUSTER_TOOLS is set)" >&2; exit 1; fi
  echo "SKIPPED: slurm test: missing:$missing (scripts/setup.sh installs Slurm and munge)"
  exit 0
fi
work="$(mktemp -d /tmp/ct-slurm-test.XXXXXX)"
chmod 755 "$work"
trap 'bash "$cl" stop > /dev/null; rm -rf "$work"' EXIT
(cd "$root" && cargo build --quiet --lib)
lib="$root/target/debug"
cc -std=c99 -Wall -Werror -I "$root/include" "$root/tests/c/node_rank.c" -o "$work/node_rank" \
  -L"$lib" -Wl,-rpath,"$lib" -lcarbon_tracker
run_s="${CT_SLURM_RUN_S:-2}"
# RAM at 10 W; short ticks; coordination in a directory of this run (the file names carry the host).
opts="force_carbon_intensity_g_co2e_kwh=50;save_to_file=false;force_ram_power=10;measure_power_secs=0.3;job_coordination_dir=$work/coord"
mkdir -p "$work/coord"
failed=0
table=()

wanted() { [ -z "${CT_SLURM_CASES:-}" ] || [[ " $CT_SLURM_CASES " == *" $1 "* ]]; }

# case_ NAME RANKS [--distinct-ranks] -- COMMAND...: COMMAND (a Slurm client command, run through
# cluster.sh in $work/NAME) starts ranks as "$R" (the rank program with its steps; each writes
# $work/NAME/out/<host>-<pid>.txt).
case_() {
  local name="$1" n="$2" flags=()
  shift 2
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  wanted "$name" || return 0
  local d="$work/$name"
  mkdir -p "$d/out" "$d/sync"
  printf '#!/bin/sh\nf="%s/out/$(hostname)-$$"\nexec %s "%s" %s 1 start json sleep:%s json stop > "$f.txt" 2> "$f.err"\n' \
    "$d" "$work/node_rank" "$opts" "$d/sync" "$run_s" > "$d/rank.sh"
  chmod +x "$d/rank.sh"
  R="$d/rank.sh"
  local cmd=()
  for a in "$@"; do
    case "$a" in "$work"/batch-*.sh) sed -i "s|@R@|$R|g" "$a" ;; esac
    cmd+=("${a//@R@/$R}")
  done
  if ! (cd "$d" && timeout 120 bash "$cl" run "${cmd[@]}") > "$d/launch.log" 2>&1; then
    echo "  FAIL $name: the launch failed:"; sed 's/^/    /' "$d/launch.log" | tail -20
    failed=1
  fi
  local line
  line="$(python3 "$root/scripts/slurm/check_ranks.py" "$name" "$d/out" "$n" "${flags[@]}")" || failed=1
  echo "$line"
  table+=("$line")
}

# A batch script in $work running "$@" (with @R@ for the rank program of the case given first).
batch() {
  local f="$work/batch-$1.sh"
  shift
  printf '#!/bin/sh\n%s\n' "$*" > "$f"
  echo "$f"
}

bash "$cl" start --nodes 1
case_ srun_n4 4 -- srun -n 4 @R@
case_ sbatch_n4_srun 4 -- sbatch -W -n 4 -o /dev/null "$(batch a 'srun @R@')"
case_ sbatch_n4_mpirun 4 --distinct-ranks -- sbatch -W -n 4 -o /dev/null "$(batch b 'mpirun -np 4 @R@')"
case_ sbatch_n1_c4_mpirun 4 --distinct-ranks -- sbatch -W -n 1 -c 4 -o /dev/null "$(batch c 'mpirun --oversubscribe -np 4 @R@')"
case_ srun_n1_torchrun4 4 --distinct-ranks -- srun -n 1 python3 "$tl" --nproc-per-node 4 @R@
case_ two_steps 2 -- sbatch -W -n 2 -o /dev/null "$(batch d 'srun --exact -n 1 @R@ & srun --exact -n 1 @R@ & wait')"
# The counting rank SIGKILLed mid-run (issue 28 item 2: fixed on branch faults), at 0.2 s ticks,
# 1.5 s after its last flush: the survivors must take over what it counted since.
sigkill() {
  local name=sigkill_counting_rank d="$work/sigkill_counting_rank" i
  wanted "$name" || return 0
  mkdir -p "$d/out" "$d/sync"
  local o="${opts/measure_power_secs=0.3/measure_power_secs=0.2}"
  cat > "$d/rank.sh" << RANK
#!/bin/sh
f="$d/out/\$(hostname)-\$\$"
if [ "\$SLURM_PROCID" = 0 ]; then
  echo \$\$ > "$d/sync/pid0"
  exec "$work/node_rank" "$o" "$d/sync" 1 start signal:started0 sleep:0.3 flush sleep:60 > "\$f.txt" 2> "\$f.err"
fi
exec "$work/node_rank" "$o" "$d/sync" 1 wait:started0 start signal:started\$SLURM_PROCID wait:killed sleep:0.6 stop > "\$f.txt" 2> "\$f.err"
RANK
  chmod +x "$d/rank.sh"
  (cd "$d" && timeout 120 bash "$cl" run srun -n 3 "$d/rank.sh") > "$d/launch.log" 2>&1 &
  local launcher=$!
  for i in $(seq 1 300); do [ -e "$d/sync/started1" ] && [ -e "$d/sync/started2" ] && break; sleep 0.1; done
  sleep 1.5
  kill -9 "$(cat "$d/sync/pid0")" 2> /dev/null || echo "  sigkill: rank 0 was not running"
  touch "$d/sync/killed"
  wait "$launcher" || true # srun reports the killed task
  local line
  line="$(python3 "$root/scripts/slurm/check_ranks.py" "$name" "$d/out" 3)" || failed=1
  echo "$line"
  table+=("$line")
}
# On by default (CT_SLURM_SIGKILL=0 skips it).
if [ "${CT_SLURM_SIGKILL:-1}" = 1 ]; then sigkill; fi

subnet=""
for c in two_nodes_1_2 two_nodes_1_3 two_nodes_mpirun two_nodes_torchrun2; do
  if wanted "$c" && [ -z "$subnet" ]; then
    bash "$cl" start --nodes 2
    subnet="$(sed -n 's/^NodeName=na NodeAddr=\([0-9.]*\)\.1 .*/\1/p' "$(bash "$cl" run sh -c 'echo $SLURM_CONF')")"
  fi
done
case_ two_nodes_1_2 3 -- srun -n 3 -w na,nb,nb -m arbitrary @R@
case_ two_nodes_1_3 4 -- srun -n 4 -w na,nb,nb,nb -m arbitrary @R@
case_ two_nodes_mpirun 4 --distinct-ranks -- sbatch -W -N 2 -n 4 -o /dev/null \
  "$(batch e "mpirun --mca oob_tcp_if_include $subnet.0/24 --mca btl_tcp_if_include $subnet.0/24 -np 4 @R@")"
case_ two_nodes_torchrun2 4 --distinct-ranks -- srun -N 2 --ntasks-per-node=1 sh -c \
  "exec python3 $tl --nnodes 2 --node-rank \$SLURM_NODEID --nproc-per-node 2 --master-addr $subnet.1 --master-port 29511 @R@"

[ ${#table[@]} -gt 0 ] || { echo "slurm test: no case ran (CT_SLURM_CASES=${CT_SLURM_CASES:-})"; exit 1; }
echo "== slurm: case | ranks' sum / nodes | per node host:ranks:ratio | ranks"
printf '%s\n' "${table[@]}"
[ "$failed" = 0 ] || { echo "slurm test: FAILED"; exit 1; }
echo "slurm test: passed"

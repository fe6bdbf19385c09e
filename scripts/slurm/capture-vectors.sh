#!/usr/bin/env bash
# Captures the launcher variables real launchers set, under the real Slurm of cluster.sh, into
# tests/vectors/launchers/<case>.json (src/tracker/job.rs tests against them). Each process of a
# case writes its environment; only the launcher variables are kept (values naming this checkout's
# directory are replaced by <root>, its temporary one by <work>). Run as root: bash scripts/slurm/capture-vectors.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cl="$root/scripts/slurm/cluster.sh"
out="$root/tests/vectors/launchers"
work="$(mktemp -d)"
trap 'rm -rf "$work"; bash "$cl" stop > /dev/null' EXIT
mkdir -p "$out"
# One process: its environment, host name, pid and parent pid, NUL-separated.
cat > "$work/dump.sh" << 'DUMP'
#!/bin/sh
f="$CT_DUMP_DIR/$(hostname)-$$.env"
{ env -0; printf '_host=%s\0_pid=%s\0_ppid=%s\0' "$(hostname)" "$$" "$PPID"; } > "$f.tmp" && mv "$f.tmp" "$f"
DUMP
chmod +x "$work/dump.sh"
export CT_DUMP_DIR
tl="$root/scripts/slurm/torchrun_like.py"
run() { timeout 120 bash "$cl" run "$@"; }

# case NAME DESCRIPTION COMMAND...: runs COMMAND (in $work) and saves what its processes dumped.
case_() {
  local name="$1" what="$2"
  shift 2
  CT_DUMP_DIR="$work/$name"
  mkdir -p "$CT_DUMP_DIR"
  (cd "$work" && "$@") > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; echo "capture: $name failed" >&2; exit 1; }
  python3 - "$CT_DUMP_DIR" "$out/$name.json" "$what" "$root" "$work" << 'PY'
import json, os, re, sys
d, dest, what, root, work = sys.argv[1:]
keep = re.compile(r"^(SLURM_|SLURMD_|OMPI_COMM_WORLD_|OMPI_MCA_orte_ess_|OMPI_MCA_ess_base_|PMIX_|PMI_|MPI_LOCAL|"
                  r"TORCHELASTIC_|ROLE_|_)|^(RANK|LOCAL_RANK|WORLD_SIZE|LOCAL_WORLD_SIZE|GROUP_RANK|GROUP_WORLD_SIZE|"
                  r"MASTER_ADDR|MASTER_PORT)$")
procs = []
for f in sorted(os.listdir(d)):
    raw = open(os.path.join(d, f), "rb").read().decode()
    env = dict(kv.split("=", 1) for kv in raw.split("\0") if "=" in kv)
    procs.append({k: v.replace(root, "<root>").replace(work, "<work>") for k, v in sorted(env.items()) if keep.match(k)})
json.dump({"case": os.path.basename(dest)[:-5], "launch": what, "processes": procs}, open(dest, "w"), indent=1, sort_keys=True)
open(dest, "a").write("\n")
print(f"capture: {dest}: {len(procs)} processes")
PY
}

bash "$cl" start --nodes 1
D="$work/dump.sh"
case_ srun_n4 "srun -n 4" run srun -n 4 "$D"
case_ srun_pmix_n4 "srun --mpi=pmix -n 4" run srun --mpi=pmix -n 4 "$D"
case_ srun_pmi2_n4 "srun --mpi=pmi2 -n 4" run srun --mpi=pmi2 -n 4 "$D"
printf '#!/bin/sh\n%s\nsrun %s\n' "$D" "$D" > "$work/b1.sh"
case_ sbatch_n4_srun "sbatch -n 4: the batch script, then srun inside" run sbatch -W -n 4 -o "$work/b1.out" "$work/b1.sh"
printf '#!/bin/sh\nmpirun -np 4 %s\n' "$D" > "$work/b2.sh"
case_ sbatch_n4_mpirun "sbatch -n 4 with mpirun -np 4 inside" run sbatch -W -n 4 -o "$work/b2.out" "$work/b2.sh"
printf '#!/bin/sh\nmpirun --oversubscribe -np 4 %s\n' "$D" > "$work/b3.sh"
case_ sbatch_n1_c4_mpirun "sbatch -n 1 -c 4 with mpirun --oversubscribe -np 4 inside" run sbatch -W -n 1 -c 4 -o "$work/b3.out" "$work/b3.sh"
case_ srun_n1_torchrun4 "srun -n 1 of a torchrun-style launcher starting 4 workers (default run id)" \
  run srun -n 1 python3 "$tl" --nproc-per-node 4 "$D"
printf '#!/bin/sh\nsrun --exact -n 1 %s &\nsrun --exact -n 1 %s &\nwait\n' "$D" "$D" > "$work/b4.sh"
case_ sbatch_n2_two_steps "sbatch -n 2 with two concurrent srun --exact -n 1 steps" run sbatch -W -n 2 -o "$work/b4.out" "$work/b4.sh"

bash "$cl" start --nodes 2
subnet="$(sed -n 's/^NodeName=na NodeAddr=\([0-9.]*\)\.1 .*/\1/p' "$(dirname "$cl")/../../target/slurm-cluster/slurm.conf" 2> /dev/null || true)"
[ -n "$subnet" ] || subnet="$(bash "$cl" run sh -c 'sed -n "s/^NodeName=na NodeAddr=\([0-9.]*\)\.1 .*/\1/p" "$SLURM_CONF"')"
case_ srun_2nodes_1_2 "srun -n 3 -w na,nb,nb -m arbitrary: 1 task on na, 2 on nb" run srun -n 3 -w na,nb,nb -m arbitrary "$D"
case_ srun_2nodes_1_3 "srun -n 4 -w na,nb,nb,nb -m arbitrary: 1 task on na, 3 on nb" run srun -n 4 -w na,nb,nb,nb -m arbitrary "$D"
printf '#!/bin/sh\nmpirun --mca oob_tcp_if_include %s.0/24 --mca btl_tcp_if_include %s.0/24 -np 4 %s\n' "$subnet" "$subnet" "$D" > "$work/b5.sh"
case_ sbatch_2nodes_mpirun "sbatch -N 2 -n 4 with mpirun -np 4 inside" run sbatch -W -N 2 -n 4 -o "$work/b5.out" "$work/b5.sh"
printf '#!/bin/sh\nexec python3 %s --nnodes 2 --node-rank "$SLURM_NODEID" --nproc-per-node 2 --master-addr %s.1 --master-port 29511 %s\n' "$tl" "$subnet" "$D" > "$work/t2.sh"
chmod +x "$work/t2.sh"
case_ srun_2nodes_torchrun2 "srun -N 2 --ntasks-per-node=1 of a torchrun-style launcher starting 2 workers per node" \
  run srun -N 2 --ntasks-per-node=1 "$work/t2.sh"
echo "capture: done"

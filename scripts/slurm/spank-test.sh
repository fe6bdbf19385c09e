#!/usr/bin/env bash
# The SPANK plugin under a real Slurm: builds the plugin with CMake, starts MariaDB + slurmdbd
# (scripts/slurm/accounting.sh) and a one-node Slurm (scripts/slurm/cluster.sh) with the plugin in
# plugstack.conf, runs jobs and checks what the plugin wrote, the AdminComment (`scontrol show job`
# and `sacct`) and `carbon-tracker report --slurm-job`. Root only; everything on loopback.
#
# Jobs: sbatch; srun -n 4; a job with two steps; one that fails (exit 3); one with
# --carbon-tracker=off (sbatch and srun); one whose program has its own tracker (the C quick start,
# this library linked in); one whose output directory is read-only (exit 5 must stay 5).
# Checks: one record per job, energy = the forced node power x the job's measured span (+-2 %),
# that span against the job script's own clock, the node counted once across steps, sacct's JSON.
#
# A missing Slurm, MariaDB or <slurm/spank.h> skips the test (exit 0), or fails it when
# CT_REQUIRE_CLUSTER_TOOLS=1. About 1 to 2 minutes on 2 cores once the library is built.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="${CT_SPANK_TEST_DIR:-$root/target/spank-test}"
export CT_SLURM_DIR="$work/cluster" CT_ACCT_DIR="$work/acct"
out="$work/out"          # the plugin's output_dir
own_out="$work/own"      # the program's own tracker
build="$work/build"
RAM_W=100                # forced node power (RAM), W; the CPU is forced to a negligible 0.001 W TDP
cluster=(bash scripts/slurm/cluster.sh)
acct=(bash scripts/slurm/accounting.sh)

missing=()
for t in slurmctld slurmd munged srun sbatch sacct sacctmgr slurmdbd mariadbd cmake cc python3; do
  command -v "$t" > /dev/null || missing+=("$t")
done
[ -f /usr/include/slurm/spank.h ] || missing+=("slurm/spank.h (libslurm-dev)")
[ "$(id -u)" = 0 ] || missing+=("root")
if [ ${#missing[@]} -gt 0 ]; then
  if [ -n "${CT_REQUIRE_CLUSTER_TOOLS:-}" ]; then
    echo "spank-test: missing ${missing[*]} and CT_REQUIRE_CLUSTER_TOOLS is set" >&2
    exit 1
  fi
  echo "spank-test: skipped, missing ${missing[*]} (scripts/setup.sh installs them)"
  exit 0
fi

fail() {
  echo "spank-test: FAILED: $*" >&2
  echo "--- slurmd log (carbon-tracker lines)" >&2
  grep -h carbon-tracker "$CT_SLURM_DIR"/log/slurmd.*.log 2> /dev/null | tail -30 >&2 || true
  exit 1
}

cleanup() {
  umount "$out"/job-* 2> /dev/null || true
  "${cluster[@]}" stop > /dev/null 2>&1 || true
  "${acct[@]}" wipe > /dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== build the plugin, the command and the C quick start (CMake)"
mkdir -p "$work"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCARBON_TRACKER_BUILD_TESTS=ON > "$work/configure.log" ||
  { cat "$work/configure.log"; exit 1; }
grep -q 'the Slurm SPANK plugin is built' "$work/configure.log" || fail "CMake did not configure the SPANK plugin"
cmake --build "$build" --target carbon_tracker_spank ct_c_quickstart -j 2 > "$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; exit 1; }
plugin="$build/carbon_tracker_spank.so"
cli="$root/target/debug/carbon-tracker"
[ -f "$plugin" ] && [ -x "$cli" ] || fail "the plugin or the command was not built"

echo "== start MariaDB, slurmdbd and a one-node Slurm with the plugin"
cleanup
# A fresh database and fresh job ids: Slurm numbers jobs from 1 again with a new state directory.
rm -rf "$out" "$own_out" "$CT_ACCT_DIR"
mkdir -p "$out" "$own_out"
cat > "$work/plugstack.conf" << EOF
required $plugin output_dir=$out coordination_dir=/dev/shm/carbon-tracker-spank-test force_cpu_power=0.001 force_ram_power=$RAM_W force_carbon_intensity_g_co2e_kwh=50 measure_power_secs=1
EOF
# munged comes with the cluster; slurmctld needs slurmdbd up (and the cluster registered) when it
# starts with accounting: a first start for munge, then the database, then the real start.
timeout 120 "${cluster[@]}" start > /dev/null
timeout 120 "${acct[@]}" start
CT_SLURM_CONF="$CT_SLURM_DIR/slurm.conf"
{ cat "$CT_SLURM_CONF"; "${acct[@]}" conf; } > "$work/register.conf"
SLURM_CONF="$work/register.conf" timeout 30 sacctmgr -i add cluster ct > "$work/register.log" 2>&1 ||
  fail "sacctmgr could not register the cluster: $(cat "$work/register.log")"
"${cluster[@]}" stop > /dev/null
CT_SLURM_PLUGSTACK="$work/plugstack.conf" CT_SLURM_CONF_EXTRA="$("${acct[@]}" conf)" timeout 120 "${cluster[@]}" start
export SLURM_CONF="$CT_SLURM_CONF"

# Each job script writes its own start and end times (the job's clock, to check the span).
clock='python3 -c "import time; print(time.time())"'
submit() { sbatch --parsable "$@" | cut -d';' -f1; }

echo "== submit the jobs"
j_batch=$(submit -n 1 -o "$work/%j.out" --wrap "$clock > $work/batch.t0; sleep 4; $clock > $work/batch.t1")
j_two=$(submit -n 2 -o "$work/%j.out" --wrap "$clock > $work/two.t0; srun -n 2 sleep 2; srun -n 1 sleep 2; $clock > $work/two.t1")
j_fail=$(submit -n 1 -o "$work/%j.out" --wrap "sleep 1; exit 3")
j_off=$(submit -n 1 --carbon-tracker=off -o "$work/%j.out" --wrap "sleep 1")
j_own=$(CODECARBON_FORCE_RAM_POWER=$RAM_W CODECARBON_FORCE_CPU_POWER=0.001 submit -n 1 -o "$work/%j.out" \
  --wrap "$build/ct_c_quickstart 3 $own_out")
j_proj=$(submit -n 1 --carbon-tracker='project_name=climate;pue=1.5' -o "$work/%j.out" --wrap "sleep 1")
j_badval=$(submit -n 1 --carbon-tracker=country_iso_code=XYZ -o "$work/%j.out" --wrap "sleep 1")
# The read-only output directory: held until its job directory is a read-only mount.
j_ro=$(submit -n 1 --hold -o "$work/%j.out" --wrap "sleep 1; exit 5")
mkdir -p "$out/job-$j_ro"
ro_mounted=false
if mount --bind "$out/job-$j_ro" "$out/job-$j_ro" 2> /dev/null && mount -o remount,bind,ro "$out/job-$j_ro" 2> /dev/null; then
  ro_mounted=true
else
  # No mount here: a file where the job's directory should be cannot be written either.
  umount "$out/job-$j_ro" 2> /dev/null || true
  rmdir "$out/job-$j_ro" && : > "$out/job-$j_ro"
fi
scontrol release "$j_ro"
start_srun=$(python3 -c 'import time; print(time.time())')
timeout 60 srun -n 4 sleep 3 || fail "srun -n 4 failed"
end_srun=$(python3 -c 'import time; print(time.time())')
timeout 60 srun -n 1 --carbon-tracker=off true || fail "srun --carbon-tracker=off failed"
timeout 60 srun --carbon-tracker=bogus_key=1 true 2> "$work/bogus.err" && fail "srun accepted --carbon-tracker=bogus_key=1"
grep -q "cannot be set per job" "$work/bogus.err" || fail "no clear message for a bad --carbon-tracker: $(cat "$work/bogus.err")"
j_srun=$(sacct -n -X -P -o JobID,JobName -S now-10minutes | awk -F'|' '$2=="sleep"{print $1}' | tail -1)

echo "== wait for the jobs"
for i in $(seq 1 120); do
  [ -z "$(squeue -h -o %i)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -o %i)" ] || fail "jobs still running after 60 s: $(squeue)"
sleep 2 # epilogs

echo "== check"
python3 - "$out" "$work" "$RAM_W" "$j_batch" "$j_two" "$j_fail" "$j_off" "$j_own" "$j_ro" "$j_srun" "$start_srun" \
  "$end_srun" "$ro_mounted" "$cli" "$own_out" "$j_proj" "$j_badval" << 'EOF' || fail "checks"
import json, os, subprocess, sys
out, work, ram_w = sys.argv[1], sys.argv[2], float(sys.argv[3])
j_batch, j_two, j_fail, j_off, j_own, j_ro, j_srun = sys.argv[4:11]
start_srun, end_srun, ro_mounted, cli, own_out = float(sys.argv[11]), float(sys.argv[12]), sys.argv[13] == "true", sys.argv[14], sys.argv[15]
j_proj, j_badval = sys.argv[16], sys.argv[17]
bad = []

def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        bad.append(what)

def rows(job):
    d = os.path.join(out, f"job-{job}")
    if not os.path.isdir(d):
        return []
    return [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d)) if f.startswith("step-") and f.endswith(".json")]

def span(rs):
    return max(r["started_unix_s"] + r["duration_s"] for r in rs) - min(r["started_unix_s"] for r in rs)

def energy_j(rs):
    return sum(r["energy_consumed_kwh"] for r in rs) * 3.6e6

def sh(*a):
    return subprocess.run(a, capture_output=True, text=True, timeout=30).stdout

def sacct(job, fields):
    return sh("sacct", "-n", "-X", "-P", "-j", job, "-o", fields).strip()

def clock(name):
    return float(open(os.path.join(work, name)).read())

def near(e, truth, what):
    check(truth > 0 and abs(e - truth) / truth <= 0.02, f"{what}: {e:.2f} J = {ram_w:g} W x span {truth / ram_w:.3f} s within 2 % ({(e / truth - 1) * 100 if truth else 0:+.2f} %)")

# sbatch: one record (the batch step), energy = power x the job's span, the span the script's own.
r = rows(j_batch)
check([x["step"] for x in r] == ["batch"], f"sbatch job {j_batch}: one record, the batch step ({[x['step'] for x in r]})")
if r:
    near(energy_j(r), ram_w * span(r), f"sbatch job {j_batch}")
    script = clock("batch.t1") - clock("batch.t0")
    check(script <= span(r) + 0.05 and span(r) - script < 1.5, f"sbatch job {j_batch}: measured span {span(r):.3f} s covers the script's {script:.3f} s")

# srun -n 4: one record for the step (4 tasks, one node), energy = power x span.
r = rows(j_srun)
check([x["step"] for x in r] == ["0"], f"srun -n 4 job {j_srun}: one record, step 0 ({[x['step'] for x in r]})")
if r:
    near(energy_j(r), ram_w * span(r), f"srun -n 4 job {j_srun}")
    check(span(r) <= end_srun - start_srun + 0.05 and span(r) >= 2.9, f"srun -n 4: span {span(r):.3f} s within srun's {end_srun - start_srun:.3f} s")

# Two steps inside a batch job: three records (batch, 0, 1), the node counted once: the sum is
# power x the job's span, not the sum of the steps' durations.
r = rows(j_two)
steps = sorted(x["step"] for x in r)
check(steps == ["0", "1", "batch"], f"two-step job {j_two}: records batch, 0, 1 ({steps})")
if r:
    near(energy_j(r), ram_w * span(r), f"two-step job {j_two} (node counted once)")
    naive = ram_w * sum(x["duration_s"] for x in r)
    check(energy_j(r) < 0.8 * naive, f"two-step job: {energy_j(r):.1f} J, not the {naive:.1f} J of counting each step's node")

# A failing job: measured, and its exit code is its own.
r = rows(j_fail)
check(len(r) == 1, f"failing job {j_fail}: one record")
if r:
    near(energy_j(r), ram_w * span(r), f"failing job {j_fail}")
check(sacct(j_fail, "State,ExitCode") == "FAILED|3:0", f"failing job {j_fail}: sacct says FAILED|3:0 ({sacct(j_fail, 'State,ExitCode')})")

# --carbon-tracker=off: nothing measured, nothing written, no AdminComment.
check(not os.path.exists(os.path.join(out, f"job-{j_off}")), f"job {j_off} with --carbon-tracker=off: no records")
check(sacct(j_off, "AdminComment") == "", f"job {j_off} with --carbon-tracker=off: no AdminComment")
check(sacct(j_off, "State,ExitCode") == "COMPLETED|0:0", f"job {j_off} with --carbon-tracker=off: COMPLETED|0:0")

# AdminComment: one JSON object in sacct (Slurm's database stores `"` as a backtick), equal to the
# records' totals; and in `scontrol show job` while slurmctld keeps the job.
for job in (j_batch, j_two, j_fail, j_srun, j_own):
    text = sacct(job, "AdminComment")
    try:
        c = json.loads(text.replace("`", '"'))["carbon_tracker"]
    except Exception as e:
        check(False, f"job {job}: sacct's AdminComment is one JSON object ({text!r}: {e})")
        continue
    r = rows(job)
    check(abs(c["energy_kwh"] * 3.6e6 - energy_j(r)) <= 1e-4 * energy_j(r) + 1e-9 and c["rows"] == len(r) and c["nodes"] == 1
          and abs(c["duration_s"] - span(r)) < 0.1 and c["emissions_kg_co2e"] > 0 and abs(c["intensity_g_per_kwh"] - 50) < 0.01,
          f"job {job}: sacct AdminComment {text}")
# The epilog removed the job's coordination files (before it set the AdminComment sacct showed
# above), from the library's private per-user directory under the plugin's coordination_dir.
private = os.path.join("/dev/shm/carbon-tracker-spank-test", f"carbon-tracker-{os.getuid()}")
left = [f for f in (os.listdir(private) if os.path.isdir(private) else []) if f.startswith(f"carbon-tracker-{j_srun}-")]
check(os.path.isdir(private) and left == [], f"job {j_srun}: its coordination files are removed at job end ({left})")
show = sh("scontrol", "show", "job", j_two)
check('AdminComment={"carbon_tracker":' in show, f"scontrol show job {j_two} shows the JSON AdminComment")

# The program's own tracker inside the job: the node is still counted once (the plugin's total is
# power x the job's span, not twice), and the report lists the program's run apart.
r = rows(j_own)
check(len(r) == 1, f"job {j_own} with the program's own tracker: one plugin record")
if r:
    near(energy_j(r), ram_w * span(r), f"job {j_own} with the program's own tracker (not counted twice)")
rep = json.loads(sh(cli, "report", "--json", "--slurm-job", j_own, "--slurm-dir", out, own_out))["slurm_job"]
own = rep["program_trackers"]
check(len(own) == 1 and not own[0]["included_in_total"] and own[0]["energy_consumed_kwh"] > 0,
      f"report --slurm-job {j_own}: the program's own run listed apart ({len(own)} run(s))")
if r and own:
    check(abs(rep["energy_consumed_kwh"] * 3.6e6 - energy_j(r)) < 1e-6 * energy_j(r),
          "report --slurm-job: the job's total is the plugin's alone")
    check(own[0]["energy_consumed_kwh"] * 3.6e6 <= energy_j(r) * 1.02,
          f"the program's own tracker ({own[0]['energy_consumed_kwh'] * 3.6e6:.1f} J) measured part of the plugin's ({energy_j(r):.1f} J)")

# Options per job: applied (the project name, the PUE), or, when the library refuses a value, the
# job is measured with the site's options.
r = rows(j_proj)
csv = open(os.path.join(out, f"job-{j_proj}", [f for f in os.listdir(os.path.join(out, f"job-{j_proj}")) if f.endswith(".csv")][0])).read() if r else ""
check(len(r) == 1 and ",climate," in csv, f"job {j_proj} with --carbon-tracker=project_name=climate;pue=1.5: project_name in its CSV")
if r:
    near(energy_j(r), 1.5 * ram_w * span(r), f"job {j_proj} with pue=1.5 (x1.5)")
r = rows(j_badval)
check(len(r) == 1, f"job {j_badval} with --carbon-tracker=country_iso_code=XYZ: measured with the site's options")

# Read-only output directory: the job's exit status is its own, nothing written, no AdminComment.
check(sacct(j_ro, "State,ExitCode") == "FAILED|5:0", f"job {j_ro} with a read-only output directory ({'mount' if ro_mounted else 'a file'}): sacct FAILED|5:0 ({sacct(j_ro, 'State,ExitCode')})")
check(not rows(j_ro), f"job {j_ro}: no record written")
check(sacct(j_ro, "AdminComment") == "", f"job {j_ro}: no AdminComment")

if bad:
    print(f"spank-test: {len(bad)} check(s) failed", file=sys.stderr)
    sys.exit(1)
EOF
grep -q "carbon-tracker: .*job $j_ro" "$CT_SLURM_DIR"/log/slurmd.*.log || fail "the plugin logged nothing about the read-only directory of job $j_ro"
grep -q "carbon-tracker: job $j_badval step batch, --carbon-tracker options refused" "$CT_SLURM_DIR"/log/slurmd.*.log ||
  fail "the plugin logged nothing about the refused options of job $j_badval"

echo "== sacct -j $j_two -o JobID,AdminComment"
sacct -j "$j_two" -o JobID,State,AdminComment%160
echo "== carbon-tracker report --slurm-job $j_two"
"$cli" report --slurm-job "$j_two" --slurm-dir "$out" --html "$work/job-$j_two.html"
grep -q "<h1>Slurm job $j_two</h1>" "$work/job-$j_two.html" || fail "the HTML report has no job title"
echo "== carbon-tracker report --slurm-job $j_own (the program's own tracker inside)"
"$cli" report --slurm-job "$j_own" --slurm-dir "$out" "$own_out"
echo "== two nodes (network namespaces, a shared output_dir), no accounting storage"
"${cluster[@]}" stop > /dev/null
"${acct[@]}" stop > /dev/null
out2="$work/out2"
rm -rf "$out2"
mkdir -p "$out2"
sed "s|output_dir=$out |output_dir=$out2 |" "$work/plugstack.conf" > "$work/plugstack2.conf"
CT_SLURM_PLUGSTACK="$work/plugstack2.conf" timeout 120 "${cluster[@]}" start --nodes 2
j_2n=$("${cluster[@]}" run sbatch --parsable -N 2 -n 2 -o "$work/2n-%j.out" --wrap "srun -N 2 -n 2 sleep 2" | cut -d';' -f1)
for i in $(seq 1 120); do
  [ -z "$("${cluster[@]}" run squeue -h -o %i)" ] && break
  sleep 0.5
done
sleep 2 # epilogs
show="$("${cluster[@]}" run scontrol show job "$j_2n")"
python3 - "$out2" "$RAM_W" "$j_2n" "$show" << 'EOF' || fail "two-node checks"
import json, os, sys
out, ram_w, job, show = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
d = os.path.join(out, f"job-{job}")
rows = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d)) if f.startswith("step-")] if os.path.isdir(d) else []
got = sorted((r["node"], r["step"]) for r in rows)
ok = got == [("na", "0"), ("na", "batch"), ("nb", "0")]
print(("ok   " if ok else "FAIL ") + f"two-node job {job}: rows {got}")
# Each node counted once across its steps: the sum is each node's power x its own span.
truth = 0.0
for node in ("na", "nb"):
    rs = [r for r in rows if r["node"] == node]
    if rs:
        truth += ram_w * (max(r["started_unix_s"] + r["duration_s"] for r in rs) - min(r["started_unix_s"] for r in rs))
e = sum(r["energy_consumed_kwh"] for r in rows) * 3.6e6
near = truth > 0 and abs(e - truth) / truth <= 0.02
print(("ok   " if near else "FAIL ") + f"two-node job {job}: {e:.1f} J = sum over nodes of {ram_w:g} W x the node's span ({truth:.1f} J) within 2 %")
line = next((l.strip() for l in show.splitlines() if l.strip().startswith("AdminComment=")), "")
try:
    c = json.loads(line[len("AdminComment="):])["carbon_tracker"]
except Exception:
    c = None
comment = c is not None and c["nodes"] == 2 and c["rows"] == 3
print(("ok   " if comment else "FAIL ") + f"two-node job {job}: scontrol show job's AdminComment sums both nodes ({line})")
sys.exit(0 if ok and near and comment else 1)
EOF
"$cli" report --slurm-job "$j_2n" --slurm-dir "$out2"
echo "spank-test: passed"

//! Shared GPUs split between the processes that use them (`gpu_share=split`,
//! docs/gpu-sharing.md), against the fake NVML of tests/c/fake_nvml.c loaded through the
//! library's real loading path: its devices list running processes and per-process SM samples
//! (every 10 ms here), as the configuration of each case says.
//!
//! Each case runs tests/c/node_rank.c (one process, `tracking_mode=process`) for about a second
//! and reads the split of its measured interval from `ct_tracker_json`: the parts add up to the
//! device's energy, each follows the samples (±2 %), and the tracker's GPU energy is its own
//! part. Then two ranks of a job in machine mode beside a process outside the job: the rank that
//! does not count the GPU carries its share, the one that counts it the rest, and their sum is
//! the device's energy over the job (counted once), as `carbon-tracker report` shows it; and
//! when the rank carrying a share is SIGKILLed after its last report, the share it measured
//! since is taken over by the counting rank, once.

use crate::support;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::{ChildTimeout, CommandTimeout};

use serde_json::Value;

const GPU: &str = "GPU-5a5a5a5a-0000-4000-8000-000000000001";
const MIG_1: &str = "MIG-5b5b5b5b-0000-4000-8000-000000000011";
const MIG_2: &str = "MIG-5c5c5c5c-0000-4000-8000-000000000012";
const POWER_W: f64 = 300.0;
const MAX_W: f64 = 400.0;
/// The default power at rest: 10 % of the highest power limit.
const IDLE_W: f64 = 0.1 * MAX_W;
/// A process that is not the tracker's (nothing runs with this pid in the test).
const OTHER: u32 = 3_999_001;
const OTHER_2: u32 = 3_999_002;

fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills the struct it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn compile(args: &[std::ffi::OsString]) {
    let cc = find_program("cc").expect("a C compiler (cc)");
    let status = Command::new(&cc).args(args).try_status_timeout().unwrap_or_else(|e| panic!("running cc: {e}"));
    assert!(status.success(), "cc {args:?} failed");
}

/// The fake NVML (as `libnvidia-ml.so.1`) and the rank program, built once.
fn built() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gpu-share");
        let nvml_dir = out.join("nvml");
        std::fs::create_dir_all(&nvml_dir).unwrap();
        let os = |s: &str| std::ffi::OsString::from(s);
        compile(&[
            os("-shared"),
            os("-fPIC"),
            os("-O1"),
            os("-Wall"),
            os("-Werror"),
            root.join("tests/c/fake_nvml.c").into(),
            os("-o"),
            nvml_dir.join("libnvidia-ml.so.1").into(),
        ]);
        let lib = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
        let rank = out.join("node_rank");
        compile(&[
            os("-std=c99"),
            os("-Wall"),
            os("-Werror"),
            os("-I"),
            root.join("include").into(),
            root.join("tests/c/node_rank.c").into(),
            os("-o"),
            rank.clone().into(),
            format!("-L{}", lib.display()).into(),
            format!("-Wl,-rpath,{}", lib.display()).into(),
            os("-lcarbon_tracker"),
        ]);
        (nvml_dir, rank)
    })
}

/// Waits for `child` at most `limit`, killing it after that; its stdout and stderr.
fn wait(mut child: Child, limit: Duration) -> (String, String) {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a rank ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "a rank failed:\n{out}\n{err}");
    (out, err)
}

/// A rank of tests/c/node_rank.c on the fake node described by `nvml_conf`.
fn rank(dir: &Path, options: &str, env: &[(&str, &str)], steps: &[&str]) -> Child {
    let (nvml_dir, exe) = built();
    let mut cmd = Command::new(exe);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let launcher = ["SLURM_", "OMPI_", "PMIX_", "PMI_", "MPI_LOCAL", "TORCHELASTIC_", "CODECARBON_"]
            .iter()
            .any(|p| k.starts_with(p))
            || ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "CUDA_VISIBLE_DEVICES"]
                .contains(&k.as_str());
        if launcher {
            cmd.env_remove(&k);
        }
    }
    let ld = std::env::var("LD_LIBRARY_PATH").map(|p| format!(":{p}")).unwrap_or_default();
    cmd.env("LD_LIBRARY_PATH", format!("{}{ld}", nvml_dir.display()));
    cmd.env("FAKE_NVML_CONFIG", dir.join("nvml.conf"));
    cmd.envs(env.iter().copied());
    cmd.arg(options).arg(dir).arg("2").args(steps);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// What one process printed: its flush's totals and its description after it.
struct Seen {
    gpu_j: f64,
    duration_s: f64,
    /// CLOCK_MONOTONIC (s) just before and after its start, and its flush.
    start_before: f64,
    start_t: f64,
    flush_t: f64,
    flush_after: f64,
    describe: Value,
}

fn seen(stdout: &str) -> Seen {
    let mut gpu_j = None;
    let (mut duration_s, mut start_before, mut start_t, mut flush_t, mut flush_after) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut describe = Value::Null;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("describe ") {
            describe = serde_json::from_str(rest.split_once(' ').unwrap().1).unwrap();
            continue;
        }
        let f: HashMap<&str, &str> = line.split_whitespace().filter_map(|p| p.split_once('=')).collect();
        match f.get("event") {
            Some(&"start") => (start_before, start_t) = (f["t"].parse().unwrap(), f["t_after"].parse().unwrap()),
            Some(&"flush") => {
                gpu_j = Some(f["gpu_kwh"].parse::<f64>().unwrap() * 3.6e6);
                duration_s = f["duration_s"].parse().unwrap();
                (flush_t, flush_after) = (f["t_call"].parse().unwrap(), f["t"].parse().unwrap());
            }
            _ => {}
        }
    }
    let gpu_j = gpu_j.unwrap_or_else(|| panic!("no flush in {stdout}"));
    Seen { gpu_j, duration_s, start_before, start_t, flush_t, flush_after, describe }
}

fn process_options() -> String {
    process_options_with("split")
}

fn process_options_with(gpu_share: &str) -> String {
    format!("tracking_mode=process;gpu_share={gpu_share};offline=true;country_iso_code=FRA;save_to_file=false;force_cpu_power=1;\
     force_ram_power=0;rapl_dir=/nonexistent;measure_power_secs=60")
}

/// The split of the GPU's last interval.
fn last_split(s: &Seen) -> Value {
    let split = s.describe["gpus"][0]["last_split"].clone();
    assert!(split.is_object(), "no split in {}", s.describe);
    split
}

fn parts(split: &Value) -> HashMap<u32, f64> {
    split["parts_j"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["pid"].as_u64().unwrap() as u32, p["j"].as_f64().unwrap()))
        .collect()
}

/// One case: the fake device's processes (what follows `gpu UUID NAME POWER counter`, given the
/// case's directory), how long the process runs, and what to do once it started; its flush's
/// totals and split.
fn one_process(
    conf: impl Fn(&Path) -> String,
    run_s: f64,
    started: impl FnOnce(&Path),
) -> (Seen, Value, HashMap<u32, f64>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nvml.conf"),
        format!(
            "gpu {GPU} NVIDIA_Fake_A100 {POWER_W} counter util=50 max_w={MAX_W} sample_ms=10 {}\n",
            conf(dir.path())
        ),
    )
    .unwrap();
    let run = format!("sleep:{run_s}");
    let child =
        rank(dir.path(), &process_options(), &[], &["start", "signal:started", &run, "flush", "describe", "stop"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.path().join("started").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    started(dir.path());
    let (out, _) = wait(child, Duration::from_secs(60));
    let s = seen(&out);
    let split = last_split(&s);
    let p = parts(&split);
    (s, split, p)
}

/// Whether `j` is the fake device's energy between a reading taken during a call from `a0` to
/// `a1` and one taken during a call from `b0` to `b1` (CLOCK_MONOTONIC, s), within 0.5 %.
fn within_calls(j: f64, a0: f64, a1: f64, b0: f64, b1: f64) -> bool {
    j >= POWER_W * (b0 - a1) * 0.995 && j <= POWER_W * (b1 - a0) * 1.005
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

/// The device's energy is split into parts that add up to it, and the tracker's GPU energy is its
/// own part (its pid's).
fn check_sums(s: &Seen, split: &Value, parts: &HashMap<u32, f64>, own_pid: Option<u32>) -> f64 {
    let device_j = split["device_j"].as_f64().unwrap();
    // The device: 300 W over the interval (the counter is CLOCK_MONOTONIC x power).
    assert!(within_calls(device_j, s.start_before, s.start_t, s.flush_t, s.flush_after), "device {device_j} J");
    let sum: f64 = parts.values().sum::<f64>() + split["unattributed_j"].as_f64().unwrap();
    assert!(close(sum, device_j, 1e-9), "the parts ({sum} J) add up to the device ({device_j} J)");
    let own = own_pid.map_or(0.0, |p| parts[&p]);
    assert!(
        close(s.gpu_j, own, 1e-6) || (own == 0.0 && s.gpu_j.abs() < 1e-9),
        "GPU energy {} J is the own part {own} J",
        s.gpu_j
    );
    device_j
}

/// The process's own pid: the one part that is not a stand-in.
fn own_pid(parts: &HashMap<u32, f64>) -> u32 {
    *parts.keys().find(|p| ![OTHER, OTHER_2].contains(p)).expect("the tracker's own process has a part")
}

/// Each share (of the device's energy) as the rule makes it from the configured SM percentages:
/// the idle part equally, the rest by SM time (`sm_s`: SM % x seconds sampled).
fn expected_shares(device_j: f64, dt_s: f64, sm_s: &[f64]) -> Vec<f64> {
    let idle = (IDLE_W * dt_s).min(device_j);
    let total: f64 = sm_s.iter().sum();
    sm_s.iter().map(|w| (idle / sm_s.len() as f64 + (device_j - idle) * w / total) / device_j).collect()
}

fn report(case: &str, device_j: f64, shares: &[(String, f64)]) {
    let list: Vec<String> = shares.iter().map(|(who, s)| format!("{who} {:.1} %", 100.0 * s)).collect();
    eprintln!("| {case} | {device_j:.1} J | {} |", list.join(", "));
}

#[test]
fn two_processes_at_75_and_25_percent_of_the_sm_time() {
    let (s, split, p) = one_process(|_| format!("proc=self,75 proc={OTHER},25"), 1.0, |_| {});
    assert_eq!(split["method"], "sm-samples");
    let me = own_pid(&p);
    let device_j = check_sums(&s, &split, &p, Some(me));
    let want = expected_shares(device_j, s.duration_s, &[75.0, 25.0]);
    let got = [p[&me] / device_j, p[&OTHER] / device_j];
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 0.02, "shares {got:?}, want {want:?} (±2 %)");
    }
    let who = |name: &str, w: f64| format!("{name} (rule {:.1} %)", 100.0 * w);
    report("75 % / 25 % of SM time", device_j, &[(who("this", want[0]), got[0]), (who("other", want[1]), got[1])]);
}

#[test]
fn an_idle_process_beside_a_busy_one_gets_half_the_idle_part() {
    let (s, split, p) = one_process(|_| format!("proc=self,0 proc={OTHER},90"), 1.0, |_| {});
    let me = own_pid(&p);
    let device_j = check_sums(&s, &split, &p, Some(me));
    let want = IDLE_W * s.duration_s / 2.0 / device_j;
    let got = p[&me] / device_j;
    assert!((got - want).abs() <= 0.02, "idle process: {got}, want {want}");
    report(
        "idle (0 %) beside busy (90 %)",
        device_j,
        &[(format!("idle, this (rule {:.1} %)", 100.0 * want), got), ("busy".into(), p[&OTHER] / device_j)],
    );
}

#[test]
fn a_process_that_ends_mid_interval_is_weighed_by_its_samples() {
    // The other process runs from before the tracker's start to 500 ms after it.
    let end_ms = std::cell::Cell::new(0);
    let (s, split, p) = one_process(
        |dir| format!("proc=self,80 proc={OTHER},80,0,@{}", dir.join("other-ends").display()),
        1.2,
        |dir| {
            std::thread::sleep(Duration::from_millis(500));
            end_ms.set(monotonic_ms());
            std::fs::write(dir.join("other-ends"), end_ms.get().to_string()).unwrap();
        },
    );
    let me = own_pid(&p);
    let device_j = check_sums(&s, &split, &p, Some(me));
    // Each one's SM time in the interval: from the tracker's start to the flush, or to its end.
    let (own_s, other_s) = (s.flush_t - s.start_t, (end_ms.get() as f64 / 1000.0).min(s.flush_t) - s.start_t);
    assert!(other_s > 0.1 && other_s < own_s - 0.3, "it ends mid-interval: {other_s} of {own_s} s");
    let want = expected_shares(device_j, s.duration_s, &[80.0 * own_s, 80.0 * other_s]);
    let got = [p[&me] / device_j, p[&OTHER] / device_j];
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 0.02, "shares {got:?}, want {want:?} (±2 %)");
    }
    let who = |name: &str, w: f64| format!("{name} (rule {:.1} %)", 100.0 * w);
    report(
        &format!("other ends mid-interval (80 % each; {other_s:.2} of {own_s:.2} s)"),
        device_j,
        &[(who("this", want[0]), got[0]), (who("ended", want[1]), got[1])],
    );
}

#[test]
fn mig_splits_equally_between_running_processes() {
    let (s, split, p) =
        one_process(|_| format!("mig={MIG_1},{MIG_2} proc=self,90 proc={OTHER},10 proc={OTHER_2},50"), 0.6, |_| {});
    assert_eq!(split["method"], "equal-no-per-process-utilization");
    let me = own_pid(&p);
    let device_j = check_sums(&s, &split, &p, Some(me));
    for (pid, j) in &p {
        assert!(close(j / device_j, 1.0 / 3.0, 1e-9), "pid {pid}: {j} of {device_j}");
    }
    let share = |pid: u32| p[&pid] / device_j;
    report(
        "MIG, 3 processes at 90/10/50 % (no per-process utilisation)",
        device_j,
        &[("this".into(), share(me)), ("other".into(), share(OTHER)), ("other 2".into(), share(OTHER_2))],
    );
}

#[test]
fn no_samples_split_equally_and_no_process_data_keeps_the_whole_gpu() {
    // A compute process and a graphics one (listed by the other NVML call), both waiting.
    let (s, split, p) = one_process(|_| format!("proc=self,0 gproc={OTHER},0"), 0.6, |_| {});
    assert_eq!(split["method"], "equal-no-samples");
    let me = own_pid(&p);
    let device_j = check_sums(&s, &split, &p, Some(me));
    assert!(close(p[&me], device_j / 2.0, 1e-9) && close(p[&OTHER], device_j / 2.0, 1e-9), "{split}");
    report(
        "both at 0 % SM (no SM time; the other a graphics context)",
        device_j,
        &[("this".into(), p[&me] / device_j), ("other".into(), p[&OTHER] / device_j)],
    );

    let (s, split, p) = one_process(|_| "noproc".into(), 0.6, |_| {});
    assert_eq!(split["method"], "not-split");
    assert!(p.is_empty() && split["own_j"].is_null());
    let device_j = split["device_j"].as_f64().unwrap();
    assert!(close(s.gpu_j, device_j, 1e-6), "no per-process data: the whole GPU ({} of {device_j} J)", s.gpu_j);
    report("no per-process data (noproc)", device_j, &[("this (whole GPU)".into(), s.gpu_j / device_j)]);
}

/// What one rank of the job printed: its flush (share of its interval) and stop (its GPU
/// energy, J, the time of the call, and its CPU + GPU + RAM energy, kWh).
fn job_rank(stdout: &str) -> (Seen, f64, (f64, f64), f64) {
    let s = seen(stdout);
    let line = stdout.lines().find(|l| l.contains("event=stop")).expect("a stop line");
    let f: HashMap<&str, &str> = line.split_whitespace().filter_map(|p| p.split_once('=')).collect();
    let kwh = |k: &str| f[k].parse::<f64>().unwrap();
    (s, kwh("gpu_kwh") * 3.6e6, (kwh("t_call"), kwh("t")), kwh("cpu_kwh") + kwh("gpu_kwh") + kwh("ram_kwh"))
}

#[test]
fn ranks_of_a_job_carry_their_shares_and_the_job_counts_the_device_once() {
    let dir = tempfile::tempdir().unwrap();
    let coord = dir.path().join("coord");
    std::fs::create_dir_all(&coord).unwrap();
    std::fs::write(
        dir.path().join("nvml.conf"),
        format!(
            "gpu {GPU} NVIDIA_Fake_A100 {POWER_W} counter util=50 max_w={MAX_W} sample_ms=10 \
             proc=env:CT_GPU_PROC=r0,75 proc=env:CT_GPU_PROC=r1,25 proc={OTHER},50\n"
        ),
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let options = format!(
        "gpu_share=split;offline=true;country_iso_code=FRA;output_dir={};force_cpu_power=1;force_ram_power=0;\
         rapl_dir=/nonexistent;measure_power_secs=60;job_coordination_dir={}",
        out_dir.display(),
        coord.display()
    );
    // Rank 1 starts first (it counts the GPU) and stops last, so rank 0's stop carries its share
    // (a rank measuring after the counter's stop takes the GPU over instead).
    let steps = [
        vec![
            "barrier:ready",
            "wait:r1-started",
            "start",
            "barrier:started",
            "sleep:1",
            "flush",
            "describe",
            "stop",
            "signal:r0-stopped",
        ],
        vec![
            "barrier:ready",
            "start",
            "signal:r1-started",
            "barrier:started",
            "sleep:1",
            "flush",
            "describe",
            "wait:r0-stopped",
            "stop",
        ],
    ];
    let children: Vec<Child> = (0..2)
        .map(|r| {
            let (rs, tag) = (r.to_string(), format!("r{r}"));
            let env = [
                ("RANK", rs.as_str()),
                ("LOCAL_RANK", rs.as_str()),
                ("WORLD_SIZE", "2"),
                ("LOCAL_WORLD_SIZE", "2"),
                ("GROUP_RANK", "0"),
                ("TORCHELASTIC_RUN_ID", "gpu-share-job"),
                ("CT_GPU_PROC", tag.as_str()),
            ];
            rank(dir.path(), &options, &env, &steps[r])
        })
        .collect();
    let outputs: Vec<String> = children.into_iter().map(|c| wait(c, Duration::from_secs(60)).0).collect();
    let ranks: Vec<(Seen, f64, (f64, f64), f64)> = outputs.iter().map(|o| job_rank(o)).collect();
    // The device over the job: from rank 1's start (the first) to its stop (the last).
    let total: f64 = ranks.iter().map(|r| r.1).sum();
    let (first, (stop_call, stop_after)) = (&ranks[1].0, ranks[1].2);
    assert!(
        within_calls(total, first.start_before, first.start_t, stop_call, stop_after),
        "the ranks' sum {total} J is the device's over the job, {} s; the ranks printed:\n{}",
        stop_call - first.start_t,
        outputs.join("\n")
    );
    // The rank that does not count the GPU carries its share of its interval; the counter the rest.
    let counts = |s: &Seen| s.describe["job"]["gpus_counted_now"].as_array().is_some_and(|a| !a.is_empty());
    assert!(counts(&ranks[1].0) && !counts(&ranks[0].0), "the first rank to start counts the GPU");
    let mut shares = Vec::new();
    for (r, (s, stop_j, _, _)) in ranks.iter().enumerate() {
        // Its interval up to the flush, as it measured it (the counter's part is the rest).
        let split = last_split(s);
        let (interval_j, own_j) = (split["device_j"].as_f64().unwrap(), split["own_j"].as_f64().unwrap());
        // Its own SM %, then the other rank's and the process outside the job's.
        let sm = if r == 0 { [75.0, 25.0, 50.0] } else { [25.0, 75.0, 50.0] };
        let want = expected_shares(interval_j, s.duration_s, &sm)[0];
        let got = own_j / interval_j;
        if !counts(s) {
            assert!(close(s.gpu_j, own_j, 1e-6), "rank {r}'s GPU energy {} J is its part {own_j} J", s.gpu_j);
            assert!((got - want).abs() <= 0.02, "rank {r} at {}% SM: share {got}, want {want} (±2 %)", sm[0]);
        }
        shares.push((
            format!("rank {r} ({} % SM{})", sm[0], if counts(s) { ", counts the GPU" } else { "" }),
            stop_j / total,
        ));
    }
    report("job: 2 ranks at 75 % / 25 % and a process outside the job at 50 % (counted once)", total, &shares);

    // `carbon-tracker report` shows each rank with its share, and the job as their sum.
    let cli = Command::new(env!("CARGO_BIN_EXE_carbon-tracker"))
        .arg("report")
        .arg(&out_dir)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (json, _) = wait(cli, Duration::from_secs(60));
    let v: Value = serde_json::from_str(&json).unwrap();
    let job = &v["jobs"][0];
    for (r, (_, _, _, stop_kwh)) in ranks.iter().enumerate() {
        let row = job["ranks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rank"] == r)
            .unwrap_or_else(|| panic!("rank {r} in {json}"));
        assert!(
            close(row["energy_consumed_kwh"].as_f64().unwrap(), *stop_kwh, 1e-9),
            "rank {r}: {row} vs its stop {stop_kwh}"
        );
    }
    let sum: f64 = ranks.iter().map(|r| r.3).sum();
    assert!(close(job["energy_consumed_kwh"].as_f64().unwrap(), sum, 1e-9), "the job is the ranks' sum: {job}");
}

/// `event`'s line of a rank's stdout: its fields.
fn event<'a>(stdout: &'a str, event: &str) -> HashMap<&'a str, f64> {
    let line = stdout
        .lines()
        .rfind(|l| l.contains(&format!("event={event} ")))
        .unwrap_or_else(|| panic!("no {event} in {stdout}"));
    line.split_whitespace().filter_map(|p| p.split_once('=')).filter_map(|(k, v)| Some((k, v.parse().ok()?))).collect()
}

#[test]
fn a_killed_rank_leaves_its_unreported_gpu_share_to_the_counting_rank_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let coord = dir.path().join("coord");
    std::fs::create_dir_all(&coord).unwrap();
    std::fs::write(
        dir.path().join("nvml.conf"),
        format!("gpu {GPU} NVIDIA_Fake_A100 {POWER_W} counter util=50 max_w={MAX_W} sample_ms=10 proc=env:CT_GPU_PROC=r0,75 proc={OTHER},25\n"),
    )
    .unwrap();
    let options = |every: &str| {
        format!(
            "gpu_share=split;offline=true;country_iso_code=FRA;save_to_file=false;force_cpu_power=1;force_ram_power=0;\
             rapl_dir=/nonexistent;measure_power_secs={every};job_coordination_dir={}",
            coord.display()
        )
    };
    // Rank 1 starts first: it counts the GPU and measures only at its stop. Rank 0 carries its
    // share, reports it once (flush), then measures every 0.1 s without reporting until killed.
    let steps: [&[&str]; 2] = [
        &[
            "barrier:ready",
            "wait:r1-started",
            "start",
            "barrier:started",
            "sleep:0.5",
            "flush",
            "signal:r0-flushed",
            "sleep:120",
        ],
        &["barrier:ready", "start", "signal:r1-started", "barrier:started", "wait:killed", "sleep:0.3", "stop"],
    ];
    let mut children: Vec<Child> = (0..2)
        .map(|r| {
            let (rs, tag) = (r.to_string(), format!("r{r}"));
            let env = [
                ("RANK", rs.as_str()),
                ("LOCAL_RANK", rs.as_str()),
                ("WORLD_SIZE", "2"),
                ("LOCAL_WORLD_SIZE", "2"),
                ("GROUP_RANK", "0"),
                ("TORCHELASTIC_RUN_ID", "gpu-share-kill"),
                ("CT_GPU_PROC", tag.as_str()),
            ];
            rank(dir.path(), &options(if r == 0 { "0.1" } else { "60" }), &env, steps[r])
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.path().join("r0-flushed").exists() {
        if Instant::now() > deadline || children.iter_mut().any(|c| c.try_wait().unwrap().is_some()) {
            children.iter_mut().for_each(|c| drop(c.kill()));
            panic!("rank 0 never flushed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(1000)); // rank 0 measures its share, unreported
    children[0].kill().unwrap(); // SIGKILL: no destructor, no last measurement
    let killed = children.remove(0).wait_with_output_timeout();
    std::fs::write(dir.path().join("killed"), "").unwrap();
    let (out1, _) = wait(children.remove(0), Duration::from_secs(60));
    let out0 = String::from_utf8_lossy(&killed.stdout).into_owned();
    let (flush0, start1, stop1) = (event(&out0, "flush"), event(&out1, "start"), event(&out1, "stop"));
    // Rank 0's reported share and rank 1's stop: the device's energy over the job, rank 0's
    // share since its flush included once (taken over by rank 1, taken off its count once).
    let (reported0_j, stop1_j) = (flush0["gpu_kwh"] * 3.6e6, stop1["gpu_kwh"] * 3.6e6);
    let total = reported0_j + stop1_j;
    println!(
        "SIGKILL of a rank carrying its GPU share: ranks' sum {total:.1} J, the device's {:.1} J (rank 0 reported {reported0_j:.1} J)",
        POWER_W * (stop1["t_call"] - start1["t_after"])
    );
    assert!(reported0_j > 0.0, "rank 0 carried a share: {out0}");
    assert!(
        within_calls(total, start1["t"], start1["t_after"], stop1["t_call"], stop1["t"]),
        "the ranks' sum {total} J is the device's over the job, {} s",
        stop1["t_call"] - start1["t_after"]
    );
}

#[test]
fn gpu_share_whole_keeps_the_whole_gpu_in_process_mode() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nvml.conf"),
        format!(
            "gpu {GPU} NVIDIA_Fake_A100 {POWER_W} counter max_w={MAX_W} sample_ms=10 proc=self,25 proc={OTHER},75\n"
        ),
    )
    .unwrap();
    let child =
        rank(dir.path(), &process_options_with("whole"), &[], &["start", "sleep:0.5", "flush", "describe", "stop"]);
    let s = seen(&wait(child, Duration::from_secs(60)).0);
    assert!(s.describe["gpus"][0]["last_split"].is_null(), "not split");
    assert!(within_calls(s.gpu_j, s.start_before, s.start_t, s.flush_t, s.flush_after), "the whole GPU: {} J", s.gpu_j);
}

//! A simulated node, counted once, GPUs included. Built from fakes made here:
//! - a fake NVML (tests/c/fake_nvml.c), compiled with cc into `libnvidia-ml.so.1` in a directory
//!   put first on `LD_LIBRARY_PATH`, so the library's real loading path finds it: four indices,
//!   a 300 W GPU with an energy counter, a 150 W GPU without one (power integrated), one index
//!   that cannot be opened, and a 200 W GPU with MIG enabled (two instances); the counters are
//!   the same in every process of the node (CLOCK_MONOTONIC x power);
//! - a fake powercap tree whose package counter a thread of this test moves at 50 W of
//!   CLOCK_MONOTONIC, read by every rank;
//! - four ranks of tests/c/node_rank.c with SLURM's, MPICH's and torchrun's variables, and under
//!   Open MPI's real `mpirun`, in each way ranks see GPUs: all see all (SLURM `--gres`), disjoint
//!   by UUID (two of them through MIG instances of one GPU), partly overlapping with one GPU seen
//!   by nobody, and no `CUDA_VISIBLE_DEVICES` at all.
//!
//! In each, the ranks' CPU, RAM and GPU energies add up to the node's (the fakes' powers over the
//! time the ranks ran) within 1 %, `ct_tracker_json` names the rank that counts each GPU (exactly
//! one of those that see it, none for a GPU nobody sees), and killing the rank that counts the
//! GPUs (SIGKILL) loses no interval and counts none twice.

use crate::support;
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use support::{ChildTimeout, CommandTimeout};

const CPU_W: f64 = 50.0;
const RAM_W: f64 = 10.0;
const GPU_A: &str = "GPU-a0a0a0a0-0000-4000-8000-000000000001";
const GPU_B: &str = "GPU-b0b0b0b0-0000-4000-8000-000000000002";
const GPU_C: &str = "GPU-c0c0c0c0-0000-4000-8000-000000000003";
const MIG_C1: &str = "MIG-c1c1c1c1-0000-4000-8000-000000000031";
const MIG_C2: &str = "MIG-c2c2c2c2-0000-4000-8000-000000000032";
/// Physical GPUs and their power.
const GPUS: [(&str, f64); 3] = [(GPU_A, 300.0), (GPU_B, 150.0), (GPU_C, 200.0)];
const RANKS: usize = 4;
const WS_PER_KWH: f64 = 3.6e6;

fn monotonic_s() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills the struct it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The C compiler, the fake NVML and the rank program (also with MPI when mpicc exists), built
/// once per run of this test binary.
struct Built {
    nvml_dir: PathBuf,
    rank: PathBuf,
    rank_mpi: Option<PathBuf>,
}

fn lib_dir() -> PathBuf {
    std::env::current_exe().unwrap().parent().unwrap().to_path_buf()
}

fn compile(compiler: &Path, args: &[std::ffi::OsString]) {
    let status = Command::new(compiler)
        .args(args)
        .try_status_timeout()
        .unwrap_or_else(|e| panic!("running {}: {e}", compiler.display()));
    assert!(status.success(), "{} {args:?} failed", compiler.display());
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-sim");
        let nvml_dir = out.join("nvml");
        std::fs::create_dir_all(&nvml_dir).unwrap();
        let cc = find_program("cc").expect("a C compiler (cc)");
        let os = |s: &str| std::ffi::OsString::from(s);
        let nvml = nvml_dir.join("libnvidia-ml.so.1");
        compile(
            &cc,
            &[
                os("-shared"),
                os("-fPIC"),
                os("-O1"),
                os("-Wall"),
                os("-Werror"),
                root.join("tests/c/fake_nvml.c").into(),
                os("-o"),
                nvml.into(),
            ],
        );
        let lib = lib_dir();
        let link = |compiler: &Path, exe: &Path, extra: &[&str]| {
            let mut args = vec![os("-std=c99"), os("-Wall"), os("-Werror"), os("-I"), root.join("include").into()];
            args.extend(extra.iter().map(|a| os(a)));
            args.extend([
                root.join("tests/c/node_rank.c").into(),
                os("-o"),
                exe.into(),
                format!("-L{}", lib.display()).into(),
                format!("-Wl,-rpath,{}", lib.display()).into(),
                os("-lcarbon_tracker"),
            ]);
            compile(compiler, &args);
        };
        let rank = out.join("node_rank");
        link(&cc, &rank, &[]);
        let rank_mpi = find_program("mpicc").map(|mpicc| {
            let exe = out.join("node_rank_mpi");
            link(&mpicc, &exe, &["-DWITH_MPI"]);
            exe
        });
        Built { nvml_dir, rank, rank_mpi }
    })
}

/// The fake node: NVML's configuration, the powercap tree and its writer.
struct Node {
    dir: tempfile::TempDir,
    stop_writer: Arc<AtomicBool>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Node {
    /// `lost_file`: GPU A is lost while that file exists.
    fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let lost = dir.path().join("gpu-a-lost");
        std::fs::write(
            dir.path().join("nvml.conf"),
            format!(
                "gpu {GPU_A} NVIDIA_Fake_A100 300 counter util=60 max_w=400 lost_file={}\n\
                 gpu {GPU_B} NVIDIA_Fake_P100 150 power util=40 max_w=250\n\
                 fail\n\
                 gpu {GPU_C} NVIDIA_Fake_A30 200 counter util=80 max_w=300 mig={MIG_C1},{MIG_C2}\n",
                lost.display()
            ),
        )
        .unwrap();
        let zone = dir.path().join("powercap/intel-rapl:0");
        std::fs::create_dir_all(&zone).unwrap();
        std::fs::write(zone.join("name"), "package-0\n").unwrap();
        std::fs::write(zone.join("max_energy_range_uj"), format!("{}\n", 1u64 << 60)).unwrap();
        std::fs::write(zone.join("constraint_0_max_power_uw"), "100000000\n").unwrap();
        let energy = zone.join("energy_uj");
        let write = |f: &std::fs::File| {
            // One write of a fixed width: a reader sees the old number or the new one.
            let _ = f.write_all_at(format!("{:020}\n", (CPU_W * 1e6 * monotonic_s()) as u64).as_bytes(), 0);
        };
        let file = std::fs::File::create(&energy).unwrap();
        write(&file);
        let stop_writer = Arc::new(AtomicBool::new(false));
        let stop = stop_writer.clone();
        let writer = std::thread::spawn(move || {
            // The counter's resolution is how late a write can come: on a loaded machine a
            // sleeping thread waits for a core, so the writer asks for a real-time priority
            // (granted to root, as in CI; otherwise it runs as any thread).
            let param = libc::sched_param { sched_priority: 1 };
            // SAFETY: sets this thread's own scheduling policy.
            unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
            while !stop.load(Ordering::SeqCst) {
                write(&file);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Node { dir, stop_writer, writer: Some(writer) }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The options of every rank: RAPL from the fake tree, RAM at 10 W, coordination in `coord`.
    fn options(&self, coord: &Path, measure_power_secs: f64) -> String {
        format!(
            "force_carbon_intensity_g_co2e_kwh=50;save_to_file=false;rapl_dir={};force_ram_power={RAM_W};measure_power_secs={measure_power_secs};job_coordination_dir={}",
            self.path("powercap").display(),
            coord.display()
        )
    }

    /// A command with the node's environment and none of this process's launcher variables.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            let launcher =
                ["SLURM_", "OMPI_", "PMIX_", "PMI_", "MPI_LOCAL", "TORCHELASTIC_"].iter().any(|p| k.starts_with(p))
                    || [
                        "RANK",
                        "LOCAL_RANK",
                        "WORLD_SIZE",
                        "LOCAL_WORLD_SIZE",
                        "GROUP_RANK",
                        "CUDA_VISIBLE_DEVICES",
                        "ROCR_VISIBLE_DEVICES",
                    ]
                    .contains(&k.as_str())
                    || k.starts_with("CODECARBON_");
            if launcher {
                cmd.env_remove(&k);
            }
        }
        let ld = std::env::var("LD_LIBRARY_PATH").map(|p| format!(":{p}")).unwrap_or_default();
        cmd.env("LD_LIBRARY_PATH", format!("{}{ld}", built().nvml_dir.display()));
        cmd.env("FAKE_NVML_CONFIG", self.path("nvml.conf"));
        cmd
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop_writer.store(true, Ordering::SeqCst);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// What one rank printed.
#[derive(Debug, Default, Clone)]
struct Rank {
    rank: usize,
    /// Just before its `ct_tracker_start` and just after its `ct_tracker_stop` (CLOCK_MONOTONIC, s).
    start_t: f64,
    stop_t: f64,
    /// The time its tracker measured, as of its last totals: from its start to the measurement
    /// of that flush or stop (the call's time less the tracker's duration; CLOCK_MONOTONIC, s).
    measured_from: f64,
    measured_to: f64,
    /// The last totals it printed (its stop, or its last flush if it was killed).
    cpu_kwh: f64,
    ram_kwh: f64,
    gpu_kwh: f64,
    counts_node: String,
    /// The GPUs it counted (its last `json` step) and those it tracks.
    counted: Vec<String>,
    seen: Vec<String>,
    stderr: String,
}

fn parse_ranks(stdout: &str) -> HashMap<usize, Rank> {
    let mut ranks: HashMap<usize, Rank> = HashMap::new();
    for line in stdout.lines().filter(|l| l.starts_with("rank=")) {
        let f: HashMap<&str, &str> = line.split_whitespace().filter_map(|p| p.split_once('=')).collect();
        let num = |k: &str| f[k].parse::<f64>().unwrap_or_else(|_| panic!("{k} in {line}"));
        let r = ranks.entry(f["rank"].parse().unwrap()).or_default();
        r.rank = f["rank"].parse().unwrap();
        match f["event"] {
            "start" => r.start_t = num("t"),
            "flush" | "stop" => {
                (r.cpu_kwh, r.ram_kwh, r.gpu_kwh) = (num("cpu_kwh"), num("ram_kwh"), num("gpu_kwh"));
                (r.measured_from, r.measured_to) = (num("t_call") - num("duration_s"), num("t_call"));
                if f["event"] == "stop" {
                    r.stop_t = num("t");
                }
            }
            "json" => {
                let list = |k: &str| {
                    f.get(k)
                        .map_or(Vec::new(), |v| v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
                };
                r.counts_node = f["counts_node"].to_string();
                (r.counted, r.seen) = (list("gpus"), list("seen"));
            }
            other => panic!("event {other}"),
        }
    }
    ranks
}

/// How the ranks of a job learn they are ranks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Launcher {
    Slurm,
    OpenMpi,
    Mpich,
    Torchrun,
}

fn launcher_env(cmd: &mut Command, launcher: Launcher, rank: usize, n: usize, job: &str) {
    let (r, n) = (rank.to_string(), n.to_string());
    let vars: Vec<(&str, &str)> = match launcher {
        Launcher::Slurm => vec![
            ("SLURM_JOB_ID", job),
            ("SLURM_PROCID", &r),
            ("SLURM_LOCALID", &r),
            ("SLURM_NODEID", "0"),
            ("SLURM_NTASKS", &n),
            ("SLURM_TASKS_PER_NODE", &n),
        ],
        Launcher::Mpich => vec![("PMI_RANK", &r), ("PMI_SIZE", &n), ("MPI_LOCALRANKID", &r), ("MPI_LOCALNRANKS", &n)],
        Launcher::Torchrun => vec![
            ("RANK", &r),
            ("LOCAL_RANK", &r),
            ("WORLD_SIZE", &n),
            ("LOCAL_WORLD_SIZE", &n),
            ("GROUP_RANK", "0"),
            ("TORCHELASTIC_RUN_ID", job),
        ],
        Launcher::OpenMpi => unreachable!("mpirun sets its own"),
    };
    cmd.envs(vars);
}

/// `CUDA_VISIBLE_DEVICES` of each rank (`None`: not set).
type Visibility = [Option<&'static str>; RANKS];

const PATTERNS: [(&str, Visibility); 4] = [
    (
        "all see all (SLURM --gres: 0,1,2,3 in every rank)",
        [Some("0,1,2,3"), Some("0,1,2,3"), Some("0,1,2,3"), Some("0,1,2,3")],
    ),
    (
        "disjoint by UUID (ranks 2 and 3: two MIG instances of one GPU)",
        [Some(GPU_A), Some(GPU_B), Some(MIG_C1), Some(MIG_C2)],
    ),
    (
        "partly overlapping (GPU B seen by nobody)",
        [Some(GPU_A), Some("GPU-a0a0a0a0,MIG-c1c1c1c1"), Some("MIG-c1c1c1c1,MIG-c2c2c2c2"), Some("")],
    ),
    ("CUDA_VISIBLE_DEVICES not set (torchrun: each rank picks by LOCAL_RANK)", [None, None, None, None]),
];

/// One test at a time: the ranks of each job load the machine, and the node's numbers are
/// compared with the time they ran.
static ONE_JOB: Mutex<()> = Mutex::new(());

const JOB_STEPS: [&str; 9] =
    ["barrier:ready", "start", "barrier:started", "work:0.5", "flush", "sleep:0.5", "json", "barrier:seen", "stop"];

/// Runs the four ranks of one job; `None` when its launcher is not installed.
fn run_job(node: &Node, launcher: Launcher, vis: &Visibility, tag: &str) -> Option<Vec<Rank>> {
    let coord = node.path(&format!("coord-{tag}"));
    let sync = node.path(&format!("sync-{tag}"));
    std::fs::create_dir_all(&coord).unwrap();
    std::fs::create_dir_all(&sync).unwrap();
    // Measured at start, flush and stop only: a background tick never delays those calls.
    let options = node.options(&coord, 10.0);
    let b = built();
    let mut ranks = if launcher == Launcher::OpenMpi {
        let (Some(exe), Some(mpirun)) = (&b.rank_mpi, find_program("mpirun")) else {
            assert!(
                std::env::var_os("CT_REQUIRE_CLUSTER_TOOLS").is_none(),
                "mpirun or mpicc missing and CT_REQUIRE_CLUSTER_TOOLS is set"
            );
            eprintln!("SKIPPED: Open MPI (mpirun, mpicc: Debian openmpi-bin, libopenmpi-dev) not installed");
            return None;
        };
        let mut cmd = node.command(&mpirun);
        cmd.args([
            "-np",
            &RANKS.to_string(),
            "--allow-run-as-root",
            "--oversubscribe",
            "-x",
            "LD_LIBRARY_PATH",
            "-x",
            "FAKE_NVML_CONFIG",
        ]);
        for (i, v) in vis.iter().enumerate() {
            cmd.env(format!("CT_CVD_{i}"), v.unwrap_or("UNSET"));
            cmd.args(["-x", &format!("CT_CVD_{i}")]);
        }
        // Each rank's CUDA_VISIBLE_DEVICES, as a site's wrapper or srun would set it.
        let wrapper = "v=$(eval echo \"\\${CT_CVD_$OMPI_COMM_WORLD_RANK}\"); \
                       if [ \"$v\" = UNSET ]; then unset CUDA_VISIBLE_DEVICES; else export CUDA_VISIBLE_DEVICES=\"$v\"; fi; exec \"$@\"";
        cmd.args(["sh", "-c", wrapper, "sh"]).arg(exe).arg(&options).arg(&sync).arg(RANKS.to_string()).args(JOB_STEPS);
        let out = cmd.output_timeout();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(out.status.success(), "mpirun failed:\n{stdout}\n{stderr}");
        let mut ranks = parse_ranks(&stdout);
        for r in ranks.values_mut() {
            r.stderr = stderr.clone();
        }
        ranks
    } else {
        let children: Vec<_> = (0..RANKS)
            .map(|i| {
                let mut cmd = node.command(&b.rank);
                launcher_env(&mut cmd, launcher, i, RANKS, &format!("job-{tag}"));
                if let Some(v) = vis[i] {
                    cmd.env("CUDA_VISIBLE_DEVICES", v);
                }
                cmd.arg(&options).arg(&sync).arg(RANKS.to_string()).args(JOB_STEPS);
                cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        let mut ranks = HashMap::new();
        for child in children {
            let out = child.wait_with_output_timeout();
            let (stdout, stderr) =
                (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
            assert!(out.status.success(), "a rank failed:\n{stdout}\n{stderr}");
            for (k, mut r) in parse_ranks(&stdout) {
                r.stderr = stderr.clone();
                ranks.insert(k, r);
            }
        }
        ranks
    };
    let mut list: Vec<Rank> =
        (0..RANKS).map(|i| ranks.remove(&i).unwrap_or_else(|| panic!("no output of rank {i}"))).collect();
    list.sort_by_key(|r| r.rank);
    // Only the user's private directory stays (empty: other jobs may use it meanwhile).
    let left: Vec<_> = std::fs::read_dir(&coord)
        .unwrap()
        .flatten()
        .filter(|e| !e.path().is_dir() || std::fs::read_dir(e.path()).unwrap().next().is_some())
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "the last rank removes the coordination files: {left:?}");
    Some(list)
}

/// The node's energy (kWh) over `[from, to]` s at `watts`.
fn kwh(watts: f64, from: f64, to: f64) -> f64 {
    watts * (to - from).max(0.0) / WS_PER_KWH
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

/// Checks one job against the node; returns the table line. The node's energy over the job:
/// the fakes' powers from the moment the rank that counts it started measuring to the last
/// measurement of the last rank that sees it.
fn check_job(name: &str, ranks: &[Rank]) -> String {
    let counters: Vec<&Rank> = ranks.iter().filter(|r| r.counts_node == "true").collect();
    assert_eq!(counters.len(), 1, "{name}: one rank counts the node's CPU and RAM: {ranks:#?}");
    let last = |of: &[&Rank]| of.iter().map(|r| r.measured_to).fold(f64::MIN, f64::max);
    let all: Vec<&Rank> = ranks.iter().collect();
    let (t0, t1) = (counters[0].measured_from, last(&all));
    let mut node_gpu = 0.0;
    for (uuid, watts) in GPUS {
        let seeing: Vec<&Rank> = ranks.iter().filter(|r| r.seen.iter().any(|s| s == uuid)).collect();
        let counting: Vec<&Rank> = ranks.iter().filter(|r| r.counted.iter().any(|s| s == uuid)).collect();
        if seeing.is_empty() {
            assert!(
                counting.is_empty(),
                "{name}: {uuid} is seen by no rank, yet counted by {:?}",
                counting.iter().map(|r| r.rank).collect::<Vec<_>>()
            );
            continue;
        }
        assert_eq!(
            counting.len(),
            1,
            "{name}: {uuid} seen by ranks {:?} is counted by {:?}",
            seeing.iter().map(|r| r.rank).collect::<Vec<_>>(),
            counting.iter().map(|r| r.rank).collect::<Vec<_>>()
        );
        assert!(
            seeing.iter().any(|r| r.rank == counting[0].rank),
            "{name}: {uuid} counted by a rank that does not see it"
        );
        node_gpu += kwh(watts, counting[0].measured_from, last(&seeing));
    }
    let sum = |f: fn(&Rank) -> f64| ranks.iter().map(f).sum::<f64>();
    let (cpu, ram, gpu) = (sum(|r| r.cpu_kwh), sum(|r| r.ram_kwh), sum(|r| r.gpu_kwh));
    let (node_cpu, node_ram) = (kwh(CPU_W, t0, t1), kwh(RAM_W, t0, t1));
    let line = format!(
        "{name} | {} | {:.4} | {:.4} | {:.4}",
        ranks
            .iter()
            .map(|r| format!("{}:[{}]", r.rank, r.counted.iter().map(|u| &u[4..6]).collect::<Vec<_>>().join(" ")))
            .collect::<Vec<_>>()
            .join(" "),
        cpu / node_cpu,
        ram / node_ram,
        gpu / node_gpu,
    );
    println!("{line}");
    assert!(rel(cpu, node_cpu) < 0.01, "{name}: CPU {cpu} kWh, the node's {node_cpu} kWh");
    assert!(rel(ram, node_ram) < 0.01, "{name}: RAM {ram} kWh, the node's {node_ram} kWh");
    assert!(rel(gpu, node_gpu) < 0.01, "{name}: GPU {gpu} kWh, the node's {node_gpu} kWh");
    line
}

fn run_patterns(launcher: Launcher) {
    let _one = ONE_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let node = Node::new();
    println!("{launcher:?}, 4 ranks: pattern | GPUs each rank counts (a0: A, b0: B, c0: C) | CPU, RAM, GPU: ranks' sum / node");
    for (i, (name, vis)) in PATTERNS.iter().enumerate() {
        let Some(ranks) = run_job(&node, launcher, vis, &format!("{launcher:?}-{i}")) else { return };
        check_job(name, &ranks);
        // The index that cannot be opened is named, and hides no other GPU.
        assert!(ranks[0].stderr.contains("NVIDIA GPU 2 cannot be opened"), "{}", ranks[0].stderr);
    }
}

#[test]
fn slurm_ranks_count_the_node_once_gpus_included() {
    run_patterns(Launcher::Slurm);
}

#[test]
fn open_mpi_ranks_under_mpirun_count_the_node_once_gpus_included() {
    run_patterns(Launcher::OpenMpi);
}

#[test]
fn mpich_ranks_count_the_node_once_gpus_included() {
    run_patterns(Launcher::Mpich);
}

#[test]
fn torchrun_ranks_count_the_node_once_gpus_included() {
    run_patterns(Launcher::Torchrun);
}

fn wait_for_file(path: &Path, children: &mut [std::process::Child]) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        for c in children.iter_mut() {
            assert!(c.try_wait().unwrap().is_none(), "a rank exited early waiting for {}", path.display());
        }
        assert!(Instant::now() < give_up, "gave up waiting for {}", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn killing_the_rank_that_counts_the_gpus_loses_no_interval_and_counts_none_twice() {
    let _one = ONE_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let node = Node::new();
    let coord = node.path("coord-kill");
    let sync = node.path("sync-kill");
    std::fs::create_dir_all(&coord).unwrap();
    std::fs::create_dir_all(&sync).unwrap();
    // Rank 0 starts first, so it counts the node and GPUs A and B; it measures only when told
    // (its last measurement is its last flush, whose totals it prints). Rank 1 sees A and B
    // too and measures every 0.1 s, also between rank 0's last measurement and its death.
    // Rank 2 sees GPU C only.
    let ranks: [(&str, f64, &[&str]); 3] = [
        ("0,1", 3600.0, &["start", "signal:started0", "wait:go", "json", "flush", "signal:flushed", "sleep:120"]),
        (
            "0,1",
            0.1,
            &[
                "wait:started0",
                "start",
                "signal:started1",
                "wait:flushed",
                "json",
                "wait:killed",
                "sleep:0.4",
                "json",
                "flush",
                "sleep:0.3",
                "stop",
            ],
        ),
        ("3", 0.1, &["wait:started0", "start", "signal:started2", "wait:killed", "sleep:0.4", "json", "stop"]),
    ];
    let mut children: Vec<std::process::Child> = ranks
        .iter()
        .enumerate()
        .map(|(i, (cvd, every, steps))| {
            let mut cmd = node.command(&built().rank);
            launcher_env(&mut cmd, Launcher::Slurm, i, 3, "kill-job");
            cmd.env("CUDA_VISIBLE_DEVICES", cvd).arg(node.options(&coord, *every)).arg(&sync).arg("3").args(*steps);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    wait_for_file(&sync.join("started1"), &mut children);
    wait_for_file(&sync.join("started2"), &mut children);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(sync.join("go"), "").unwrap();
    wait_for_file(&sync.join("flushed"), &mut children);
    std::thread::sleep(Duration::from_millis(500)); // rank 1 measures meanwhile (not counting A, B)
    children[0].kill().unwrap(); // SIGKILL: no destructor, no last measurement
    let doomed = children.remove(0).wait_with_output_timeout();
    std::fs::write(sync.join("killed"), "").unwrap();
    let mut all = parse_ranks(&String::from_utf8_lossy(&doomed.stdout));
    let mut first_json = HashMap::new();
    for child in children {
        let out = child.wait_with_output_timeout();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        // Rank 1's first json (before the kill) shows it counted nothing while rank 0 lived.
        if let Some(l) = stdout.lines().find(|l| l.contains("event=json")) {
            first_json.insert(l.split_whitespace().next().unwrap().to_string(), l.to_string());
        }
        all.extend(parse_ranks(&stdout));
    }
    let (r0, r1, r2) = (&all[&0], &all[&1], &all[&2]);
    assert_eq!(
        (r0.counts_node.as_str(), r0.counted.clone()),
        ("true", vec![GPU_A.to_string(), GPU_B.to_string()]),
        "{r0:?}"
    );
    assert!(first_json["rank=1"].contains("counts_node=false gpus= "), "{}", first_json["rank=1"]);
    assert_eq!(
        r1.counted,
        vec![GPU_A.to_string(), GPU_B.to_string()],
        "rank 1, which sees them, took A and B over: {r1:?}"
    );
    assert_eq!(
        [r1, r2].iter().filter(|r| r.counts_node == "true").count(),
        1,
        "one survivor took the node over: {r1:?} {r2:?}"
    );
    assert_eq!(r2.counted, vec![GPU_C.to_string()]);
    // The node: from rank 0's start (it counted the node and A, B first) to the last
    // measurement of the ranks that went on (C: rank 2's own run).
    let end = r1.measured_to.max(r2.measured_to);
    let node_gpu = kwh(300.0 + 150.0, r0.measured_from, r1.measured_to) + kwh(200.0, r2.measured_from, r2.measured_to);
    let gpu = r0.gpu_kwh + r1.gpu_kwh + r2.gpu_kwh;
    let (cpu, ram) = (r0.cpu_kwh + r1.cpu_kwh + r2.cpu_kwh, r0.ram_kwh + r1.ram_kwh + r2.ram_kwh);
    let (node_cpu, node_ram) = (kwh(CPU_W, r0.measured_from, end), kwh(RAM_W, r0.measured_from, end));
    println!(
        "SIGKILL of the rank counting GPUs A, B: ranks' sum / node: GPU {:.4}, CPU {:.4}, RAM {:.4} (rank 0 counted {:.3e} kWh of GPU until its last flush, rank 1 {:.3e}, rank 2 {:.3e})",
        gpu / node_gpu, cpu / node_cpu, ram / node_ram, r0.gpu_kwh, r1.gpu_kwh, r2.gpu_kwh
    );
    assert!(rel(gpu, node_gpu) < 0.01, "GPU {gpu} kWh, the node's {node_gpu} kWh");
    assert!(rel(cpu, node_cpu) < 0.01, "CPU {cpu} kWh, the node's {node_cpu} kWh");
    assert!(rel(ram, node_ram) < 0.01, "RAM {ram} kWh, the node's {node_ram} kWh");
}

/// The case: the rank counting the node is SIGKILLed mid-run at a default-like cadence
/// (every rank measures every 0.2 s), long after its last flush. What it counted since is in
/// the node's shared state at each of its measurements, and a survivor takes it over: the
/// ranks' sum is the node's (before: 0.67x, what it counted since its last row was nowhere).
#[test]
fn killing_the_counting_rank_at_a_default_like_cadence_loses_at_most_one_tick() {
    let _one = ONE_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let node = Node::new();
    let coord = node.path("coord-kill-cadence");
    let sync = node.path("sync-kill-cadence");
    std::fs::create_dir_all(&coord).unwrap();
    std::fs::create_dir_all(&sync).unwrap();
    let ranks: [&[&str]; 3] = [
        &["start", "signal:started0", "sleep:0.3", "flush", "sleep:120"],
        &["wait:started0", "start", "signal:started1", "wait:killed", "sleep:0.6", "stop"],
        &["wait:started0", "start", "signal:started2", "wait:killed", "sleep:0.6", "stop"],
    ];
    let mut children: Vec<std::process::Child> = ranks
        .iter()
        .enumerate()
        .map(|(i, steps)| {
            let mut cmd = node.command(&built().rank);
            launcher_env(&mut cmd, Launcher::Slurm, i, 3, "kill-cadence-job");
            cmd.arg(node.options(&coord, 0.2)).arg(&sync).arg("3").args(*steps);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    wait_for_file(&sync.join("started1"), &mut children);
    wait_for_file(&sync.join("started2"), &mut children);
    // Rank 0 flushed once, 0.3 s after its start; it counts the node for 1.5 s more, unwritten.
    std::thread::sleep(Duration::from_millis(1500));
    children[0].kill().unwrap(); // SIGKILL: no destructor, no last measurement
    let doomed = children.remove(0).wait_with_output_timeout();
    std::fs::write(sync.join("killed"), "").unwrap();
    let mut all = parse_ranks(&String::from_utf8_lossy(&doomed.stdout));
    for child in children {
        let out = child.wait_with_output_timeout();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        all.extend(parse_ranks(&stdout));
    }
    let (r0, r1, r2) = (&all[&0], &all[&1], &all[&2]);
    let end = r1.measured_to.max(r2.measured_to);
    let (cpu, ram) = (r0.cpu_kwh + r1.cpu_kwh + r2.cpu_kwh, r0.ram_kwh + r1.ram_kwh + r2.ram_kwh);
    let (node_cpu, node_ram) = (kwh(CPU_W, r0.measured_from, end), kwh(RAM_W, r0.measured_from, end));
    println!(
        "SIGKILL of the counting rank at 0.2 s ticks, 1.5 s after its last flush: ranks' sum / node: CPU {:.4}, RAM {:.4}",
        cpu / node_cpu,
        ram / node_ram
    );
    assert!(rel(cpu, node_cpu) < 0.02, "CPU {cpu} kWh, the node's {node_cpu} kWh");
    assert!(rel(ram, node_ram) < 0.02, "RAM {ram} kWh, the node's {node_ram} kWh");
}

/// A forked worker frees its copy of the counting rank's tracker (a C++ global, a Fortran
/// `final`, Python's `sys.exit`) while the parent and another rank keep counting, and one more
/// rank joins after: the child unlocks nothing (`fork` shares the `flock`s), removes nothing and
/// writes no row under the parent's run id, so the ranks still count the node once.
#[test]
fn a_forked_child_freeing_the_tracker_leaves_the_node_counted_once() {
    let _one = ONE_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let node = Node::new();
    let coord = node.path("coord-fork");
    let sync = node.path("sync-fork");
    let out = node.path("out-fork");
    for d in [&coord, &sync, &out] {
        std::fs::create_dir_all(d).unwrap();
    }
    let options = node
        .options(&coord, 0.2)
        .replace("save_to_file=false", &format!("save_to_file=true;output_dir={}", out.display()));
    let ranks: [&[&str]; 3] = [
        &[
            "start",
            "signal:started0",
            "sleep:0.3",
            "fork",
            "signal:forked",
            "sleep:0.8",
            "json",
            "signal:json0",
            "wait:json1",
            "stop",
        ],
        &["wait:started0", "start", "wait:json0", "json", "signal:json1", "stop"],
        &["wait:forked", "start", "sleep:0.4", "json", "stop"],
    ];
    let children: Vec<std::process::Child> = ranks
        .iter()
        .enumerate()
        .map(|(i, steps)| {
            let mut cmd = node.command(&built().rank);
            launcher_env(&mut cmd, Launcher::Slurm, i, 3, "fork-job");
            cmd.env("CUDA_VISIBLE_DEVICES", "").arg(&options).arg(&sync).arg("3").args(*steps);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let mut all = HashMap::new();
    for mut child in children {
        let give_up = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > give_up {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output_timeout();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        all.extend(parse_ranks(&stdout));
    }
    let (r0, r1, r2) = (&all[&0], &all[&1], &all[&2]);
    assert_eq!(
        [r0, r1, r2].map(|r| r.counts_node.as_str()),
        ["true", "false", "false"],
        "the parent still counts the node, alone"
    );
    let end = r0.measured_to.max(r1.measured_to).max(r2.measured_to);
    let (cpu, ram) = (r0.cpu_kwh + r1.cpu_kwh + r2.cpu_kwh, r0.ram_kwh + r1.ram_kwh + r2.ram_kwh);
    let (node_cpu, node_ram) = (kwh(CPU_W, r0.measured_from, end), kwh(RAM_W, r0.measured_from, end));
    println!(
        "a forked child freed the counting rank's tracker: ranks' sum / node: CPU {:.4}, RAM {:.4}",
        cpu / node_cpu,
        ram / node_ram
    );
    assert!(rel(cpu, node_cpu) < 0.02, "CPU {cpu} kWh, the node's {node_cpu} kWh");
    assert!(rel(ram, node_ram) < 0.02, "RAM {ram} kWh, the node's {node_ram} kWh");
    let csv = std::fs::read_to_string(out.join("emissions.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3, "one row per rank, none from the child:\n{csv}");
}

/// The case: the counting rank flushes, then stops while another rank reports its
/// share of the time it counted. Its CPU and RAM totals never go down (before: 343 -> 306 J,
/// its last interval negative), and the ranks still sum to the node.
#[test]
fn the_counting_rank_stopping_after_another_reports_its_share_never_goes_down() {
    let _one = ONE_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let node = Node::new();
    let coord = node.path("coord-monotonic");
    let sync = node.path("sync-monotonic");
    std::fs::create_dir_all(&coord).unwrap();
    std::fs::create_dir_all(&sync).unwrap();
    // Measured at flush and stop only (10 s ticks); rank 1 busy, so its CPU share is large.
    let ranks: [&[&str]; 2] = [
        &["start", "signal:started0", "wait:started1", "sleep:0.5", "flush", "signal:flushed0", "wait:shared1", "stop"],
        &[
            "wait:started0",
            "start",
            "signal:started1",
            "work:0.6",
            "wait:flushed0",
            "flush",
            "signal:shared1",
            "sleep:0.2",
            "stop",
        ],
    ];
    let children: Vec<std::process::Child> = ranks
        .iter()
        .enumerate()
        .map(|(i, steps)| {
            let mut cmd = node.command(&built().rank);
            launcher_env(&mut cmd, Launcher::Slurm, i, 2, "monotonic-job");
            cmd.env("CUDA_VISIBLE_DEVICES", "").arg(node.options(&coord, 10.0)).arg(&sync).arg("2").args(*steps);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let mut all = HashMap::new();
    let mut r0_totals = Vec::new();
    for mut child in children {
        let give_up = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > give_up {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output_timeout();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        for line in stdout.lines().filter(|l| l.starts_with("rank=0 ") && l.contains("cpu_kwh=")) {
            let f: HashMap<&str, &str> = line.split_whitespace().filter_map(|p| p.split_once('=')).collect();
            r0_totals.push((f["cpu_kwh"].parse::<f64>().unwrap(), f["ram_kwh"].parse::<f64>().unwrap()));
        }
        all.extend(parse_ranks(&stdout));
    }
    let [(flush_cpu, flush_ram), (stop_cpu, stop_ram)] = r0_totals[..] else { panic!("{r0_totals:?}") };
    println!(
        "the counting rank's totals at its flush -> stop: CPU {:.1} -> {:.1} J, RAM {:.1} -> {:.1} J",
        flush_cpu * WS_PER_KWH,
        stop_cpu * WS_PER_KWH,
        flush_ram * WS_PER_KWH,
        stop_ram * WS_PER_KWH
    );
    assert!(stop_cpu >= flush_cpu && stop_ram >= flush_ram, "the counting rank's totals went down");
    let (r0, r1) = (&all[&0], &all[&1]);
    let end = r0.measured_to.max(r1.measured_to);
    let cpu = r0.cpu_kwh + r1.cpu_kwh;
    assert!(rel(cpu, kwh(CPU_W, r0.measured_from, end)) < 0.02, "CPU {cpu} kWh");
}

#[test]
fn a_gpu_lost_mid_run_keeps_what_it_counted_and_the_others_go_on() {
    let _one = ONE_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let node = Node::new();
    let sync = node.path("sync-lost");
    std::fs::create_dir_all(&sync).unwrap();
    // One process, no job: GPUs A (lost after a while) and C.
    let mut cmd = node.command(&built().rank);
    cmd.env("CUDA_VISIBLE_DEVICES", format!("{GPU_A},{MIG_C1}"))
        .arg(node.options(&node.path("coord-lost"), 0.1))
        .arg(&sync)
        .arg("1");
    cmd.args(["start", "sleep:0.5", "flush", "signal:flushed", "wait:lost", "sleep:0.5", "stop"]);
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_file(&sync.join("flushed"), std::slice::from_mut(&mut child));
    std::fs::write(node.path("gpu-a-lost"), "").unwrap();
    std::fs::write(sync.join("lost"), "").unwrap();
    let out = child.wait_with_output_timeout();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let flushed: HashMap<&str, f64> = stdout
        .lines()
        .find(|l| l.contains("event=flush"))
        .unwrap()
        .split_whitespace()
        .filter_map(|p| p.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    let r = &parse_ranks(&stdout)[&0];
    // A counted until it was lost (at least what the flush saw), C all along.
    let lower = flushed["gpu_kwh"] + kwh(200.0, flushed["t"], r.stop_t) * 0.99;
    let upper = kwh(300.0 + 200.0, r.start_t, r.stop_t);
    assert!(r.gpu_kwh >= lower && r.gpu_kwh < upper, "{} kWh, between {lower} and {upper}", r.gpu_kwh);
    assert!(stderr.contains(&format!("{GPU_A}) was lost")), "{stderr}");
}

/// A Python that can run scripts/gpu-check.sh: the test venv's, with nvidia-ml-py when
/// scripts/setup.sh made it, else the system's (the script then reads NVML through ctypes).
fn gpu_check_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
    let has_pynvml = Command::new(&venv)
        .args(["-c", "import pynvml"])
        .stderr(Stdio::null())
        .try_status_timeout()
        .is_ok_and(|s| s.success());
    if has_pynvml {
        venv
    } else {
        find_program("python3").expect("python3")
    }
}

#[test]
fn gpu_check_script_runs_against_the_fake_nvml_and_without_nvml() {
    let _one = ONE_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let node = Node::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gpu-check.sh");
    let lib = lib_dir().join("libcarbon_tracker.so");
    let run = |with_nvml: bool| {
        let mut cmd = if with_nvml { node.command(Path::new("bash")) } else { Command::new("bash") };
        cmd.arg(&script)
            .env("GPU_CHECK_SCALE", "0.05")
            .env("CARBON_TRACKER_LIB", &lib)
            .env("PYTHON", gpu_check_python())
            .env_remove("CUDA_VISIBLE_DEVICES");
        let out = cmd.output_timeout();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let (status, text) = run(true);
    println!("{text}");
    assert_eq!(status, Some(0), "{text}");
    assert!(text.contains("driver 550.00.fake, 3 GPU(s)"), "{text}");
    assert!(text.contains("NVIDIA GPU 2 cannot be opened"), "{text}");
    assert!(text.contains("| phase | s | our GPU J | NVML counter J |"), "{text}");
    // The run with GPU A's UUID compares our energy with its counter, phase by phase.
    let by_uuid = &text[text.find(&format!("## CUDA_VISIBLE_DEVICES={GPU_A}")).expect("the UUID run")..];
    assert!(by_uuid.contains("gpu_model='1 x NVIDIA Fake A100' gpu_count=1"), "{by_uuid}");
    assert_eq!(
        by_uuid.lines().filter(|l| l.starts_with("| load |") || l.starts_with("| idle")).take(3).count(),
        3,
        "{by_uuid}"
    );
    assert!(text.contains("no such index: warning given: yes; GPUs tracked: 0; GPU energy counted: 0.000 J"), "{text}");
    assert!(text.contains("gpu-check: every check within its bound"), "{text}");
    let (status, text) = run(false);
    assert_eq!(status, Some(0), "{text}");
    assert!(text.contains("no NVIDIA driver here"), "{text}");
}

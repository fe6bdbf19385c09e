//! Hardware: what is probed once per process (the [`HardwarePlan`], cached by the options that
//! change it, as CodeCarbon's `hardware_cache`, docs/measuring.md) and what each tracker reads (its [`Meters`]).
//!
//! Probing takes the machine's facts once (CPU model and threads, total memory) through the
//! `sysinfo` crate, CPU sockets from sysfs, and looks at the powercap tree and NVML; it never
//! spawns a process.
//!
//! What is portable and what is Linux only (only Linux on x86-64 is built and tested here; nothing
//! is claimed for other systems):
//! - through sysinfo: the CPU model and thread count, total and available memory ([`cpuinfo`],
//!   [`ram`]), the OS string and the host name ([`host`]);
//! - Linux only, by nature: the socket count (sysfs topology, 1 elsewhere), RAPL ([`rapl`],
//!   powercap sysfs), the machine's CPU time from `/proc/stat` through a kept descriptor
//!   ([`kept_open`], [`cpu_load`], [`load_sampler`]) and a process tree's CPU time and memory
//!   ([`process`]). Those stay hand-written: sysinfo's CPU refresh keeps its previous reading
//!   within 200 ms of the last (a flush or a task's start right after a tick would be off) and
//!   costs more, and its process times leave out reaped children, at 60-130 times the cost here
//!   (`cargo bench --bench machine_facts`);
//! - NVML ([`nvml`], [`gpu`]) loads the NVIDIA library at run time where it exists; a shared
//!   GPU's energy is split between its processes by [`gpu_share`].

pub mod cpu_load;
pub mod cpuinfo;
pub mod counter;
pub mod gpu;
pub mod gpu_device;
pub mod gpu_share;
pub mod host;
pub mod kept_open;
pub mod load_sampler;
pub mod nvml;
pub mod process;
pub mod ram;
pub mod rapl;
pub mod source;
pub mod tdp;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;

use crate::config::{Config, TrackingMode};
use counter::{CounterDiff, Step};
use source::{ConstantPower, EnergySource, Interval, LoadModel, ProcessCpuTime, ProcessInterval, ProcessShareOfBusy, ResidentShare};

use crate::log::Logger;

/// How CPU energy is obtained.
#[derive(Debug, Clone, PartialEq)]
pub enum CpuSource {
    /// Powercap RAPL counters.
    Rapl(Vec<rapl::Zone>),
    /// `P = tdp × (0.1 + 0.9 × load³)` from `/proc/stat`.
    Load { tdp_w: f64 },
    /// `P = tdp × 0.5` when load cannot be read.
    Constant { tdp_w: f64 },
}

/// The probed hardware, shared by all trackers with the same probe key.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwarePlan {
    /// The CPU model (brand) string, or "Unknown".
    pub cpu_model: String,
    pub cpu_count: usize,
    pub cpu_physical_count: usize,
    /// The `cpu_power.csv` row matched, if any.
    pub tdp_match: Option<tdp::TdpMatch>,
    pub cpu: CpuSource,
    pub ram_total_gib: f64,
    pub ram_power_w: f64,
    /// The tracked GPUs (selected by `gpu_ids` / `CUDA_VISIBLE_DEVICES`).
    pub gpus: Vec<gpu::Gpu>,
    /// `tracking_mode=process`: CPU and RAM numbers are this process tree's share.
    pub process_mode: bool,
    /// One line per device saying which model produced its numbers.
    pub methods: Vec<String>,
}

/// The options that change the probe result (docs/measuring.md).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeKey {
    tracking_mode: TrackingMode,
    force_cpu_power_bits: Option<u64>,
    force_ram_power_bits: Option<u64>,
    force_mode_cpu_load: bool,
    rapl_dir: PathBuf,
    rapl_include_dram: bool,
    rapl_prefer_psys: bool,
    gpu_ids: Option<Vec<String>>,
}

impl ProbeKey {
    pub fn of(c: &Config) -> ProbeKey {
        ProbeKey {
            tracking_mode: c.tracking_mode,
            force_cpu_power_bits: c.force_cpu_power_w.map(f64::to_bits),
            force_ram_power_bits: c.force_ram_power_w.map(f64::to_bits),
            force_mode_cpu_load: c.force_mode_cpu_load,
            rapl_dir: c.rapl_dir.clone(),
            rapl_include_dram: c.rapl_include_dram,
            rapl_prefer_psys: c.rapl_prefer_psys,
            gpu_ids: c.gpu_ids.clone(),
        }
    }
}

/// What probing reads from the system and NVML, separated so tests can supply their own.
#[derive(Clone)]
pub struct MachineFacts {
    pub cpu: cpuinfo::CpuInfo,
    pub mem: Option<ram::MemInfo>,
    pub proc_stat_readable: bool,
    pub arm: bool,
    /// All GPUs of the machine, or why there are none.
    pub gpus: Result<Vec<Arc<dyn gpu::GpuDevice>>, String>,
    /// A warning for each GPU that could not be opened (the others are measured).
    pub gpu_skipped: Vec<String>,
    /// `CUDA_VISIBLE_DEVICES` (else `ROCR_VISIBLE_DEVICES`), used when `gpu_ids` is not given.
    pub visible_devices: Option<String>,
}

impl MachineFacts {
    pub fn read() -> MachineFacts {
        let (gpus, gpu_skipped) = match nvml::devices() {
            Ok(d) => (Ok(d.opened), d.skipped),
            Err(why) => (Err(why), Vec::new()),
        };
        let (cpu, mem) = {
            let mut system = system();
            (cpuinfo::read_from(&mut system), ram::read_from(&mut system))
        };
        MachineFacts {
            gpus,
            gpu_skipped,
            cpu,
            mem,
            proc_stat_readable: cpu_load::read_proc_stat().is_some(),
            arm: ram::is_arm(),
            visible_devices: std::env::var("CUDA_VISIBLE_DEVICES").or_else(|_| std::env::var("ROCR_VISIBLE_DEVICES")).ok(),
        }
    }
}

/// The process's one sysinfo `System`, for the probe and the memory readings: its creation reads
/// the boot time (all of `/proc/stat` on Linux), so it is made once; each use refreshes only its
/// part.
pub fn system() -> std::sync::MutexGuard<'static, sysinfo::System> {
    static SYSTEM: Lazy<Mutex<sysinfo::System>> = Lazy::new(|| Mutex::new(sysinfo::System::new()));
    SYSTEM.lock().unwrap_or_else(|p| p.into_inner())
}

/// Makes trackers whose config has `config`'s probe key use `plan` instead of probing (for
/// tests and benchmarks that need a known machine).
#[cfg(any(test, feature = "test-hooks"))]
pub fn cache_plan(config: &Config, plan: HardwarePlan) {
    CACHE.lock().unwrap_or_else(|p| p.into_inner()).insert(ProbeKey::of(config), Arc::new(plan));
}

/// How many times the hardware was probed for `config`'s probe key in this process.
#[cfg(any(test, feature = "test-hooks"))]
pub fn probe_count(config: &Config) -> usize {
    PROBES.lock().unwrap_or_else(|p| p.into_inner()).get(&ProbeKey::of(config)).copied().unwrap_or(0)
}

#[cfg(any(test, feature = "test-hooks"))]
static PROBES: Lazy<Mutex<HashMap<ProbeKey, usize>>> = Lazy::new(|| Mutex::new(HashMap::new()));

static CACHE: Lazy<Mutex<HashMap<ProbeKey, Arc<HardwarePlan>>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// CPU models already reported as unknown in this process.
static UNKNOWN_CPUS_SAID: Lazy<Mutex<std::collections::HashSet<String>>> = Lazy::new(|| Mutex::new(std::collections::HashSet::new()));

/// The plan for `config`, probed at the first call with its key and reused afterwards.
pub fn plan_for(config: &Config, log: &Logger) -> Arc<HardwarePlan> {
    let key = ProbeKey::of(config);
    // Probing under the lock: concurrent first starts probe once, the others wait for it.
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = cache.get(&key) {
        return p.clone();
    }
    let plan = Arc::new(probe(config, &MachineFacts::read(), log));
    #[cfg(any(test, feature = "test-hooks"))]
    {
        *PROBES.lock().unwrap_or_else(|p| p.into_inner()).entry(key.clone()).or_default() += 1;
    }
    cache.insert(key, plan.clone());
    plan
}

/// The options the CPU probe reads.
struct CpuSettings<'a> {
    force_cpu_power_w: Option<f64>,
    force_mode_cpu_load: bool,
    rapl_dir: &'a std::path::Path,
    rapl_include_dram: bool,
    rapl_prefer_psys: bool,
}

impl CpuSettings<'_> {
    fn of(c: &Config) -> CpuSettings<'_> {
        CpuSettings {
            force_cpu_power_w: c.force_cpu_power_w,
            force_mode_cpu_load: c.force_mode_cpu_load,
            rapl_dir: &c.rapl_dir,
            rapl_include_dram: c.rapl_include_dram,
            rapl_prefer_psys: c.rapl_prefer_psys,
        }
    }
}

/// The options the RAM probe reads.
struct RamSettings {
    force_ram_power_w: Option<f64>,
}

/// The options the GPU probe reads.
struct GpuSettings<'a> {
    gpu_ids: Option<&'a [String]>,
}

/// Probes the hardware from `facts` and the powercap tree named in `config`: the CPU, RAM and
/// GPUs each from their own options; `methods` says which model gives each number.
pub fn probe(config: &Config, facts: &MachineFacts, log: &Logger) -> HardwarePlan {
    let mut methods = Vec::new();
    let (cpu, tdp_match) = probe_cpu(&CpuSettings::of(config), facts, log, &mut methods);
    let (ram_total_gib, ram_power_w) =
        probe_ram(&RamSettings { force_ram_power_w: config.force_ram_power_w }, facts, &mut methods);
    let gpus = probe_gpus(&GpuSettings { gpu_ids: config.gpu_ids.as_deref() }, facts, log, &mut methods);
    let process_mode = config.tracking_mode == TrackingMode::Process;
    if process_mode {
        methods.push(match &cpu {
            CpuSource::Rapl(_) => "process: CPU = RAPL energy x the process tree's share of busy CPU time".to_string(),
            _ => "process: CPU = TDP x the process tree's CPU time / threads (CodeCarbon's linear model)".to_string(),
        });
        methods.push("process: RAM = machine RAM power x the tree's resident memory / total memory".into());
    }
    for m in &methods {
        log.info(format!("Tracking method: {m}"));
    }
    HardwarePlan {
        gpus,
        process_mode,
        cpu_model: facts.cpu.model.clone().unwrap_or_else(|| "Unknown".to_string()),
        cpu_count: facts.cpu.threads.max(1),
        cpu_physical_count: facts.cpu.sockets.max(1),
        tdp_match,
        cpu,
        ram_total_gib,
        ram_power_w,
        methods,
    }
}

/// RAPL first unless a power or the load model is forced (CodeCarbon: force_cpu_power skips
/// RAPL); else the load model (or a constant power) from the TDP.
fn probe_cpu(
    c: &CpuSettings,
    facts: &MachineFacts,
    log: &Logger,
    methods: &mut Vec<String>,
) -> (CpuSource, Option<tdp::TdpMatch>) {
    let (threads, sockets) = (facts.cpu.threads.max(1), facts.cpu.sockets.max(1));
    log.debug(format!("CPU count: {threads} thread(s) in {sockets} physical CPU(s)"));
    if c.force_cpu_power_w.is_none() && !c.force_mode_cpu_load {
        match rapl::discover(c.rapl_dir, c.rapl_include_dram, c.rapl_prefer_psys) {
            rapl::Discovery::Zones(z) => {
                let names: Vec<_> = z.iter().map(|z| z.name.as_str()).collect();
                methods.push(format!("CPU: RAPL energy counters ({}) under {}", names.join(", "), c.rapl_dir.display()));
                return (CpuSource::Rapl(z), None);
            }
            rapl::Discovery::PermissionDenied(path) => log.warning(format!(
                "RAPL: permission denied reading {}. To measure CPU energy, grant read access, e.g. \
                 `sudo chmod -R a+r {}/*` (until reboot) or a udev rule; falling back to the TDP model.",
                path.display(),
                c.rapl_dir.display()
            )),
            rapl::Discovery::Unavailable(why) => log.debug(format!("RAPL not available: {why}")),
        }
    }
    let (tdp_w, tdp_match) = cpu_tdp_w(c.force_cpu_power_w, facts, log, methods);
    let cpu = if facts.proc_stat_readable {
        methods.push(format!("CPU: load model P = {tdp_w} W × (0.1 + 0.9 × load³), machine-wide load"));
        CpuSource::Load { tdp_w }
    } else {
        methods.push(format!("CPU: constant {} W (50 % of TDP), /proc/stat unreadable", tdp_w * 0.5));
        CpuSource::Constant { tdp_w }
    };
    (cpu, tdp_match)
}

/// The CPU's TDP: forced, from the table of CPU powers, or the default per thread.
fn cpu_tdp_w(
    forced_w: Option<f64>,
    facts: &MachineFacts,
    log: &Logger,
    methods: &mut Vec<String>,
) -> (f64, Option<tdp::TdpMatch>) {
    let (threads, sockets) = (facts.cpu.threads.max(1), facts.cpu.sockets.max(1));
    if let Some(w) = forced_w {
        methods.push(format!("CPU: forced power {w} W used as TDP"));
        return (w, None);
    }
    if let Some(m) = facts.cpu.model.as_deref().and_then(tdp::find) {
        methods.push(format!("CPU: TDP {} W of `{}` × {sockets} socket(s)", m.tdp_w, m.name));
        return (m.tdp_w * sockets as f64, Some(m));
    }
    let cpu_model = facts.cpu.model.clone().unwrap_or_else(|| "Unknown".to_string());
    let w = tdp::DEFAULT_POWER_PER_THREAD_W * threads as f64;
    let message = format!(
        "Your CPU, {cpu_model}, is not in the table of CPU powers (CodeCarbon's cpu_power.csv): \
         using the default of {} W per thread for its {threads} threads, {w} W. Set force_cpu_power \
         to its TDP in watts for a better estimate.",
        tdp::DEFAULT_POWER_PER_THREAD_W
    );
    // Said once per process and model (machine- and process-mode trackers probe apart).
    if UNKNOWN_CPUS_SAID.lock().unwrap_or_else(|p| p.into_inner()).insert(cpu_model) {
        log.warning(message);
    } else {
        log.debug(message);
    }
    methods.push(format!("CPU: unknown model, {} W per thread", tdp::DEFAULT_POWER_PER_THREAD_W));
    (w, None)
}

/// Total memory and its power: forced, or CodeCarbon's DIMM heuristic.
fn probe_ram(r: &RamSettings, facts: &MachineFacts, methods: &mut Vec<String>) -> (f64, f64) {
    let ram_total_gib = facts.mem.map(|m| m.total_gib).unwrap_or(0.0);
    let ram_power_w = match r.force_ram_power_w {
        Some(w) => {
            methods.push(format!("RAM: forced {w} W"));
            w
        }
        None => {
            let w = ram::power_w(ram_total_gib, facts.arm);
            methods.push(format!(
                "RAM: {w} W for {ram_total_gib:.2} GiB ({} DIMM heuristic)",
                ram::estimate_dimm_count(ram_total_gib)
            ));
            w
        }
    };
    (ram_total_gib, ram_power_w)
}

/// The tracked GPUs: `gpu_ids`, else `CUDA_VISIBLE_DEVICES`, else all of them.
fn probe_gpus(g: &GpuSettings, facts: &MachineFacts, log: &Logger, methods: &mut Vec<String>) -> Vec<gpu::Gpu> {
    for w in &facts.gpu_skipped {
        log.warning(w);
    }
    let ids = g.gpu_ids.map(<[String]>::to_vec).or_else(|| facts.visible_devices.as_deref().map(crate::config::parse_gpu_ids));
    let gpus = match &facts.gpus {
        Ok(all) => gpu::select(all, ids.as_deref(), log),
        Err(why) => {
            log.debug(format!("No NVIDIA GPU: {why}"));
            Vec::new()
        }
    };
    for g in &gpus {
        methods.push(if g.has_energy_counter {
            format!("GPU {} ({}): NVML total-energy counter", g.index, g.name)
        } else {
            format!("GPU {} ({}): NVML power integrated about once a second (no energy counter)", g.index, g.name)
        });
    }
    gpus
}

/// One measurement interval's worth of readings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    pub cpu_energy_kwh: f64,
    pub ram_energy_kwh: f64,
    pub gpu_energy_kwh: f64,
    /// Machine-wide CPU use over the interval, if it could be read.
    pub cpu_utilization_percent: Option<f64>,
    /// Mean use of the tracked GPUs over the interval.
    pub gpu_utilization_percent: Option<f64>,
    pub ram: Option<ram::MemInfo>,
    /// Machine mode with [`Meters::with_process_share`]: this process tree's share of the
    /// machine-wide CPU and RAM energy of the interval (what a rank of a job that does not
    /// count the node counts instead).
    pub process_share: Option<ProcessShare>,
}

/// A process tree's share of one interval's machine-wide CPU and RAM energy, kWh.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessShare {
    pub cpu_energy_kwh: f64,
    pub ram_energy_kwh: f64,
}

/// A tracker's own readers over a shared plan: one energy source per device kind, chosen once
/// at start (process mode wraps the machine-wide ones), and its last reading of the
/// process-wide load integrals.
pub struct Meters {
    plan: Arc<HardwarePlan>,
    cpu: Box<dyn EnergySource>,
    ram: Box<dyn EnergySource>,
    gpu: gpu::GpuMeter,
    /// Process mode: the tree's CPU-time counter (ticks).
    process_ticks: Option<CounterDiff>,
    /// Which processes make the tree.
    tree: process::Tree,
    last_load: load_sampler::LoadIntegrals,
    _load_sampling: load_sampler::Subscription,
}

fn cpu_source(plan: &HardwarePlan) -> Box<dyn EnergySource> {
    let threads = plan.cpu_count.max(1) as f64;
    match (&plan.cpu, plan.process_mode) {
        (CpuSource::Rapl(z), false) => Box::new(rapl::RaplMeter::start(z)),
        (CpuSource::Rapl(z), true) => Box::new(ProcessShareOfBusy { machine: rapl::RaplMeter::start(z), threads }),
        (CpuSource::Load { tdp_w }, false) => Box::new(LoadModel { tdp_w: *tdp_w }),
        (CpuSource::Load { tdp_w }, true) => Box::new(ProcessCpuTime { tdp_w: *tdp_w, scale: 1.0, threads }),
        (CpuSource::Constant { tdp_w }, false) => Box::new(ConstantPower { power_w: tdp_w * 0.5 }),
        (CpuSource::Constant { tdp_w }, true) => Box::new(ProcessCpuTime { tdp_w: *tdp_w, scale: 0.5, threads }),
    }
}

fn ram_source(plan: &HardwarePlan) -> Box<dyn EnergySource> {
    let machine = ConstantPower { power_w: plan.ram_power_w };
    if plan.process_mode {
        Box::new(ResidentShare { machine, total_bytes: plan.ram_total_gib * (1u64 << 30) as f64 })
    } else {
        Box::new(machine)
    }
}

/// The process tree's CPU-time counter, started: it cannot go up faster than every thread of
/// the machine busy.
fn tree_ticks(plan: &HardwarePlan, tree: process::Tree) -> CounterDiff {
    let mut c = CounterDiff::keeping_highest().with_max_per_s(plan.cpu_count.max(1) as f64 * process::ticks_per_s());
    c.step(tree.usage().ticks, 0.0);
    c
}

impl Meters {
    /// Reads the starting counters. `measure_every_s`: the tracker's own measurement period
    /// (the shared 1 Hz load sampler only runs for trackers slower than that).
    pub fn start(plan: Arc<HardwarePlan>, measure_every_s: f64) -> Meters {
        let _load_sampling = load_sampler::Subscription::new(measure_every_s);
        let process_ticks = plan.process_mode.then(|| tree_ticks(&plan, process::Tree::default()));
        Meters {
            cpu: cpu_source(&plan),
            ram: ram_source(&plan),
            gpu: gpu::GpuMeter::start(&plan.gpus),
            process_ticks,
            tree: process::Tree::default(),
            last_load: load_sampler::read_now(),
            _load_sampling,
            plan,
        }
    }

    pub fn plan(&self) -> &Arc<HardwarePlan> {
        &self.plan
    }

    /// Counts `tree` as the process tree from now on (process mode, or a job's share).
    pub fn with_tree(mut self, tree: process::Tree) -> Meters {
        if tree == self.tree {
            return self; // its counter started at `start`: no second reading
        }
        self.tree = tree;
        if let Some(c) = &mut self.process_ticks {
            *c = tree_ticks(&self.plan, tree);
        }
        self
    }

    /// Machine mode: each sample also carries this process tree's share of the machine-wide
    /// CPU energy (by its share of busy CPU time) and RAM energy (by resident memory).
    pub fn with_process_share(mut self) -> Meters {
        if self.process_ticks.is_none() {
            self.process_ticks = Some(tree_ticks(&self.plan, self.tree));
        }
        self
    }

    /// `gpu_share=split`: each GPU's energy is split between the processes on it; in process
    /// mode the GPU energy is this tree's part, in machine mode it stays the device's and the
    /// part is in [`Meters::gpu_intervals`] for a job's node share. Call after [`Meters::with_tree`].
    pub fn with_gpu_split(mut self) -> Meters {
        self.gpu.split_for(self.tree, self.plan.process_mode);
        self
    }

    /// Each tracked GPU's last split (`gpu_share=split`), in the order of `plan().gpus`.
    pub fn gpu_splits(&self) -> impl Iterator<Item = Option<&gpu_share::Split>> + '_ {
        self.gpu.splits()
    }

    /// The UUIDs of the tracked GPUs still measured (not lost).
    pub fn gpus_counted(&self) -> impl Iterator<Item = &str> {
        self.plan.gpus.iter().zip(self.gpu.intervals()).filter(|(_, iv)| !iv.lost).map(|(g, _)| g.uuid.as_str())
    }

    /// Each tracked GPU's part of the last measurement, in the order of `plan().gpus`.
    pub fn gpu_intervals(&self) -> impl Iterator<Item = gpu::DeviceInterval> + '_ {
        self.gpu.intervals()
    }

    /// Energy of each device over the last `dt_s` seconds (the time since the previous call);
    /// `last`: the tracker's final measurement.
    pub fn measure(&mut self, dt_s: f64, last: bool, log: &Logger) -> Sample {
        let load_now = load_sampler::read_now();
        let load_before = std::mem::replace(&mut self.last_load, load_now);
        let process = self.process_ticks.as_mut().map(|ticks| {
            let now = self.tree.usage();
            // A tree that lost a member (its time went with it) counts nothing for it.
            let step = ticks.step(now.ticks, dt_s);
            if let Step::Rejected(glitch) = step {
                if ticks.worth_a_warning() {
                    log.warning(format!("the process tree's CPU time {glitch} (clock ticks); not credited"));
                }
            }
            let used = step.counted();
            ProcessInterval { cpu_s: used as f64 / process::ticks_per_s(), rss_bytes: now.rss_bytes }
        });
        let iv = Interval { dt_s, load_before, load_now, process, last };
        let gpu = self.gpu.measure(&iv, log);
        let cpu_energy_kwh = self.cpu.energy_kwh(&iv, log);
        let ram_energy_kwh = self.ram.energy_kwh(&iv, log);
        // Machine mode in a job: the same shares that process mode uses, of the machine's energy.
        let process_share = (!self.plan.process_mode && iv.process.is_some()).then(|| ProcessShare {
            cpu_energy_kwh: cpu_energy_kwh * source::busy_time_share(&iv, self.plan.cpu_count.max(1) as f64),
            ram_energy_kwh: ram_energy_kwh * source::resident_share(&iv, self.plan.ram_total_gib * (1u64 << 30) as f64),
        });
        Sample {
            cpu_energy_kwh,
            ram_energy_kwh,
            process_share,
            gpu_energy_kwh: gpu.energy_kwh,
            cpu_utilization_percent: load_now.utilization_percent_since(&load_before),
            gpu_utilization_percent: gpu.utilization_percent,
            ram: ram::meminfo_recent(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn facts(model: Option<&str>, threads: usize, sockets: usize, gib: f64) -> MachineFacts {
        MachineFacts {
            cpu: cpuinfo::CpuInfo { model: model.map(str::to_string), threads, sockets },
            mem: Some(ram::MemInfo { total_gib: gib, available_gib: gib / 2.0 }),
            proc_stat_readable: true,
            arm: false,
            gpus: Err("no GPU in this test".into()),
            gpu_skipped: Vec::new(),
            visible_devices: None,
        }
    }

    fn cfg(rapl_dir: &std::path::Path) -> Config {
        Config { rapl_dir: rapl_dir.to_path_buf(), ..Config::default() }
    }

    fn quiet() -> Logger {
        Logger { threshold: crate::log::Level::Critical, preamble: String::new() }
    }

    #[test]
    fn this_vm_unknown_epyc_uses_4w_per_thread_and_dimm_ram() {
        let p = probe(&cfg("/nonexistent".as_ref()), &facts(Some("AMD EPYC"), 2, 1, 23.54), &quiet());
        assert_eq!(p.cpu, CpuSource::Load { tdp_w: 8.0 });
        assert_eq!(p.ram_power_w, 20.0);
        assert_eq!(p.cpu_model, "AMD EPYC");
        assert!(p.tdp_match.is_none());
    }

    #[test]
    fn known_model_times_sockets_unknown_not_doubled() {
        let p = probe(&cfg("/nonexistent".as_ref()), &facts(Some("AMD EPYC 7513 32-Core Processor"), 128, 2, 256.0), &quiet());
        assert_eq!(p.cpu, CpuSource::Load { tdp_w: 400.0 });
        assert_eq!(p.ram_power_w, 38.0);
        // Unknown multi-socket: threads are machine-wide already (CodeCarbon's bug not copied: docs/differences.md).
        let p = probe(&cfg("/nonexistent".as_ref()), &facts(Some("Mystery"), 64, 2, 8.0), &quiet());
        assert_eq!(p.cpu, CpuSource::Load { tdp_w: 256.0 });
    }

    #[test]
    fn forced_values_and_constant_mode() {
        let mut c = cfg("/nonexistent".as_ref());
        c.force_cpu_power_w = Some(65.0);
        c.force_ram_power_w = Some(3.0);
        let mut f = facts(None, 4, 1, 8.0);
        f.proc_stat_readable = false;
        let p = probe(&c, &f, &quiet());
        assert_eq!(p.cpu, CpuSource::Constant { tdp_w: 65.0 });
        assert_eq!(p.ram_power_w, 3.0);
        assert_eq!(p.cpu_model, "Unknown");
    }

    #[test]
    fn rapl_preferred_when_readable_and_skipped_when_forced() {
        let t = tempfile::tempdir().unwrap();
        rapl::fake::zone(t.path(), "intel-rapl:0", "package-0", 0, 1 << 40);
        let c = cfg(t.path());
        let p = probe(&c, &facts(Some("AMD EPYC"), 2, 1, 8.0), &quiet());
        assert!(matches!(p.cpu, CpuSource::Rapl(ref z) if z.len() == 1));
        let mut forced = c.clone();
        forced.force_mode_cpu_load = true;
        assert!(matches!(probe(&forced, &facts(Some("AMD EPYC"), 2, 1, 8.0), &quiet()).cpu, CpuSource::Load { .. }));
    }

    #[test]
    fn rapl_meter_energy_in_kwh() {
        let t = tempfile::tempdir().unwrap();
        rapl::fake::zone(t.path(), "intel-rapl:0", "package-0", 1_000_000, 1 << 40);
        let p = Arc::new(probe(&cfg(t.path()), &facts(Some("x"), 1, 1, 8.0), &quiet()));
        let mut m = Meters::start(p, 15.0);
        rapl::fake::set(t.path(), "intel-rapl:0", 1_000_000 + 3_600_000_000); // 3600 J = 1 Wh
        let s = m.measure(1.0, false, &quiet());
        assert!((s.cpu_energy_kwh - 0.001).abs() < 1e-15, "{}", s.cpu_energy_kwh);
        assert!((s.ram_energy_kwh - 10.0 / 3.6e6).abs() < 1e-18);
    }

    #[test]
    fn process_mode_counts_only_this_process_tree() {
        let t = tempfile::tempdir().unwrap();
        let mut c = cfg(t.path());
        c.tracking_mode = TrackingMode::Process;
        c.force_cpu_power_w = Some(100.0); // the load model with a 100 W TDP
        // At least this machine's CPUs: the process never uses more than all of them.
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get()).max(4);
        let p = Arc::new(probe(&c, &facts(Some("x"), threads, 1, 16.0), &quiet()));
        assert!(p.process_mode && p.methods.iter().any(|m| m.starts_with("process: CPU")));
        let mut m = Meters::start(p, 15.0);
        let start = std::time::Instant::now();
        process::tests::busy_for_cpu_s(0.4);
        let wall = start.elapsed().as_secs_f64();
        let s = m.measure(wall, false, &quiet());
        // Our 0.4 CPU-seconds at 100 W over `threads` threads (10 J on 4: the floor-free linear model), less
        // up to 2 ticks of the process's tick-granular times; other tests' threads in this
        // process add to it, but never past all threads busy (100 W).
        let joules = s.cpu_energy_kwh * 3.6e6;
        let least = (0.4 - 2.0 / process::ticks_per_s()) * 100.0 / threads as f64;
        assert!(joules >= least - 1e-9 && joules <= 100.0 * wall * 1.05, "{joules} J in {wall} s (at least {least} J)");
        // RAM: 10 W for 16 GiB, times this process's tiny share of it.
        let ram_w = s.ram_energy_kwh * 3.6e6 / wall;
        assert!(ram_w > 0.0 && ram_w < 1.0, "{ram_w} W");
    }

    #[test]
    fn cache_probes_once_per_key() {
        let t = tempfile::tempdir().unwrap();
        let c = cfg(t.path());
        let a = plan_for(&c, &quiet());
        let b = plan_for(&c, &quiet());
        assert!(Arc::ptr_eq(&a, &b));
        let mut other = c.clone();
        other.force_ram_power_w = Some(1.0);
        assert!(!Arc::ptr_eq(&a, &plan_for(&other, &quiet())));
    }
}

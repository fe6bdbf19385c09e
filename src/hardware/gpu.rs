//! GPUs: which ones are tracked, and their energy.
//!
//! Energy comes from each device's total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`,
//! mJ since driver load), read at start, at every measurement and at stop. Where the counter is
//! not supported (pre-Volta, some vGPUs) the power (`nvmlDeviceGetPowerUsage`) is integrated by
//! one process-wide sampler on the background runtime (~1 Hz, trapezoids), so a GPU that drew
//! power never reports 0 kWh (CodeCarbon #1316). The same sampler averages utilisation.
//! A device lost mid-run keeps the energy counted so far and is then left out (one warning).
//! With `gpu_share=split` each device's energy of an interval is also split between the processes
//! running on it ([`super::gpu_share`]) and the tracker's part is kept beside it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use super::counter::{CounterDiff, Step};
pub use super::gpu_device::{GpuDevice, GpuError};
use super::gpu_share::{DeviceShare, Split};
use super::process;
use super::source::{EnergySource, Interval};
use crate::log::Logger;

/// What a GPU can draw when it does not say: no GPU comes near 2 kW.
const DEFAULT_MAX_POWER_W: f64 = 2000.0;

/// A tracked GPU.
#[derive(Clone)]
pub struct Gpu {
    pub index: u32,
    pub name: String,
    pub uuid: String,
    /// Whether the energy counter works (else power is integrated).
    pub has_energy_counter: bool,
    /// The MIG instances through which this process sees the GPU (`gpu_ids` or
    /// `CUDA_VISIBLE_DEVICES` naming them); empty when it sees the whole GPU. Energy is only
    /// measurable per physical GPU: seeing one of its instances means counting the GPU.
    pub mig_uuids: Vec<String>,
    /// Its highest power limit (or 2 kW when it does not say), W: the physical maximum of its
    /// energy counter's steps.
    pub max_power_w: f64,
    pub device: Arc<dyn GpuDevice>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({} {} {}, counter: {})", self.index, self.name, self.uuid, self.has_energy_counter)
    }
}

impl Gpu {
    /// The physical maximum of its energy counter's steps, mJ/s: twice its highest power limit
    /// (limits are averages over windows; bursts go above them). 1 mW = 1 mJ/s.
    pub fn counter_max_mj_per_s(&self) -> f64 {
        2.0 * self.max_power_w * 1000.0
    }
}

impl PartialEq for Gpu {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}

/// The device an id names, and the MIG instance when it names one: an NVML index, a GPU UUID
/// prefix (with or without `GPU-`), a MIG instance's UUID (`MIG-<uuid>`, or a prefix of it) or
/// the older MIG form `MIG-GPU-<uuid>/<gi>/<ci>`, which names its GPU.
fn find<'a>(devices: &'a [Arc<dyn GpuDevice>], id: &str) -> Option<(&'a Arc<dyn GpuDevice>, Option<String>)> {
    if let Ok(i) = id.parse::<u32>() {
        return devices.iter().find(|d| d.index() == i).map(|d| (d, None));
    }
    let gpu_prefix = |want: &str| {
        let want = want.strip_prefix("GPU-").unwrap_or(want);
        devices.iter().find(|d| {
            let u = d.uuid();
            !want.is_empty() && u.strip_prefix("GPU-").unwrap_or(&u).starts_with(want)
        })
    };
    match id.strip_prefix("MIG-") {
        Some(old) if old.starts_with("GPU-") => gpu_prefix(old.split('/').next().unwrap_or(old)).map(|d| (d, Some(id.to_string()))),
        Some(mig) if !mig.is_empty() => devices.iter().find_map(|d| {
            let m = d.mig_uuids().into_iter().find(|u| u.strip_prefix("MIG-").unwrap_or(u).starts_with(mig))?;
            Some((d, Some(m)))
        }),
        Some(_) => None,
        None => gpu_prefix(id.split('/').next().unwrap_or(id)).map(|d| (d, None)),
    }
}

/// The devices named by `ids` (all when `None`); unknown ids are reported, not fatal.
pub fn select(devices: &[Arc<dyn GpuDevice>], ids: Option<&[String]>, log: &Logger) -> Vec<Gpu> {
    let describe = |d: &Arc<dyn GpuDevice>| Gpu {
        index: d.index(),
        name: d.name(),
        uuid: d.uuid(),
        has_energy_counter: d.total_energy_mj().is_ok(),
        mig_uuids: Vec::new(),
        max_power_w: d.max_power_mw().filter(|mw| *mw > 0).map_or(DEFAULT_MAX_POWER_W, |mw| mw as f64 / 1000.0),
        device: d.clone(),
    };
    let Some(ids) = ids else { return devices.iter().map(describe).collect() };
    let mut chosen: Vec<Gpu> = Vec::new();
    for id in ids {
        match find(devices, id) {
            Some((d, mig)) => {
                let i = match chosen.iter().position(|g| g.index == d.index()) {
                    Some(i) => i,
                    None => {
                        chosen.push(describe(d));
                        chosen.len() - 1
                    }
                };
                if let Some(m) = mig.filter(|m| !chosen[i].mig_uuids.contains(m)) {
                    chosen[i].mig_uuids.push(m);
                }
            }
            None => log.warning(format!("GPU id `{id}` matches no device; ignored")),
        }
    }
    chosen
}

/// CodeCarbon's `gpu_model`, with a separator between models (docs/differences.md): "2 x A100, 1 x T4".
pub fn model_summary(gpus: &[Gpu]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for g in gpus {
        match counts.iter_mut().find(|(n, _)| *n == g.name) {
            Some((_, c)) => *c += 1,
            None => counts.push((g.name.clone(), 1)),
        }
    }
    counts.iter().map(|(n, c)| format!("{c} x {n}")).collect::<Vec<_>>().join(", ")
}

// ---- the process-wide sampler: power integration and utilisation ----

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeviceIntegrals {
    /// ∫ power dt, J (meaningful for devices without an energy counter).
    pub energy_j: f64,
    /// ∫ utilisation dt, %·s, and the time it covers.
    pub util_pct_s: f64,
    pub util_s: f64,
}

#[derive(Default)]
struct DeviceSampler {
    last: Option<(f64, Option<f64>, Option<f64>)>, // (t, power W, util %)
    acc: DeviceIntegrals,
}

impl DeviceSampler {
    fn advance(&mut self, t: f64, power_w: Option<f64>, util: Option<f64>) -> DeviceIntegrals {
        if let Some((t0, p0, u0)) = self.last {
            let dt = (t - t0).max(0.0);
            if let (Some(a), Some(b)) = (p0, power_w) {
                self.acc.energy_j += (a + b) / 2.0 * dt;
            }
            if let (Some(a), Some(b)) = (u0, util) {
                self.acc.util_pct_s += (a + b) / 2.0 * dt;
                self.acc.util_s += dt;
            }
        }
        self.last = Some((t, power_w, util));
        self.acc
    }
}

static EPOCH: Lazy<Instant> = Lazy::new(Instant::now);
static SAMPLERS: Lazy<Mutex<HashMap<String, DeviceSampler>>> = Lazy::new(|| Mutex::new(HashMap::new()));
static SUBSCRIBED: Lazy<Mutex<Vec<Gpu>>> = Lazy::new(|| Mutex::new(Vec::new()));
static SUBSCRIBERS: AtomicUsize = AtomicUsize::new(0);

/// Samples `gpu` now and returns its integrals.
pub fn sample(gpu: &Gpu) -> DeviceIntegrals {
    let t = EPOCH.elapsed().as_secs_f64();
    let power = if gpu.has_energy_counter { None } else { gpu.device.power_mw().ok().map(|mw| mw as f64 / 1000.0) };
    let util = gpu.device.utilization_percent().ok().map(|u| u as f64);
    let mut all = SAMPLERS.lock().unwrap_or_else(|p| p.into_inner());
    all.entry(gpu.uuid.clone()).or_default().advance(t, power, util)
}

/// Keeps the 1 Hz GPU sampling running for these devices while alive.
pub struct Subscription(Vec<String>);

impl Subscription {
    pub fn new(gpus: &[Gpu]) -> Subscription {
        if gpus.is_empty() {
            return Subscription(Vec::new());
        }
        SUBSCRIBED.lock().unwrap_or_else(|p| p.into_inner()).extend(gpus.iter().cloned());
        if SUBSCRIBERS.fetch_add(1, Ordering::SeqCst) == 0 {
            crate::background::spawn_periodic(Duration::from_secs(1), || {
                if SUBSCRIBERS.load(Ordering::SeqCst) == 0 {
                    return false;
                }
                let gpus = SUBSCRIBED.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let mut seen: Vec<&str> = Vec::new();
                for g in &gpus {
                    if !seen.contains(&g.uuid.as_str()) {
                        seen.push(&g.uuid);
                        sample(g);
                    }
                }
                true
            });
        }
        Subscription(gpus.iter().map(|g| g.uuid.clone()).collect())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let mut subs = SUBSCRIBED.lock().unwrap_or_else(|p| p.into_inner());
        for uuid in &self.0 {
            if let Some(i) = subs.iter().position(|g| &g.uuid == uuid) {
                subs.remove(i);
            }
        }
        SUBSCRIBERS.fetch_sub(1, Ordering::SeqCst);
    }
}

// ---- a tracker's meter ----

/// One tracked GPU's energy since the previous reading: its total-energy counter (NVML counter
/// source) or the process-wide sampler's power integral (NVML power-integration source).
struct DeviceMeter {
    gpu: Gpu,
    /// `Some` for devices with an energy counter.
    counter: Option<CounterDiff>,
    last_integrals: DeviceIntegrals,
    /// Utilisation integral (%·s, s) of the last interval.
    util: (f64, f64),
    /// What the last interval gave (see [`DeviceInterval`]).
    interval: DeviceInterval,
    /// `gpu_share=split`: the split state, and the last interval's split.
    share: Option<DeviceShare>,
    last_split: Option<Split>,
}

/// One device's part of the last measurement, for coordination between processes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DeviceInterval {
    /// Its energy over the interval, J.
    pub energy_j: f64,
    /// Its energy counter's reading at the end of the interval, mJ, when it was read and
    /// accepted (no glitch): all processes of the node read the same counter.
    pub counter_mj: Option<u64>,
    /// It was lost (fell off the bus): nothing more is measured of it.
    pub lost: bool,
    /// `gpu_share=split`: this process tree's part of `energy_j` (docs/gpu-sharing.md); `None`
    /// when not split (the option, or NVML lists no process).
    pub own_j: Option<f64>,
}

impl DeviceMeter {
    fn start(gpu: &Gpu) -> DeviceMeter {
        let mut interval = DeviceInterval::default();
        let counter = gpu.has_energy_counter.then(|| {
            // mJ since driver load: goes back only on a reset.
            let mut c = CounterDiff::new(0).with_max_per_s(gpu.counter_max_mj_per_s());
            if let Ok(mj) = gpu.device.total_energy_mj() {
                c.step(mj, 0.0);
                interval.counter_mj = Some(mj);
            }
            c
        });
        DeviceMeter { gpu: gpu.clone(), counter, last_integrals: sample(gpu), util: (0.0, 0.0), interval, share: None, last_split: None }
    }

    fn lose(&mut self, log: &Logger) {
        self.interval.lost = true;
        log.warning(format!("GPU {} ({}, {}) was lost: its energy so far is kept, the rest is not measured", self.gpu.index, self.gpu.name, self.gpu.uuid));
    }

    /// Joules of the counter since its previous reading (0 for a glitch, held back).
    fn counter_joules(&mut self, dt_s: f64, log: &Logger) -> f64 {
        let g = &self.gpu;
        let Some(counter) = &mut self.counter else { return 0.0 };
        match g.device.total_energy_mj() {
            Ok(now) => {
                let step = counter.step(now, dt_s);
                if let Step::Rejected(glitch) = step {
                    if counter.worth_a_warning() {
                        log.warning(format!("GPU {} ({}): its energy counter {glitch} (mJ); not credited", g.index, g.uuid));
                    }
                } else {
                    self.interval.counter_mj = Some(now);
                }
                step.counted() as f64 / 1000.0
            }
            Err(GpuError::Lost) => {
                self.lose(log);
                0.0
            }
            Err(e) => {
                counter.missed(dt_s);
                log.debug(format!("GPU {} energy read failed: {e:?}; counted at the next read", g.index));
                0.0
            }
        }
    }
}

impl DeviceMeter {
    /// Splits the last interval's energy (`gpu_share=split`); this tree's part, J, or `None`
    /// when NVML lists no process (the device's energy stays whole).
    fn split(&mut self, dt_s: f64, tree: process::Tree) -> Option<f64> {
        let share = self.share.as_mut()?;
        if self.interval.lost {
            return None;
        }
        let view = share.view(&*self.gpu.device).ok()?;
        let s = share.split(self.interval.energy_j, dt_s, &view);
        debug_assert!((s.total_j() - s.device_j).abs() <= 1e-9 * s.device_j.max(1.0), "{s:?}");
        let own = (s.method != super::gpu_share::Method::NotSplit).then(|| s.of(|p| tree.contains(p)));
        self.interval.own_j = own;
        self.last_split = Some(s);
        own
    }
}

impl EnergySource for DeviceMeter {
    fn energy_kwh(&mut self, iv: &Interval, log: &Logger) -> f64 {
        self.util = (0.0, 0.0);
        self.interval.energy_j = 0.0;
        self.interval.counter_mj = None;
        self.interval.own_j = None;
        if self.interval.lost {
            return 0.0;
        }
        let integrals = sample(&self.gpu);
        let prev = std::mem::replace(&mut self.last_integrals, integrals);
        self.util = (integrals.util_pct_s - prev.util_pct_s, integrals.util_s - prev.util_s);
        let joules = if self.counter.is_some() {
            self.counter_joules(iv.dt_s, log)
        } else {
            if matches!(self.gpu.device.power_mw(), Err(GpuError::Lost)) {
                self.lose(log);
            }
            integrals.energy_j - prev.energy_j
        };
        self.interval.energy_j = joules;
        joules / 3.6e6
    }
}

/// Per-tracker readings of the tracked GPUs.
pub struct GpuMeter {
    devices: Vec<DeviceMeter>,
    /// `gpu_share=split`: whose part is this tracker's, and whether its energy is that part
    /// (process mode) or the whole device (machine mode, the part going to the node's share).
    split: Option<SplitFor>,
    _sampling: Subscription,
}

#[derive(Debug, Clone, Copy)]
struct SplitFor {
    tree: process::Tree,
    report_own: bool,
}

/// One interval of all tracked GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GpuReading {
    pub energy_kwh: f64,
    pub utilization_percent: Option<f64>,
}

impl GpuMeter {
    pub fn start(gpus: &[Gpu]) -> GpuMeter {
        let sampling = Subscription::new(gpus);
        GpuMeter { devices: gpus.iter().map(DeviceMeter::start).collect(), split: None, _sampling: sampling }
    }

    /// Splits each device between the processes on it (docs/gpu-sharing.md): `tree`'s part is
    /// this tracker's; `report_own`: the energy measured is that part instead of the device's.
    pub fn split_for(&mut self, tree: process::Tree, report_own: bool) {
        self.split = Some(SplitFor { tree, report_own });
        for d in &mut self.devices {
            d.share = Some(DeviceShare::start(&*d.gpu.device, d.gpu.max_power_w));
        }
    }

    pub fn measure(&mut self, iv: &Interval, log: &Logger) -> GpuReading {
        let device_kwh: Vec<f64> = self.devices.iter_mut().map(|d| d.energy_kwh(iv, log)).collect();
        let mut energy_kwh: f64 = device_kwh.iter().sum();
        if let Some(split) = self.split {
            let mut own_kwh = 0.0;
            for (d, kwh) in self.devices.iter_mut().zip(&device_kwh) {
                own_kwh += d.split(iv.dt_s, split.tree).map_or(*kwh, |j| j / 3.6e6);
            }
            if split.report_own {
                energy_kwh = own_kwh;
            }
        }
        let (util_pct_s, util_s) = self.devices.iter().fold((0.0, 0.0), |(a, b), d| (a + d.util.0, b + d.util.1));
        GpuReading {
            energy_kwh,
            // Mean over devices and time.
            utilization_percent: (util_s > 0.0).then(|| util_pct_s / util_s),
        }
    }

    /// Each tracked GPU's last split (`gpu_share=split`), in the plan's order.
    pub fn splits(&self) -> impl Iterator<Item = Option<&Split>> + '_ {
        self.devices.iter().map(|d| d.last_split.as_ref())
    }

    /// Each tracked GPU's part of the last measurement, in the plan's order.
    pub fn intervals(&self) -> impl Iterator<Item = DeviceInterval> + '_ {
        self.devices.iter().map(|d| d.interval)
    }
}

#[cfg(test)]
pub mod fake {
    //! Fake GPUs for tests: counters and powers that tests move by hand.
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

    pub struct FakeGpu {
        pub index: u32,
        pub uuid: String,
        pub counter_supported: bool,
        pub energy_mj: AtomicU64,
        pub power_mw: AtomicU32,
        pub util: AtomicU32,
        pub lost: AtomicBool,
    }

    impl FakeGpu {
        pub fn new(index: u32, uuid: &str, counter_supported: bool) -> Arc<FakeGpu> {
            Arc::new(FakeGpu {
                index,
                uuid: uuid.into(),
                counter_supported,
                energy_mj: AtomicU64::new(1_000_000),
                power_mw: AtomicU32::new(0),
                util: AtomicU32::new(0),
                lost: AtomicBool::new(false),
            })
        }
    }

    impl GpuDevice for FakeGpu {
        fn index(&self) -> u32 {
            self.index
        }
        fn name(&self) -> String {
            "Fake GPU 80GB".into()
        }
        fn uuid(&self) -> String {
            self.uuid.clone()
        }
        fn total_energy_mj(&self) -> Result<u64, GpuError> {
            if self.lost.load(Ordering::SeqCst) {
                Err(GpuError::Lost)
            } else if !self.counter_supported {
                Err(GpuError::NotSupported)
            } else {
                Ok(self.energy_mj.load(Ordering::SeqCst))
            }
        }
        fn power_mw(&self) -> Result<u32, GpuError> {
            if self.lost.load(Ordering::SeqCst) {
                return Err(GpuError::Lost);
            }
            Ok(self.power_mw.load(Ordering::SeqCst))
        }
        fn utilization_percent(&self) -> Result<u32, GpuError> {
            if self.lost.load(Ordering::SeqCst) {
                return Err(GpuError::Lost);
            }
            Ok(self.util.load(Ordering::SeqCst))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeGpu;
    use super::*;

    fn quiet() -> Logger {
        Logger { threshold: crate::log::Level::Critical, preamble: String::new() }
    }

    fn devices() -> Vec<Arc<dyn GpuDevice>> {
        vec![
            FakeGpu::new(0, "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6", true),
            FakeGpu::new(1, "GPU-aaaa1111-0000-0000-0000-000000000000", true),
        ]
    }

    #[test]
    fn ids_indices_uuid_prefixes_and_mig() {
        let d = devices();
        let pick = |s: &str| select(&d, Some(&crate::config::parse_gpu_ids(s)), &quiet()).iter().map(|g| g.index).collect::<Vec<_>>();
        assert_eq!(pick("1"), vec![1]);
        assert_eq!(pick("0,1,0"), vec![0, 1]);
        assert_eq!(pick("GPU-8932f937"), vec![0]);
        assert_eq!(pick("aaaa1111"), vec![1]);
        assert_eq!(pick("MIG-GPU-8932f937-d72c-4106-c12f-20bd9faed9f6/1/0"), vec![0]);
        assert_eq!(pick("7, nonsense, "), Vec::<u32>::new()); // ignored with a warning, no crash
        assert_eq!(select(&d, None, &quiet()).len(), 2);
    }

    #[test]
    fn model_summary_has_separators() {
        let d = devices();
        let gpus = select(&d, None, &quiet());
        assert_eq!(model_summary(&gpus), "2 x Fake GPU 80GB");
        assert_eq!(model_summary(&[]), "");
    }

    fn seconds(dt_s: f64) -> Interval {
        Interval { dt_s, ..Interval::default() }
    }

    #[test]
    fn counter_deltas_reset_glitch_and_loss() {
        let g = FakeGpu::new(5, "GPU-counter-test", true);
        let dev: Arc<dyn GpuDevice> = g.clone();
        let gpus = select(&[dev], None, &quiet());
        assert_eq!(gpus[0].max_power_w, DEFAULT_MAX_POWER_W);
        let mut m = GpuMeter::start(&gpus);
        g.energy_mj.fetch_add(3_600_000, Ordering::SeqCst); // 3600 J = 1 Wh in 10 s
        assert!((m.measure(&seconds(10.0), &quiet()).energy_kwh - 0.001).abs() < 1e-15);
        assert_eq!(m.intervals().next().unwrap().counter_mj, Some(4_600_000));
        // Driver reload: the counter restarts. Held one reading, then counted since the restart.
        g.energy_mj.store(7_200, Ordering::SeqCst);
        assert_eq!(m.measure(&seconds(1.0), &quiet()).energy_kwh, 0.0);
        assert_eq!(m.intervals().next().unwrap().counter_mj, None, "a held reading is no reference for other processes");
        g.energy_mj.store(10_800, Ordering::SeqCst);
        assert!((m.measure(&seconds(1.0), &quiet()).energy_kwh - 10.8 / 3.6e6).abs() < 1e-18);
        // A reading 100 MJ ahead (more than 2 x 2 kW for 1 s) is a glitch: not credited.
        g.energy_mj.store(100_000_000_000, Ordering::SeqCst);
        assert_eq!(m.measure(&seconds(1.0), &quiet()).energy_kwh, 0.0);
        g.energy_mj.store(10_800 + 500_000, Ordering::SeqCst); // back on track: 500 J over both seconds
        assert!((m.measure(&seconds(1.0), &quiet()).energy_kwh * 3.6e6 - 500.0).abs() < 1e-9);
        g.lost.store(true, Ordering::SeqCst);
        assert_eq!(m.measure(&seconds(1.0), &quiet()).energy_kwh, 0.0);
        assert!(m.intervals().next().unwrap().lost);
        assert_eq!(m.measure(&seconds(1.0), &quiet()).energy_kwh, 0.0); // stays out, no panic
    }

    #[test]
    fn mig_instances_name_their_gpu() {
        struct Mig(Arc<FakeGpu>);
        impl GpuDevice for Mig {
            fn index(&self) -> u32 {
                self.0.index
            }
            fn name(&self) -> String {
                self.0.name()
            }
            fn uuid(&self) -> String {
                self.0.uuid()
            }
            fn total_energy_mj(&self) -> Result<u64, GpuError> {
                self.0.total_energy_mj()
            }
            fn power_mw(&self) -> Result<u32, GpuError> {
                self.0.power_mw()
            }
            fn utilization_percent(&self) -> Result<u32, GpuError> {
                self.0.utilization_percent()
            }
            fn mig_uuids(&self) -> Vec<String> {
                vec!["MIG-11111111-2222-3333-4444-555555555555".into(), "MIG-66666666-2222-3333-4444-555555555555".into()]
            }
            fn max_power_mw(&self) -> Option<u32> {
                Some(400_000)
            }
        }
        let mut d = devices();
        d.push(Arc::new(Mig(FakeGpu::new(2, "GPU-cccc2222-0000-0000-0000-000000000000", true))));
        let pick = |s: &str| select(&d, Some(&crate::config::parse_gpu_ids(s)), &quiet());
        let g = pick("MIG-11111111-2222-3333-4444-555555555555,MIG-6666");
        assert_eq!(g.len(), 1, "two instances of one GPU: the GPU once");
        assert_eq!((g[0].index, g[0].mig_uuids.len(), g[0].max_power_w), (2, 2, 400.0));
        assert_eq!(pick("MIG-77777777").len(), 0);
        assert_eq!(pick("1,MIG-6666").iter().map(|g| g.index).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn power_is_integrated_without_a_counter() {
        let g = FakeGpu::new(6, "GPU-no-counter-test", false);
        g.power_mw.store(250_000, Ordering::SeqCst); // 250 W
        g.util.store(80, Ordering::SeqCst);
        let dev: Arc<dyn GpuDevice> = g.clone();
        let gpus = select(&[dev], None, &quiet());
        assert!(!gpus[0].has_energy_counter);
        let mut m = GpuMeter::start(&gpus);
        std::thread::sleep(Duration::from_millis(200));
        let r = m.measure(&Interval::default(), &quiet());
        let joules = r.energy_kwh * 3.6e6;
        assert!(joules > 250.0 * 0.19 && joules < 250.0 * 0.5, "{joules} J");
        assert!((r.utilization_percent.unwrap() - 80.0).abs() < 1e-9, "{:?}", r.utilization_percent);
    }

    #[test]
    fn trapezoids() {
        let mut s = DeviceSampler::default();
        s.advance(0.0, Some(100.0), Some(0.0));
        let a = s.advance(2.0, Some(300.0), Some(100.0));
        assert_eq!(a.energy_j, 400.0);
        assert_eq!((a.util_pct_s, a.util_s), (100.0, 2.0));
    }
}

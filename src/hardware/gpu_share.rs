//! A shared GPU's energy over an interval, split between the processes that ran on it
//! (`gpu_share=split`; the rule is also in docs/gpu-sharing.md).
//!
//! - The processes of the interval are those NVML lists as running on the device at its end
//!   (compute and graphics) and those with a utilisation sample in it (a process that ended
//!   mid-interval still has its samples).
//! - The *idle part* is the device's power at rest times the interval (at most the device's
//!   energy), split equally between those processes: each keeps the device awake.
//! - The *active part*, the rest, is split by each process's share of the SM utilisation
//!   samples of the interval (`nvmlDeviceGetProcessUtilization`; NVML samples every process at
//!   the same instants, so the sum of a process's samples is its SM time up to a constant).
//! - No sample in the interval, or all at 0 % (processes that hold a context and wait): the
//!   active part is split equally, as the idle part.
//! - No per-process utilisation (MIG enabled: NVML has neither per-instance energy nor
//!   per-process samples there; drivers or vGPUs that do not support it): the whole energy is
//!   split equally between the running processes.
//! - No running process at all: the energy is nobody's (`unattributed_j`).
//! - NVML lists no process (the call is not supported): no split; the caller keeps today's
//!   rule (the whole GPU).
//!
//! Processes outside this tracker's process tree (another job, a notebook) get their parts too;
//! a tracker reports only its own, so in process mode theirs is reported by nobody here.
//!
//! The parts always add up to the device's energy: `idle + active = E`, each split into parts
//! whose weights sum to 1, and the last process gets the remainder.

pub use super::gpu_device::UtilSample;
use super::gpu_device::{GpuDevice, GpuError};

/// What NVML said about a device's processes over one interval.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessView {
    /// Running processes and the utilisation samples of the interval.
    Samples { running: Vec<u32>, samples: Vec<UtilSample> },
    /// Running processes only: no per-process utilisation (`why`).
    RunningOnly { running: Vec<u32>, why: &'static str },
    /// NVML lists no process.
    Unknown,
}

/// How a split was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Idle equally, active by SM samples.
    SmSamples,
    /// No sample with SM time: everything equally.
    EqualNoSamples,
    /// No per-process utilisation (MIG, unsupported): everything equally.
    EqualNoUtilization,
    /// Nothing ran: nobody's.
    NoProcess,
    /// No process list: not split.
    NotSplit,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::SmSamples => "sm-samples",
            Method::EqualNoSamples => "equal-no-samples",
            Method::EqualNoUtilization => "equal-no-per-process-utilization",
            Method::NoProcess => "no-process",
            Method::NotSplit => "not-split",
        }
    }
}

/// One device's energy over one interval, in parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub device_j: f64,
    pub idle_j: f64,
    /// Each process's part (its share of the idle and the active parts), J, by pid.
    pub parts: Vec<(u32, f64)>,
    /// What no process ran for (an interval with no process), J.
    pub unattributed_j: f64,
    pub method: Method,
}

impl Split {
    /// The parts of the processes `ours` accepts, J.
    pub fn of(&self, ours: impl Fn(u32) -> bool) -> f64 {
        self.parts.iter().filter(|(p, _)| ours(*p)).map(|(_, j)| j).sum()
    }

    /// Every part and the unattributed energy: the device's energy.
    pub fn total_j(&self) -> f64 {
        self.parts.iter().map(|(_, j)| j).sum::<f64>() + self.unattributed_j
    }
}

/// Splits `device_j` (J over `dt_s` s) by the rule above, with the device at rest drawing `idle_w`.
pub fn split(device_j: f64, dt_s: f64, idle_w: f64, view: &ProcessView) -> Split {
    let device_j = device_j.max(0.0);
    let (running, samples, no_util) = match view {
        ProcessView::Samples { running, samples } => (running.as_slice(), samples.as_slice(), false),
        ProcessView::RunningOnly { running, .. } => (running.as_slice(), &[][..], true),
        ProcessView::Unknown => {
            return Split { device_j, idle_j: 0.0, parts: Vec::new(), unattributed_j: device_j, method: Method::NotSplit }
        }
    };
    let mut pids: Vec<u32> = running.iter().copied().chain(samples.iter().map(|s| s.pid)).collect();
    pids.sort_unstable();
    pids.dedup();
    if pids.is_empty() {
        return Split { device_j, idle_j: device_j, parts: Vec::new(), unattributed_j: device_j, method: Method::NoProcess };
    }
    let sm = |pid: u32| samples.iter().filter(|s| s.pid == pid).map(|s| f64::from(s.sm_percent.min(100))).sum::<f64>();
    let weights: Vec<f64> = pids.iter().map(|p| sm(*p)).collect();
    let sm_total: f64 = weights.iter().sum();
    let n = pids.len() as f64;
    let (idle_j, method) = if no_util {
        (device_j, Method::EqualNoUtilization)
    } else if sm_total <= 0.0 {
        (device_j, Method::EqualNoSamples)
    } else {
        ((idle_w.max(0.0) * dt_s.max(0.0)).min(device_j), Method::SmSamples)
    };
    let active_j = device_j - idle_j;
    let mut parts: Vec<(u32, f64)> = Vec::with_capacity(pids.len());
    let mut given = 0.0;
    for (i, (pid, w)) in pids.iter().zip(&weights).enumerate() {
        let j = if i + 1 == pids.len() {
            device_j - given // the remainder: the parts add up exactly
        } else {
            idle_j / n + if sm_total > 0.0 { active_j * w / sm_total } else { 0.0 }
        };
        given += j;
        parts.push((*pid, j));
    }
    // Reported idle: the part split equally (all of it when nothing was weighed by samples).
    Split { device_j, idle_j, parts, unattributed_j: 0.0, method }
}

/// A device's power at rest when it has not been seen at rest: this fraction of its highest
/// power limit (data-centre GPUs idle at about 10 to 20 % of it).
pub const DEFAULT_IDLE_FRACTION: f64 = 0.1;

/// Intervals shorter than this do not measure the power at rest (a counter's step is coarse).
const MIN_IDLE_INTERVAL_S: f64 = 0.5;

/// One device's split state: the last sample seen, and its power at rest.
#[derive(Debug, Clone)]
pub struct DeviceShare {
    last_sample_us: u64,
    /// MIG is enabled (no per-process utilisation).
    mig: bool,
    /// The lowest mean power over an interval with no process on it, W, once seen.
    measured_idle_w: Option<f64>,
    default_idle_w: f64,
}

impl DeviceShare {
    /// Starts at now: the samples NVML holds from before are skipped. `max_power_w`: the device's
    /// highest power limit (the default power at rest is a fraction of it).
    pub fn start(device: &dyn GpuDevice, max_power_w: f64) -> DeviceShare {
        let last_sample_us = device.process_samples(0).ok().and_then(|s| s.iter().map(|s| s.timestamp_us).max()).unwrap_or(0);
        DeviceShare { last_sample_us, mig: !device.mig_uuids().is_empty(), measured_idle_w: None, default_idle_w: max_power_w * DEFAULT_IDLE_FRACTION }
    }

    /// The power at rest used now, W.
    pub fn idle_w(&self) -> f64 {
        self.measured_idle_w.unwrap_or(self.default_idle_w)
    }

    /// What NVML says of the device's processes since the previous call.
    pub fn view(&mut self, device: &dyn GpuDevice) -> Result<ProcessView, GpuError> {
        let running = match device.running_pids() {
            Ok(r) => r,
            Err(GpuError::Lost) => return Err(GpuError::Lost),
            Err(_) => return Ok(ProcessView::Unknown),
        };
        if self.mig {
            return Ok(ProcessView::RunningOnly { running, why: "MIG enabled" });
        }
        match device.process_samples(self.last_sample_us) {
            Ok(mut samples) => {
                samples.retain(|s| s.timestamp_us > self.last_sample_us);
                if let Some(t) = samples.iter().map(|s| s.timestamp_us).max() {
                    self.last_sample_us = t;
                }
                Ok(ProcessView::Samples { running, samples })
            }
            Err(GpuError::Lost) => Err(GpuError::Lost),
            Err(_) => Ok(ProcessView::RunningOnly { running, why: "no per-process utilization" }),
        }
    }

    /// Splits the device's `device_j` over `dt_s` by `view`, and learns its power at rest from
    /// an interval with no process on it.
    pub fn split(&mut self, device_j: f64, dt_s: f64, view: &ProcessView) -> Split {
        let s = split(device_j, dt_s, self.idle_w(), view);
        if s.method == Method::NoProcess && dt_s >= MIN_IDLE_INTERVAL_S {
            let w = device_j / dt_s;
            self.measured_idle_w = Some(self.measured_idle_w.map_or(w, |m| m.min(w)));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples every 10 ms for `pid` at `sm` %, from `from_ms` to `to_ms`.
    fn samples(pid: u32, sm: u32, from_ms: u64, to_ms: u64) -> Vec<UtilSample> {
        (from_ms / 10..to_ms / 10).map(|k| UtilSample { pid, timestamp_us: k * 10_000, sm_percent: sm }).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    fn part(s: &Split, pid: u32) -> f64 {
        s.of(|p| p == pid)
    }

    #[test]
    fn seventy_five_twenty_five_with_idle() {
        let mut sm = samples(1, 75, 0, 1000);
        sm.extend(samples(2, 25, 0, 1000));
        // 300 J over 1 s, 40 W at rest: 20 J idle each, 260 J active at 3:1.
        let s = split(300.0, 1.0, 40.0, &ProcessView::Samples { running: vec![1, 2], samples: sm });
        assert_eq!(s.method, Method::SmSamples);
        assert!(close(part(&s, 1), 20.0 + 195.0) && close(part(&s, 2), 20.0 + 65.0), "{s:?}");
        assert!(close(s.total_j(), 300.0));
    }

    #[test]
    fn idle_process_beside_a_busy_one_gets_half_the_idle_part_only() {
        let mut sm = samples(1, 0, 0, 1000);
        sm.extend(samples(2, 90, 0, 1000));
        let s = split(300.0, 1.0, 40.0, &ProcessView::Samples { running: vec![1, 2], samples: sm });
        assert!(close(part(&s, 1), 20.0) && close(part(&s, 2), 280.0), "{s:?}");
    }

    #[test]
    fn a_process_that_ended_mid_interval_is_weighed_by_its_samples() {
        // pid 1 at 80 % for the first 400 ms (not running at the end), pid 2 at 80 % throughout.
        let mut sm = samples(1, 80, 0, 400);
        sm.extend(samples(2, 80, 0, 1000));
        let s = split(200.0, 1.0, 0.0, &ProcessView::Samples { running: vec![2], samples: sm });
        assert!(close(part(&s, 1), 200.0 * 4.0 / 14.0) && close(part(&s, 2), 200.0 * 10.0 / 14.0), "{s:?}");
    }

    #[test]
    fn no_samples_mig_and_no_data() {
        let s = split(90.0, 1.0, 40.0, &ProcessView::Samples { running: vec![4, 5, 6], samples: Vec::new() });
        assert_eq!(s.method, Method::EqualNoSamples);
        assert!([4, 5, 6].iter().all(|p| close(part(&s, *p), 30.0)), "{s:?}");
        let s = split(90.0, 1.0, 40.0, &ProcessView::RunningOnly { running: vec![4, 5], why: "MIG enabled" });
        assert_eq!(s.method, Method::EqualNoUtilization);
        assert!(close(part(&s, 4), 45.0) && close(part(&s, 5), 45.0));
        let s = split(90.0, 1.0, 40.0, &ProcessView::Samples { running: Vec::new(), samples: Vec::new() });
        assert_eq!((s.method, s.unattributed_j, s.parts.len()), (Method::NoProcess, 90.0, 0));
        let s = split(90.0, 1.0, 40.0, &ProcessView::Unknown);
        assert_eq!((s.method, s.unattributed_j), (Method::NotSplit, 90.0));
    }

    #[test]
    fn idle_part_never_exceeds_the_device_energy() {
        let s = split(10.0, 1.0, 40.0, &ProcessView::Samples { running: vec![1, 2], samples: samples(1, 50, 0, 1000) });
        assert!(close(s.idle_j, 10.0) && close(part(&s, 1), 5.0) && close(part(&s, 2), 5.0), "{s:?}");
    }

    #[test]
    fn parts_always_add_up() {
        // Pseudo-random intervals, processes and samples.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..2000 {
            let e = next(1_000_000) as f64 / 7.0;
            let n = next(6) as u32;
            let running: Vec<u32> = (0..n).map(|i| 100 + i).collect();
            let mut sm = Vec::new();
            for _ in 0..next(50) {
                sm.push(UtilSample { pid: 100 + next(8) as u32, timestamp_us: next(1_000_000), sm_percent: next(101) as u32 });
            }
            let view = match next(3) {
                0 => ProcessView::Samples { running, samples: sm },
                1 => ProcessView::RunningOnly { running, why: "test" },
                _ => ProcessView::Unknown,
            };
            let s = split(e, next(100) as f64 / 10.0, next(500) as f64, &view);
            assert!(close(s.total_j(), e), "{e} vs {s:?}");
            assert!(s.parts.iter().all(|(_, j)| *j >= -1e-9 * e.max(1.0)), "{s:?}");
        }
    }

    #[test]
    fn idle_power_is_learnt_from_an_interval_with_no_process() {
        struct Idle;
        impl GpuDevice for Idle {
            fn index(&self) -> u32 {
                0
            }
            fn name(&self) -> String {
                "idle".into()
            }
            fn uuid(&self) -> String {
                "GPU-idle".into()
            }
            fn total_energy_mj(&self) -> Result<u64, GpuError> {
                Ok(0)
            }
            fn power_mw(&self) -> Result<u32, GpuError> {
                Ok(0)
            }
            fn utilization_percent(&self) -> Result<u32, GpuError> {
                Ok(0)
            }
        }
        let mut d = DeviceShare::start(&Idle, 400.0);
        assert_eq!(d.idle_w(), 40.0);
        d.split(60.0, 1.0, &ProcessView::Samples { running: Vec::new(), samples: Vec::new() });
        assert_eq!(d.idle_w(), 60.0);
        d.split(1.0, 0.1, &ProcessView::Samples { running: Vec::new(), samples: Vec::new() }); // too short to say
        assert_eq!(d.idle_w(), 60.0);
        assert_eq!(d.view(&Idle).unwrap(), ProcessView::Unknown, "no process list: not split");
    }
}

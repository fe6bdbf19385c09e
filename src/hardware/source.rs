//! The one small trait behind every energy number: RAPL counters, the TDP/load model, a
//! constant power, NVML's energy counter, NVML power integration and the RAM model each say how
//! much energy went by since their previous reading. Process mode wraps the machine-wide
//! sources in its shares ([`ProcessShareOfBusy`], [`ResidentShare`]) or uses the linear model
//! of CPU time ([`ProcessCpuTime`]).

use super::load_sampler::LoadIntegrals;
use crate::log::Logger;

pub const WS_PER_KWH: f64 = 3.6e6;

/// What every source of one measurement shares: the interval and what was read for it once.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Interval {
    pub dt_s: f64,
    /// Machine-wide load integrals at the start and the end of the interval.
    pub load_before: LoadIntegrals,
    pub load_now: LoadIntegrals,
    /// Process mode: the tracked process tree over the interval.
    pub process: Option<ProcessInterval>,
    /// The tracker's final measurement (stop): energy a source held back for a decision is
    /// credited now.
    pub last: bool,
}

/// The process tree's CPU time over an interval and its memory at the end.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessInterval {
    pub cpu_s: f64,
    pub rss_bytes: u64,
}

/// The process tree's share of the machine's busy CPU time over `iv` (0 to 1; `threads`
/// turns the busy fraction into CPU-seconds).
pub fn busy_time_share(iv: &Interval, threads: f64) -> f64 {
    let cpu_s = iv.process.map_or(0.0, |p| p.cpu_s);
    if cpu_s <= 0.0 {
        return 0.0;
    }
    let busy_cpu_s = (iv.load_now.busy_s - iv.load_before.busy_s).max(0.0) * threads;
    (cpu_s / busy_cpu_s.max(cpu_s)).min(1.0)
}

/// The process tree's share of the machine's memory at the end of `iv` (0 to 1).
pub fn resident_share(iv: &Interval, total_bytes: f64) -> f64 {
    let rss = iv.process.map_or(0, |p| p.rss_bytes) as f64;
    if total_bytes > 0.0 {
        (rss / total_bytes).min(1.0)
    } else {
        0.0
    }
}

/// A source of energy readings.
pub trait EnergySource: Send {
    /// Energy since the previous call (or since the source was made), kWh.
    fn energy_kwh(&mut self, iv: &Interval, log: &Logger) -> f64;
}

/// A constant power: the CPU's `constant` mode (half the TDP) and the RAM model.
pub struct ConstantPower {
    pub power_w: f64,
}

impl EnergySource for ConstantPower {
    fn energy_kwh(&mut self, iv: &Interval, _: &Logger) -> f64 {
        self.power_w * iv.dt_s / WS_PER_KWH
    }
}

/// CodeCarbon's `cpu_load` model: `TDP × (0.1 + 0.9 × load³)`, integrated by the load sampler.
pub struct LoadModel {
    pub tdp_w: f64,
}

impl EnergySource for LoadModel {
    fn energy_kwh(&mut self, iv: &Interval, _: &Logger) -> f64 {
        self.tdp_w * (iv.load_now.curve_s - iv.load_before.curve_s) / WS_PER_KWH
    }
}

/// Process mode over a measured CPU source (RAPL): its energy times the tree's share of the
/// machine's busy CPU time (at most all of it).
pub struct ProcessShareOfBusy<S> {
    pub machine: S,
    pub threads: f64,
}

impl<S: EnergySource> EnergySource for ProcessShareOfBusy<S> {
    fn energy_kwh(&mut self, iv: &Interval, log: &Logger) -> f64 {
        self.machine.energy_kwh(iv, log) * busy_time_share(iv, self.threads)
    }
}

/// Process mode over a CPU model (CodeCarbon's linear model): `TDP × CPU seconds / threads`
/// (`scale` 0.5 for the `constant` mode).
pub struct ProcessCpuTime {
    pub tdp_w: f64,
    pub scale: f64,
    pub threads: f64,
}

impl EnergySource for ProcessCpuTime {
    fn energy_kwh(&mut self, iv: &Interval, _: &Logger) -> f64 {
        let cpu_s = iv.process.map_or(0.0, |p| p.cpu_s);
        self.tdp_w * self.scale * cpu_s / self.threads / WS_PER_KWH
    }
}

/// Process mode over the RAM model: its energy times the tree's share of total memory.
pub struct ResidentShare<S> {
    pub machine: S,
    pub total_bytes: f64,
}

impl<S: EnergySource> EnergySource for ResidentShare<S> {
    fn energy_kwh(&mut self, iv: &Interval, log: &Logger) -> f64 {
        self.machine.energy_kwh(iv, log) * resident_share(iv, self.total_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Logger {
        Logger { threshold: crate::log::Level::Critical, preamble: String::new() }
    }

    fn iv(dt_s: f64, busy_s: f64, cpu_s: f64, rss_bytes: u64) -> Interval {
        Interval {
            dt_s,
            load_before: LoadIntegrals::default(),
            load_now: LoadIntegrals { curve_s: dt_s, busy_s, known_s: dt_s },
            process: Some(ProcessInterval { cpu_s, rss_bytes }),
            last: false,
        }
    }

    #[test]
    fn process_shares_of_machine_sources() {
        // 10 W for 2 s = 20 J; 4 threads half busy for 2 s = 4 CPU-s busy; the tree used 1 CPU-s.
        let mut cpu = ProcessShareOfBusy { machine: ConstantPower { power_w: 10.0 }, threads: 4.0 };
        let j = cpu.energy_kwh(&iv(2.0, 1.0, 1.0, 0), &quiet()) * WS_PER_KWH;
        assert!((j - 5.0).abs() < 1e-9, "{j}");
        // More CPU time than the machine saw busy (sampling skew): never more than the machine.
        let j = cpu.energy_kwh(&iv(2.0, 0.1, 3.0, 0), &quiet()) * WS_PER_KWH;
        assert!((j - 20.0).abs() < 1e-9, "{j}");
        let mut linear = ProcessCpuTime { tdp_w: 100.0, scale: 1.0, threads: 4.0 };
        assert!((linear.energy_kwh(&iv(2.0, 0.0, 2.0, 0), &quiet()) * WS_PER_KWH - 50.0).abs() < 1e-9);
        let mut ram = ResidentShare { machine: ConstantPower { power_w: 20.0 }, total_bytes: 1000.0 };
        assert!((ram.energy_kwh(&iv(1.0, 0.0, 0.0, 250), &quiet()) * WS_PER_KWH - 5.0).abs() < 1e-9);
    }
}

//! CPU power from machine-wide load, CodeCarbon's `cpu_load` model (docs/measuring.md):
//! `P = TDP × (0.1 + 0.9 × load³)`, load in [0, 1], from `/proc/stat` deltas between two readings.
//!
//! Linux only, and hand-written on purpose: read on every tick, at every flush and at each task's
//! start and stop through a kept descriptor. sysinfo's CPU refresh keeps the previous reading when
//! the last one is under 200 ms old, which would shift those windows, and costs more (its own
//! open, buffered read and close, and every CPU's line parsed; `cargo bench --bench
//! machine_facts`).

/// Cumulative jiffies of the `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    pub busy: u64,
    pub total: u64,
}

/// Parses the aggregate `cpu ` line. `guest`/`guest_nice` are already inside user/nice, so only
/// the first eight fields count.
pub fn parse_proc_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    // Read on every tick: no allocation.
    let mut f = [0u64; 8];
    let mut n = 0;
    for (slot, x) in f.iter_mut().zip(line.split_ascii_whitespace().skip(1)) {
        *slot = x.parse().unwrap_or(0);
        n += 1;
    }
    if n < 4 {
        return None;
    }
    let total: u64 = f.iter().sum();
    let idle = f[3] + f[4]; // idle + iowait
    Some(CpuTimes { busy: total - idle, total })
}

pub fn read_proc_stat() -> Option<CpuTimes> {
    static PROC_STAT: super::kept_open::KeptOpen = super::kept_open::KeptOpen::new("/proc/stat");
    PROC_STAT.read(parse_proc_stat)
}

/// Load in [0, 1] between two readings; `None` when no tick elapsed.
pub fn load_between(a: CpuTimes, b: CpuTimes) -> Option<f64> {
    let total = b.total.checked_sub(a.total)?;
    let busy = b.busy.checked_sub(a.busy)?;
    if total == 0 {
        return None;
    }
    Some((busy as f64 / total as f64).clamp(0.0, 1.0))
}

/// CodeCarbon's cubic curve with a 10 % idle floor.
pub fn power_w(tdp_w: f64, load: f64) -> f64 {
    tdp_w * (0.1 + 0.9 * load.powi(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_matches_baseline() {
        // Baseline section 5: 8 W TDP, idle -> 0.8 W, 50 % -> 1.7 W.
        assert!((power_w(8.0, 0.0) - 0.8).abs() < 1e-12);
        assert!((power_w(8.0, 0.5) - 1.7).abs() < 1e-12);
        assert!((power_w(8.0, 1.0) - 8.0).abs() < 1e-12);
    }

    #[test]
    fn parse_and_load() {
        let a = parse_proc_stat("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(a, CpuTimes { busy: 200, total: 1000 });
        let b = parse_proc_stat("cpu  200 0 200 900 100 0 0 0 50 0\n").unwrap();
        assert_eq!(load_between(a, b), Some(0.5));
        assert_eq!(load_between(a, a), None);
        assert_eq!(load_between(b, a), None);
        assert_eq!(parse_proc_stat("intr 1 2 3\n"), None);
    }

    #[test]
    fn this_machine_has_proc_stat() {
        assert!(read_proc_stat().unwrap().total > 0);
    }
}

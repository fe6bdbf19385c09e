//! RAM: size and use through `sysinfo` (on Linux, `/proc/meminfo`); power from CodeCarbon's DIMM
//! heuristic (docs/measuring.md).

use sysinfo::{MemoryRefreshKind, System};

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MemInfo {
    pub total_gib: f64,
    pub available_gib: f64,
}

impl MemInfo {
    pub fn used_gib(&self) -> f64 {
        (self.total_gib - self.available_gib).max(0.0)
    }
    pub fn used_percent(&self) -> f64 {
        if self.total_gib > 0.0 {
            self.used_gib() / self.total_gib * 100.0
        } else {
            0.0
        }
    }
}

const GIB: f64 = (1u64 << 30) as f64;

/// Total and available memory now, refreshing only `sys`'s RAM figures; `None` when the system
/// does not say.
pub fn read_from(sys: &mut System) -> Option<MemInfo> {
    sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
    let total = sys.total_memory();
    (total > 0).then(|| MemInfo { total_gib: total as f64 / GIB, available_gib: sys.available_memory() as f64 / GIB })
}

/// [`read_from`] the process's [`super::system`]. sysinfo reads `/proc/meminfo` whole, as a parser
/// of our own would: a kept descriptor's `pread` saves too little to keep one (`cargo bench
/// --bench machine_facts`).
pub fn read() -> Option<MemInfo> {
    read_from(&mut super::system())
}

/// [`read`], shared by all trackers: a reading younger than 10 s is reused (it only feeds
/// the run means of memory use; generating `/proc/meminfo` costs the kernel about as much as
/// `/proc/stat`, so reading it every tick would double the idle cost).
pub fn meminfo_recent() -> Option<MemInfo> {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    static LAST: Mutex<Option<(Instant, Option<MemInfo>)>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    match *last {
        Some((at, m)) if at.elapsed() < Duration::from_secs(10) => m,
        _ => {
            let m = read();
            *last = Some((Instant::now(), m));
            m
        }
    }
}

/// CodeCarbon's `_estimate_dimm_count`.
pub fn estimate_dimm_count(gib: f64) -> u32 {
    if gib <= 2.0 {
        1
    } else if gib <= 16.0 {
        2
    } else if gib <= 64.0 {
        4
    } else if gib <= 128.0 {
        8
    } else {
        [128.0, 64.0, 32.0, 16.0, 8.0, 4.0]
            .iter()
            .find(|&&s| s <= gib / 8.0)
            .map(|s| ((gib / s).ceil() as u32).min(32))
            .unwrap_or(8)
    }
}

/// CodeCarbon's `_calculate_ram_power`: 5 W per DIMM on x86 (1.5 W on ARM), diminishing per
/// extra DIMM, with a floor of 10 W (3 W on ARM).
pub fn power_w(gib: f64, arm: bool) -> f64 {
    let base = if arm { 1.5 } else { 5.0 };
    let n = estimate_dimm_count(gib) as f64;
    let p = if n <= 4.0 {
        base * n
    } else if n <= 8.0 {
        4.0 * base + 0.9 * base * (n - 4.0)
    } else if n <= 16.0 {
        4.0 * base + 3.6 * base + 0.8 * base * (n - 8.0)
    } else {
        4.0 * base + 3.6 * base + 6.4 * base + 0.7 * base * (n - 16.0)
    };
    p.max(if arm { 3.0 } else { 10.0 })
}

pub fn is_arm() -> bool {
    cfg!(any(target_arch = "arm", target_arch = "aarch64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_table_x86() {
        let cases = [
            (1.0, 10.0),
            (16.0, 10.0),
            (23.54, 20.0),
            (64.0, 20.0),
            (65.0, 38.0),
            (128.0, 38.0),
            (192.0, 54.0),
            (256.0, 38.0),
            (512.0, 38.0),
            (1024.0, 38.0),
            (2048.0, 70.0),
            (4096.0, 126.0),
        ];
        for (gib, w) in cases {
            assert!((power_w(gib, false) - w).abs() < 1e-9, "{gib} GiB -> {} W, want {w}", power_w(gib, false));
        }
    }

    #[test]
    fn spec_table_arm() {
        assert!((power_w(8.0, true) - 3.0).abs() < 1e-9);
        assert!((power_w(32.0, true) - 6.0).abs() < 1e-9);
        assert!((power_w(100.0, true) - 11.4).abs() < 1e-9);
    }

    #[test]
    fn used_memory() {
        let m = MemInfo { total_gib: 23.540497, available_gib: 23.540497 - 400000.0 / 1048576.0 };
        assert!((m.used_gib() - 400000.0 / 1048576.0).abs() < 1e-9);
        assert!(m.used_percent() > 1.6 && m.used_percent() < 1.7);
        assert_eq!(MemInfo { total_gib: 0.0, available_gib: 1.0 }.used_percent(), 0.0);
        assert_eq!(MemInfo { total_gib: 1.0, available_gib: 2.0 }.used_gib(), 0.0);
    }

    /// `MemTotal` and `MemAvailable` of `/proc/meminfo`, KiB, read by hand.
    fn proc_meminfo_kib() -> (u64, u64) {
        let text = std::fs::read_to_string("/proc/meminfo").unwrap();
        let kib = |key: &str| -> u64 { text.lines().find_map(|l| l.strip_prefix(key)).unwrap().split_whitespace().next().unwrap().parse().unwrap() };
        (kib("MemTotal:"), kib("MemAvailable:"))
    }

    /// The total through sysinfo is `MemTotal` of `/proc/meminfo` to the bit, as the hand parser
    /// read it, so the DIMM heuristic gives the same RAM power.
    #[test]
    fn total_matches_proc_meminfo_on_this_machine() {
        let (total_kib, _) = proc_meminfo_kib();
        let by_hand = total_kib as f64 * 1024.0 / GIB;
        for ours in [read().unwrap(), read_from(&mut System::new()).unwrap()] {
            assert_eq!(ours.total_gib.to_bits(), by_hand.to_bits(), "{} vs {by_hand} GiB", ours.total_gib);
            assert_eq!(power_w(ours.total_gib, is_arm()), power_w(by_hand, is_arm()));
        }
    }

    /// Available memory is `MemAvailable` (read between two of ours, within what other
    /// processes change meanwhile).
    #[test]
    fn available_follows_proc_meminfo() {
        let before = read().unwrap();
        let (_, avail_kib) = proc_meminfo_kib();
        let after = read().unwrap();
        let by_hand = avail_kib as f64 * 1024.0 / GIB;
        let (lo, hi) = (before.available_gib.min(after.available_gib), before.available_gib.max(after.available_gib));
        assert!(by_hand >= lo - 0.25 && by_hand <= hi + 0.25, "{by_hand} GiB outside {lo}..{hi}");
    }
}

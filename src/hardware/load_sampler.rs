//! One process-wide sampler of machine-wide CPU load, shared by all trackers.
//!
//! CodeCarbon applies its curve `0.1 + 0.9 × load³` to ~1 s load samples and averages the powers
//! (docs/measuring.md). Applying it to the mean load of a long interval would under-count any varying load
//! (the curve is convex: 1 s at 100 % then 1 s idle is 0.55 × TDP on average, not 0.2125 × TDP).
//! So the sampler keeps running integrals, advanced about once a second on the background
//! runtime while any tracker subscribes, and on demand whenever a tracker measures. A tracker's
//! CPU energy over an interval is `TDP × Δcurve_s`, exactly like reading an energy counter.
//!
//! Linux only: the load is read from `/proc/stat` ([`super::cpu_load`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use super::cpu_load::{self, CpuTimes};

/// Running integrals since the sampler started (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoadIntegrals {
    /// ∫ (0.1 + 0.9 × load³) dt
    pub curve_s: f64,
    /// ∫ load dt (load in [0, 1])
    pub busy_s: f64,
    /// ∫ dt over the segments whose load was known
    pub known_s: f64,
}

impl LoadIntegrals {
    /// Mean load in % between two readings, if any segment in between had a known load.
    pub fn utilization_percent_since(&self, earlier: &LoadIntegrals) -> Option<f64> {
        let known = self.known_s - earlier.known_s;
        (known > 0.0).then(|| (self.busy_s - earlier.busy_s) / known * 100.0)
    }
}

/// The integrator, separate from the clock and `/proc/stat` so tests can drive it.
#[derive(Debug, Default)]
pub struct Integrator {
    /// Time up to which the integrals are complete.
    cursor_s: Option<f64>,
    /// The last `/proc/stat` reading and its time (the base of the next load estimate).
    last_read: Option<(f64, CpuTimes)>,
    last_load: Option<f64>,
    acc: LoadIntegrals,
}

impl Integrator {
    /// Adds the segment from the cursor to `at_s` (any monotonic clock). With a fresh reading,
    /// the load is estimated since the previous reading; without one (`None`: unreadable, or
    /// skipped because the last read is very recent) the previous load is reused. Segments never
    /// overlap, so nothing is counted twice.
    pub fn advance(&mut self, at_s: f64, times: Option<CpuTimes>) -> LoadIntegrals {
        let load = match (self.last_read, times) {
            (Some((_, a)), Some(b)) => cpu_load::load_between(a, b).or(self.last_load),
            _ => self.last_load,
        };
        if let Some(t0) = self.cursor_s {
            let dt = (at_s - t0).max(0.0);
            match load {
                Some(l) => {
                    self.acc.curve_s += cpu_load::power_w(1.0, l) * dt; // the curve: a 1 W TDP
                    self.acc.busy_s += l * dt;
                    self.acc.known_s += dt;
                }
                None => self.acc.curve_s += 0.1 * dt, // no load seen yet: the idle floor
            }
        }
        if load.is_some() {
            self.last_load = load;
        }
        if times.is_some() || self.cursor_s.is_some() {
            self.cursor_s = Some(at_s.max(self.cursor_s.unwrap_or(at_s)));
        }
        if let Some(b) = times {
            self.last_read = Some((at_s, b));
        }
        self.acc
    }

    /// Seconds since the last `/proc/stat` reading.
    fn read_age_s(&self, now_s: f64) -> Option<f64> {
        self.last_read.map(|(t, _)| now_s - t)
    }
}

/// Readings closer together than this reuse the last load instead of reading `/proc/stat`
/// again (1,000 trackers ticking together read it once).
const REREAD_AFTER_S: f64 = 0.01;

static EPOCH: Lazy<Instant> = Lazy::new(Instant::now);
static SAMPLER: Lazy<Mutex<Integrator>> = Lazy::new(|| Mutex::new(Integrator::default()));
static SUBSCRIBERS: AtomicUsize = AtomicUsize::new(0);
const PERIOD: Duration = Duration::from_secs(1);

/// The integrals up to now (reading `/proc/stat` unless another caller just did).
pub fn read_now() -> LoadIntegrals {
    let mut s = SAMPLER.lock().unwrap_or_else(|p| p.into_inner());
    let now = EPOCH.elapsed().as_secs_f64();
    let times = match s.read_age_s(now) {
        Some(age) if age < REREAD_AFTER_S => None,
        _ => cpu_load::read_proc_stat(),
    };
    s.advance(now, times)
}

/// Keeps the 1 Hz sampling running while alive, for a tracker that measures less often than
/// that (a tracker measuring at least every second advances the integrals itself, so it needs
/// no sampler and costs no extra wake-up).
#[derive(Debug)]
pub struct Subscription {
    counted: bool,
}

impl Subscription {
    pub fn new(measure_every_s: f64) -> Subscription {
        read_now();
        if measure_every_s <= PERIOD.as_secs_f64() {
            return Subscription { counted: false };
        }
        if SUBSCRIBERS.fetch_add(1, Ordering::SeqCst) == 0 {
            // The task ends by itself at the first tick with no subscriber left.
            crate::background::spawn_periodic(PERIOD, || {
                if SUBSCRIBERS.load(Ordering::SeqCst) == 0 {
                    return false;
                }
                // Trackers measuring at least every second already keep the samples fresh.
                let mut s = SAMPLER.lock().unwrap_or_else(|p| p.into_inner());
                let now = EPOCH.elapsed().as_secs_f64();
                if s.read_age_s(now).is_none_or(|age| age >= 0.9 * PERIOD.as_secs_f64()) {
                    s.advance(now, cpu_load::read_proc_stat());
                }
                true
            });
        }
        Subscription { counted: true }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.counted {
            SUBSCRIBERS.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(busy: u64, total: u64) -> Option<CpuTimes> {
        Some(CpuTimes { busy, total })
    }

    #[test]
    fn curve_is_applied_per_segment_not_to_the_mean() {
        let mut i = Integrator::default();
        i.advance(0.0, times(0, 0));
        i.advance(1.0, times(100, 100)); // 1 s at 100 %
        let r = i.advance(2.0, times(100, 200)); // 1 s idle
        assert!((r.curve_s - 1.1).abs() < 1e-12, "{r:?}"); // mean power 0.55 × TDP
        assert!((r.busy_s - 1.0).abs() < 1e-12);
        assert_eq!(r.utilization_percent_since(&LoadIntegrals::default()), Some(50.0));
    }

    #[test]
    fn short_segments_reuse_the_last_load_and_count_once() {
        let mut i = Integrator::default();
        i.advance(0.0, times(0, 0));
        i.advance(1.0, times(50, 100)); // 50 %
        let a = i.advance(1.001, times(50, 100)); // no jiffy elapsed: 50 % assumed
        let expected = 0.1 + 0.9 * 0.125;
        assert!((a.curve_s - expected * 1.001).abs() < 1e-12, "{a:?}");
        let b = i.advance(1.001, times(50, 100)); // same instant again: nothing added
        assert_eq!(a, b);
    }

    #[test]
    fn skipped_readings_extrapolate_without_double_counting() {
        let mut i = Integrator::default();
        i.advance(0.0, times(0, 0));
        i.advance(1.0, times(100, 100)); // 100 %
        let a = i.advance(1.5, None); // skipped read: 100 % assumed for 0.5 s
        assert!((a.curve_s - 1.5).abs() < 1e-12, "{a:?}");
        // The next real reading: 1.0 s -> 2.0 s at 50 % overall, applied only to 1.5 s -> 2.0 s.
        let b = i.advance(2.0, times(150, 200));
        assert!((b.busy_s - (1.5 + 0.5 * 0.5)).abs() < 1e-12, "{b:?}");
        assert!((b.known_s - 2.0).abs() < 1e-12);
    }

    #[test]
    fn unreadable_stat_adds_nothing_and_first_reading_is_a_baseline() {
        let mut i = Integrator::default();
        assert_eq!(i.advance(5.0, None), LoadIntegrals::default());
        assert_eq!(i.advance(6.0, times(10, 20)), LoadIntegrals::default());
    }

    #[test]
    fn live_sampler_moves_forward() {
        let _s = Subscription::new(15.0);
        let a = read_now();
        std::thread::sleep(Duration::from_millis(30));
        let b = read_now();
        assert!(b.curve_s > a.curve_s);
    }
}

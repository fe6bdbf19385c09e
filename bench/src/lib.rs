//! What the benchmarks (`benches` in Cargo.toml) share: timing a call, a median, a duration in µs.

use std::hint::black_box;
use std::time::Instant;

/// The wall time of one call, s (its result kept from the optimiser).
pub fn time<T>(f: impl FnOnce() -> T) -> f64 {
    let t = Instant::now();
    black_box(f());
    t.elapsed().as_secs_f64()
}

/// The median of the samples (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A duration in s, written in µs.
pub fn fmt(s: f64) -> String {
    format!("{:.1} µs", s * 1e6)
}

//! Predicting a run's totals at completion from its progress so far.
//!
//! Each quantity (duration, energy, emissions) is treated the same way, as a cost per step:
//!
//! 1. The progress reports between the first one and the latest are cut into up to 16 segments
//!    of equal progress. A segment's cost per step is its time (its energy, its emissions: the
//!    measured cumulative totals, linear between measurements) divided by its steps.
//! 2. The *current regime* is the longest run of latest segments whose costs agree: it starts
//!    with the latest two (one late step followed by a quick one must not look like a change of
//!    pace), and going back an older segment joins while its time and energy per step are within
//!    15 % of the regime's mean. A warm-up, or the pace before a change, is left out.
//! 3. The cost per step of the regime is the least-squares slope of the cumulative quantity
//!    against steps done over its segments' ends. The prediction is that line's value at the
//!    latest report plus the steps left times its slope: a steady run is predicted exactly.
//! 4. The interval: the remaining part, `steps left × slope`, is taken as log-normal with a
//!    variance that adds (a) the slope's standard error, (b) a drift of the pace over the work
//!    left, as a random walk of 0.5 per unit of the work's fraction (`0.25 × left / 3` for a
//!    fraction `left` still to do: a pace not seen yet is allowed for, the more so the more work
//!    is left), and (c) when the regime is younger than 3 segments, half the distance to the
//!    pace before it (the change may not last). Low and high are its 5 % and 95 % quantiles: a
//!    90 % interval under this model.
//!
//! Not enough evidence (fewer than 3 reports, under 1 % of the work, no measurement yet): no
//! numbers. At 100 % the totals at the latest report are the answer.

use super::progress::{MeasurementLog, ProgressPoint};
use crate::record::PredictionState;

/// Segments the reported progress is cut into.
const SEGMENTS: usize = 16;
/// Reports needed (two intervals of progress) before predicting.
const MIN_REPORTS: usize = 3;
/// Fraction of the work that must have been reported done between the first and latest reports.
const MIN_FRACTION: f64 = 0.01;
/// How far a segment's cost per step may be from the regime's mean and still belong to it.
const SAME_REGIME: f64 = 0.15;
/// Volatility of the log pace over the work left, per square root of the work's fraction.
const PACE_DRIFT: f64 = 0.5;
/// The two-sided 90 % quantile of the normal distribution.
const Z_90: f64 = 1.644_853_626_951_472_2;
pub const CONFIDENCE: f64 = 0.9;

/// A predicted total and its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub point: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    const UNKNOWN: Estimate = Estimate { point: f64::NAN, low: f64::NAN, high: f64::NAN };

    fn at_least(self, floor: f64) -> Estimate {
        Estimate { point: self.point.max(floor), low: self.low.max(floor), high: self.high.max(floor) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    pub state: PredictionState,
    /// done / total of the latest report (NaN without one).
    pub progress: f64,
    pub duration_s: Estimate,
    pub energy_kwh: Estimate,
    pub emissions_kg: Estimate,
    pub time_left_s: f64,
}

/// What the forecast is made from.
pub struct Inputs<'a> {
    /// Reports with strictly increasing `done`, the latest last; empty without any.
    pub progress: &'a [ProgressPoint],
    /// The total steps of the latest report.
    pub total: f64,
    pub measurements: &'a MeasurementLog,
    /// Seconds since start now, and the totals measured so far.
    pub now_s: f64,
    pub measured_energy_kwh: f64,
    pub measured_emissions_kg: f64,
}

/// The least-squares line of `ys` against `xs`: its slope, the slope's standard error, and its
/// value at the last `x`.
fn fit(xs: &[f64], ys: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let b = sxy / sxx;
    let at_last = my + b * (xs[xs.len() - 1] - mx);
    if xs.len() <= 2 {
        return (b, 0.0, at_last);
    }
    let ss: f64 = xs.iter().zip(ys).map(|(x, y)| (y - my - b * (x - mx)).powi(2)).sum();
    (b, (ss / (n - 2.0) / sxx).sqrt(), at_last)
}

/// Whether segment cost `c` belongs with the regime's costs `window`.
fn same_regime(window: &[f64], c: f64) -> bool {
    let m = window.iter().sum::<f64>() / window.len() as f64;
    // The absolute floor keeps a quantity that is exactly 0 (no power) in one regime.
    (c - m).abs() <= (SAME_REGIME * m.abs()).max(1e-300)
}

/// Piecewise-linear `y(x)` through points with increasing `x`.
fn interpolate(points: &[ProgressPoint], done: f64) -> f64 {
    let i = points.partition_point(|p| p.done <= done).clamp(1, points.len() - 1);
    let (a, b) = (points[i - 1], points[i]);
    a.at_s + (done - a.done) / (b.done - a.done) * (b.at_s - a.at_s)
}

/// One quantity's cumulative values at the segment ends, predicted at `total`.
struct Series {
    at_nodes: Vec<f64>,
}

impl Series {
    fn costs(&self, width: f64) -> Vec<f64> {
        self.at_nodes.windows(2).map(|w| (w[1] - w[0]) / width).collect()
    }

    /// The total at completion: the regime's line at the latest report plus the steps left
    /// times its cost per step, with its interval. (The line, not the value at the latest
    /// report: one late report must not move the whole prediction.)
    fn estimate(&self, nodes: &[f64], regime_start: usize, left: f64, left_fraction: f64, width: f64) -> Estimate {
        let (b, se, anchor) = fit(&nodes[regime_start..], &self.at_nodes[regime_start..]);
        let rest = (left * b).max(0.0);
        if rest <= 0.0 || !rest.is_finite() {
            return Estimate { point: anchor, low: anchor, high: anchor };
        }
        let costs = self.costs(width);
        let regime = &costs[regime_start..];
        // A regime younger than 3 segments: the pace before it may come back.
        let unsettled = match (regime_start, regime.len()) {
            (s, n) if s > 0 && n < 3 && costs[s - 1] > 0.0 && b > 0.0 => (costs[s - 1] / b).ln().abs() / 2.0,
            _ => 0.0,
        };
        let var = (left * se / rest).powi(2) + PACE_DRIFT * PACE_DRIFT * left_fraction / 3.0 + unsettled * unsettled;
        let k = (Z_90 * var.sqrt()).exp();
        Estimate { point: anchor + rest, low: anchor + rest / k, high: anchor + rest * k }
    }
}

pub fn forecast(i: &Inputs) -> Forecast {
    let unknown = |state, progress| Forecast {
        state,
        progress,
        duration_s: Estimate::UNKNOWN,
        energy_kwh: Estimate::UNKNOWN,
        emissions_kg: Estimate::UNKNOWN,
        time_left_s: f64::NAN,
    };
    let (Some(first), Some(latest)) = (i.progress.first(), i.progress.last()) else {
        return unknown(PredictionState::NoProgress, f64::NAN);
    };
    let progress = latest.done / i.total;
    let left = (i.total - latest.done).max(0.0);
    let complete = left == 0.0;
    let enough = i.progress.len() >= MIN_REPORTS && (latest.done - first.done) >= MIN_FRACTION * i.total && latest.at_s > first.at_s;
    if i.measurements.measured() == 0 || !(enough || complete) {
        return unknown(PredictionState::NotEnoughEvidence, progress);
    }
    let (energy_now, emissions_now) = i.measurements.at(latest.at_s);
    let (duration, energy, emissions) = if complete {
        let exact = |v| Estimate { point: v, low: v, high: v };
        (exact(latest.at_s), exact(energy_now), exact(emissions_now))
    } else {
        let segments = SEGMENTS.min(i.progress.len() - 1);
        let width = (latest.done - first.done) / segments as f64;
        let nodes: Vec<f64> = (0..=segments).map(|k| first.done + k as f64 * width).collect();
        let time = Series { at_nodes: nodes.iter().map(|&d| interpolate(i.progress, d)).collect() };
        let totals: Vec<(f64, f64)> = time.at_nodes.iter().map(|&t| i.measurements.at(t)).collect();
        let energy = Series { at_nodes: totals.iter().map(|e| e.0).collect() };
        let emissions = Series { at_nodes: totals.iter().map(|e| e.1).collect() };
        // The current regime: segments regime_start.. (node indices regime_start..=segments).
        let (time_costs, energy_costs) = (time.costs(width), energy.costs(width));
        let mut start = segments - 2;
        while start > 0
            && same_regime(&time_costs[start..], time_costs[start - 1])
            && same_regime(&energy_costs[start..], energy_costs[start - 1])
        {
            start -= 1;
        }
        let left_fraction = left / i.total;
        let est = |s: &Series| s.estimate(&nodes, start, left, left_fraction, width);
        (est(&time), est(&energy), est(&emissions))
    };
    // Never below what has been measured already.
    let duration = duration.at_least(i.now_s);
    Forecast {
        state: PredictionState::Ready,
        progress,
        duration_s: duration,
        energy_kwh: energy.at_least(i.measured_energy_kwh),
        emissions_kg: emissions.at_least(i.measured_emissions_kg),
        time_left_s: duration.point - i.now_s,
    }
}

#[cfg(test)]
mod tests {
    use super::super::progress::EnergyPoint;
    use super::*;

    /// A run of `steps` steps whose step k (1-based) takes `step_s(k)` seconds at `power_w(k)`,
    /// measured every `measure_every` steps; reports after each step up to `upto` (and at 0).
    struct Load {
        progress: Vec<ProgressPoint>,
        measurements: MeasurementLog,
        end_s: f64,
        end_kwh: f64,
    }

    fn run(steps: usize, step_s: impl Fn(usize) -> f64, power_w: impl Fn(usize) -> f64, upto: usize) -> Load {
        let mut progress = vec![ProgressPoint { at_s: 0.0, done: 0.0 }];
        let mut measurements = MeasurementLog::default();
        let (mut t, mut e) = (0.0, 0.0);
        for k in 1..=steps {
            t += step_s(k);
            e += step_s(k) * power_w(k) / 3.6e6;
            if k <= upto {
                progress.push(ProgressPoint { at_s: t, done: k as f64 });
                measurements.push(EnergyPoint { at_s: t, energy_kwh: e, emissions_kg: e * 0.5 });
            }
        }
        Load { progress, measurements, end_s: t, end_kwh: e }
    }

    fn predict(l: &Load, total: f64) -> Forecast {
        let last = l.progress.last().unwrap();
        let (e, c) = l.measurements.at(last.at_s);
        forecast(&Inputs {
            progress: &l.progress,
            total,
            measurements: &l.measurements,
            now_s: last.at_s,
            measured_energy_kwh: e,
            measured_emissions_kg: c,
        })
    }

    fn covers(e: Estimate, v: f64) -> bool {
        e.low <= v && v <= e.high
    }

    #[test]
    fn steady_is_exact() {
        for upto in [25, 50, 75] {
            let l = run(100, |_| 2.0, |_| 100.0, upto);
            let f = predict(&l, 100.0);
            assert_eq!(f.state, PredictionState::Ready);
            assert!((f.duration_s.point / l.end_s - 1.0).abs() < 1e-9, "{f:?}");
            assert!((f.energy_kwh.point / l.end_kwh - 1.0).abs() < 1e-9);
            assert!((f.emissions_kg.point / (l.end_kwh * 0.5) - 1.0).abs() < 1e-9);
            assert!((f.time_left_s - (l.end_s - upto as f64 * 2.0)).abs() < 1e-6);
            assert!(covers(f.duration_s, l.end_s) && f.duration_s.low < f.duration_s.point);
        }
    }

    #[test]
    fn warm_up_is_left_out() {
        // 10 slow steps at a lower power, then steady.
        let step = |k| if k <= 10 { 6.0 } else { 2.0 };
        let power = |k| if k <= 10 { 50.0 } else { 100.0 };
        for upto in [25, 50, 75] {
            let l = run(100, step, power, upto);
            let f = predict(&l, 100.0);
            assert!((f.duration_s.point / l.end_s - 1.0).abs() < 1e-9, "{upto}: {f:?} vs {}", l.end_s);
            assert!((f.energy_kwh.point / l.end_kwh - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn a_slow_down_is_followed_and_covered_before() {
        let step = |k| if k <= 50 { 2.0 } else { 2.6 };
        for upto in [25, 50, 75] {
            let l = run(100, step, |_| 100.0, upto);
            let f = predict(&l, 100.0);
            assert!(covers(f.duration_s, l.end_s), "{upto}: {f:?} vs {}", l.end_s);
            assert!(covers(f.energy_kwh, l.end_kwh), "{upto}");
            if upto == 75 {
                assert!((f.duration_s.point / l.end_s - 1.0).abs() < 1e-9, "followed: {f:?}");
            }
        }
    }

    #[test]
    fn a_late_step_then_a_quick_one_is_not_a_change_of_pace() {
        // Paced by deadlines: step 30 ends 0.8 s late, so step 31 is 0.8 s short.
        let step = |k| match k {
            30 => 1.8,
            31 => 0.2,
            _ => 1.0,
        };
        let f = predict(&run(100, step, |_| 10.0, 31), 100.0);
        assert!((f.duration_s.point / 100.0 - 1.0).abs() < 0.02, "{f:?}");
    }

    #[test]
    fn not_enough_evidence_then_ready_then_complete() {
        let l = run(1000, |_| 1.0, |_| 10.0, 2);
        assert_eq!(predict(&l, 1000.0).state, PredictionState::NotEnoughEvidence); // 0.2 %
        assert!(predict(&l, 1000.0).duration_s.point.is_nan());
        let l = run(100, |_| 1.0, |_| 10.0, 1);
        assert_eq!(predict(&l, 100.0).state, PredictionState::NotEnoughEvidence); // 2 reports
        let l = run(100, |_| 1.0, |_| 10.0, 2);
        assert_eq!(predict(&l, 100.0).state, PredictionState::Ready);
        let l = run(100, |_| 1.0, |_| 10.0, 100);
        let f = predict(&l, 100.0);
        assert_eq!((f.duration_s.low, f.duration_s.high), (l.end_s, l.end_s));
        assert_eq!(f.time_left_s, 0.0);
        let none = forecast(&Inputs {
            progress: &[],
            total: 1.0,
            measurements: &MeasurementLog::default(),
            now_s: 1.0,
            measured_energy_kwh: 0.0,
            measured_emissions_kg: 0.0,
        });
        assert_eq!(none.state, PredictionState::NoProgress);
        assert!(none.progress.is_nan());
    }

    #[test]
    fn interval_narrows_as_work_is_done() {
        let widths: Vec<f64> = [10, 25, 50, 75, 90]
            .iter()
            .map(|&upto| {
                let f = predict(&run(100, |_| 1.0, |_| 10.0, upto), 100.0);
                (f.duration_s.high - f.duration_s.low) / f.duration_s.point
            })
            .collect();
        assert!(widths.windows(2).all(|w| w[1] < w[0]), "{widths:?}");
        assert!(widths[4] < 0.05, "{widths:?}");
    }

    #[test]
    fn a_stall_past_the_predicted_end_keeps_totals_at_least_measured() {
        let l = run(100, |_| 1.0, |_| 10.0, 50);
        let mut f_in = Inputs {
            progress: &l.progress,
            total: 100.0,
            measurements: &l.measurements,
            now_s: 500.0,
            measured_energy_kwh: 1.0,
            measured_emissions_kg: 0.5,
        };
        let f = forecast(&f_in);
        assert_eq!(f.duration_s.point, 500.0);
        assert_eq!(f.time_left_s, 0.0);
        assert!(f.energy_kwh.low >= 1.0);
        f_in.now_s = 50.0;
        assert!(forecast(&f_in).time_left_s > 0.0);
    }
}

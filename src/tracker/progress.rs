//! What a prediction is made from, kept in bounded memory: the progress the program reports
//! (`set_progress`), and the run's cumulative energy and emissions at each measurement. Times are
//! seconds since the tracker's start.

use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};

/// A point is kept when progress moved by at least this fraction of the total since the last
/// kept point (the latest report is always known): at most about 1024 points per run.
const MIN_GAP_FRACTION: f64 = 1.0 / 1024.0;
/// Past this many points (rollbacks, a total that grows), every other one is dropped.
const MAX_POINTS: usize = 2048;
/// The same for the measurement log (a 48-hour run measured every second: 172,800 measurements).
const MAX_MEASUREMENTS: usize = 1024;

/// Steps done at a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressPoint {
    pub at_s: f64,
    pub done: f64,
}

/// The latest report: when `done` was first reached, and the total given with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latest {
    pub at_s: f64,
    pub done: f64,
    pub total: f64,
}

/// `set_progress`'s reports. Lives beside the tracker's state, under its own small lock, so that
/// a report never waits for a measurement in progress.
#[derive(Debug, Default)]
pub struct ProgressLog {
    /// The tracker's start while it runs; reports are refused otherwise.
    origin: Option<Instant>,
    /// Strictly increasing `done`.
    points: Vec<ProgressPoint>,
    latest: Option<Latest>,
}

impl ProgressLog {
    pub fn begin(&mut self, origin: Instant) {
        *self = ProgressLog { origin: Some(origin), ..ProgressLog::default() };
    }

    pub fn end(&mut self) {
        self.origin = None;
    }

    /// Whether `set_progress` was ever called in this run.
    pub fn is_empty(&self) -> bool {
        self.latest.is_none()
    }

    /// Records `done` steps of `total` at `now`. A `done` lower than the previous one is a
    /// rollback (work to be done again): the points past it are dropped, and the time lost shows
    /// as a slow stretch. The same `done` again changes only the total.
    pub fn record(&mut self, done: f64, total: f64, now: Instant) -> Result<()> {
        if !(done.is_finite() && total.is_finite() && total > 0.0 && (0.0..=total).contains(&done)) {
            return Err(Error::option(format!(
                "set_progress: done={done}, total={total}: expected finite numbers with total > 0 and 0 <= done <= total"
            )));
        }
        let Some(origin) = self.origin else {
            return Err(Error::new(ErrorKind::InvalidState, "set_progress: the tracker is not running"));
        };
        let at_s = now.saturating_duration_since(origin).as_secs_f64();
        match self.latest {
            Some(l) if done == l.done => {
                self.latest = Some(Latest { total, ..l });
                return Ok(());
            }
            // A rollback: the pace so far included the work thrown away, and the time lost is
            // no pace of the work to come. The prediction starts over from here (it needs 3
            // reports again), with the run's real times and energies.
            Some(l) if done < l.done => {
                self.points.clear();
            }
            _ => {}
        }
        self.latest = Some(Latest { at_s, done, total });
        let far_enough = self.points.last().is_none_or(|p| done - p.done >= total * MIN_GAP_FRACTION);
        if far_enough {
            self.points.push(ProgressPoint { at_s, done });
            if self.points.len() > MAX_POINTS {
                let mut i = 0;
                self.points.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
            }
        }
        Ok(())
    }

    /// The kept points and the latest report (as the last point), and the latest total.
    pub fn view(&self) -> Option<(Vec<ProgressPoint>, f64)> {
        let l = self.latest?;
        let mut points = self.points.clone();
        if points.last().is_none_or(|p| p.done < l.done) {
            points.push(ProgressPoint { at_s: l.at_s, done: l.done });
        }
        Some((points, l.total))
    }
}

/// The run's cumulative energy and emissions at a measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyPoint {
    pub at_s: f64,
    pub energy_kwh: f64,
    pub emissions_kg: f64,
}

/// Cumulative totals at the measurements, from (0, 0, 0) at start.
#[derive(Debug, Clone)]
pub struct MeasurementLog {
    points: Vec<EnergyPoint>,
}

impl Default for MeasurementLog {
    fn default() -> Self {
        MeasurementLog { points: vec![EnergyPoint { at_s: 0.0, energy_kwh: 0.0, emissions_kg: 0.0 }] }
    }
}

impl MeasurementLog {
    pub fn push(&mut self, p: EnergyPoint) {
        let last = *self.points.last().expect("never empty");
        if p.at_s <= last.at_s {
            // Same moment (a reused measurement): the newer totals.
            if p.at_s == last.at_s {
                *self.points.last_mut().expect("never empty") = p;
            }
            return;
        }
        self.points.push(p);
        if self.points.len() > MAX_MEASUREMENTS {
            // Every other one, keeping the start and the latest.
            let n = self.points.len();
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1 || i == n
            });
        }
    }

    /// Measurements after the start one.
    pub fn measured(&self) -> usize {
        self.points.len() - 1
    }

    /// (energy, emissions) at `at_s`: linear between measurements (constant power in between),
    /// and past the latest one at the power of the last interval.
    pub fn at(&self, at_s: f64) -> (f64, f64) {
        let p = &self.points;
        let i = p.partition_point(|m| m.at_s <= at_s);
        let (a, b) = match i {
            0 => return (0.0, 0.0),
            i if i < p.len() => (p[i - 1], p[i]),
            _ if p.len() >= 2 => (p[p.len() - 2], p[p.len() - 1]),
            _ => return (p[0].energy_kwh, p[0].emissions_kg),
        };
        let f = (at_s - a.at_s) / (b.at_s - a.at_s);
        (a.energy_kwh + f * (b.energy_kwh - a.energy_kwh), a.emissions_kg + f * (b.emissions_kg - a.emissions_kg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(origin: Instant, s: f64) -> Instant {
        origin + Duration::from_secs_f64(s)
    }

    #[test]
    fn reports_are_checked_and_need_a_running_tracker() {
        let mut log = ProgressLog::default();
        let o = Instant::now();
        assert_eq!(log.record(1.0, 10.0, o).unwrap_err().kind, ErrorKind::InvalidState);
        log.begin(o);
        for (d, t) in [(f64::NAN, 1.0), (1.0, 0.0), (2.0, 1.0), (-1.0, 5.0), (1.0, f64::INFINITY)] {
            let e = log.record(d, t, o).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidOption, "{d} {t}");
            assert!(e.message.contains("set_progress"), "{e}");
        }
        assert!(log.is_empty());
        log.record(0.5, 1.0, o).unwrap();
        log.end();
        assert_eq!(log.record(0.6, 1.0, o).unwrap_err().kind, ErrorKind::InvalidState);
    }

    #[test]
    fn points_are_bounded_and_the_latest_is_always_there() {
        let mut log = ProgressLog::default();
        let o = Instant::now();
        log.begin(o);
        for i in 0..=1_000_000 {
            log.record(i as f64, 1e6, at(o, i as f64 * 1e-3)).unwrap();
        }
        let (points, total) = log.view().unwrap();
        assert_eq!(total, 1e6);
        assert!(points.len() <= 1026, "{}", points.len());
        assert_eq!(points.last().unwrap().done, 1e6);
        assert!(points.windows(2).all(|w| w[0].done < w[1].done && w[0].at_s < w[1].at_s));
    }

    #[test]
    fn rollback_drops_later_points_and_same_done_keeps_its_first_time() {
        let mut log = ProgressLog::default();
        let o = Instant::now();
        log.begin(o);
        for i in 0..=10 {
            log.record(i as f64, 10.0, at(o, i as f64)).unwrap();
        }
        log.record(4.0, 10.0, at(o, 11.0)).unwrap(); // back to 4
        log.record(4.0, 20.0, at(o, 12.0)).unwrap(); // same done, new total
        let (points, total) = log.view().unwrap();
        assert_eq!(total, 20.0);
        let last = points.last().unwrap();
        assert_eq!((last.done, last.at_s), (4.0, 11.0));
        assert_eq!(points.len(), 1, "the prediction starts over from the rollback");
    }

    #[test]
    fn a_prediction_after_a_rollback_stays_calibrated() {
        // 2 s and 200 J a step, 100 steps; at 50 (100 s) the work since 20 is lost: back to 20
        // at 101 s, then the same pace, two steps so far. The truth: 101 + 80 x 2 = 261 s.
        let (mut log, mut m) = (ProgressLog::default(), MeasurementLog::default());
        let o = Instant::now();
        log.begin(o);
        let mut report = |done: f64, t: f64| {
            log.record(done, 100.0, at(o, t)).unwrap();
            if t > 0.0 {
                m.push(EnergyPoint { at_s: t, energy_kwh: t * 100.0 / 3.6e6, emissions_kg: 0.0 });
            }
        };
        (0..=50).for_each(|k| report(k as f64, 2.0 * k as f64));
        (20..=22).for_each(|k| report(k as f64, 101.0 + 2.0 * (k - 20) as f64));
        let (points, total) = log.view().unwrap();
        let now_s = 105.0;
        let f = super::super::prediction::forecast(&super::super::prediction::Inputs {
            progress: &points,
            total,
            measurements: &m,
            now_s,
            measured_energy_kwh: now_s * 100.0 / 3.6e6,
            measured_emissions_kg: 0.0,
        });
        let (truth_s, truth_kwh) = (261.0, 261.0 * 100.0 / 3.6e6);
        assert!(f.duration_s.low <= truth_s && truth_s <= f.duration_s.high, "{:?}", f.duration_s);
        assert!(f.energy_kwh.low <= truth_kwh && truth_kwh <= f.energy_kwh.high, "{:?}", f.energy_kwh);
        assert!((f.duration_s.point / truth_s - 1.0).abs() < 0.05, "{:?}", f.duration_s);
    }

    #[test]
    fn energy_between_and_after_measurements() {
        let mut m = MeasurementLog::default();
        m.push(EnergyPoint { at_s: 10.0, energy_kwh: 1.0, emissions_kg: 0.5 });
        m.push(EnergyPoint { at_s: 20.0, energy_kwh: 3.0, emissions_kg: 1.5 });
        assert_eq!(m.at(5.0), (0.5, 0.25));
        assert_eq!(m.at(15.0), (2.0, 1.0));
        assert_eq!(m.at(25.0), (4.0, 2.0)); // at the last interval's power
        assert_eq!(m.measured(), 2);
        for i in 3..5000 {
            m.push(EnergyPoint { at_s: i as f64 * 10.0, energy_kwh: i as f64, emissions_kg: 0.0 });
        }
        assert!(m.points.len() <= MAX_MEASUREMENTS);
        assert_eq!(m.points[0].at_s, 0.0);
        assert_eq!(m.points.last().unwrap().at_s, 49_990.0);
        assert!((m.at(12_345.0).0 - 1234.5).abs() < 1e-9);
    }
}

//! A cumulative energy one rank measured, at the times of its measurements.

use std::collections::VecDeque;

/// The first point is its start, at 0: what it was at any time since, interpolated between
/// measurements.
#[derive(Debug, Clone)]
pub(super) struct History {
    points: VecDeque<(u64, f64)>,
}

/// Points kept at most (a counter that measures rarely, a rank that measures often): past it,
/// every other older point is dropped, so a long stretch is kept at a coarser step, not lost.
const HISTORY_POINTS: usize = 4096;

impl History {
    pub fn new(start_ns: u64) -> History {
        History { points: VecDeque::from([(start_ns, 0.0)]) }
    }

    pub fn push(&mut self, t_ns: u64, added: f64) {
        let total = self.points.back().map_or(0.0, |p| p.1) + added;
        if self.points.len() >= HISTORY_POINTS {
            let old: Vec<(u64, f64)> = self.points.drain(..HISTORY_POINTS / 2).collect();
            for p in old.iter().rev().step_by(2) {
                self.points.push_front(*p);
            }
            if let Some(first) = old.first().filter(|f| self.points.front() != Some(f)) {
                self.points.push_front(*first);
            }
        }
        self.points.push_back((t_ns, total));
    }

    /// The cumulative energy at `t_ns` (the first point's before it, the last one's after it).
    pub fn at(&self, t_ns: u64) -> f64 {
        let i = self.points.partition_point(|p| p.0 <= t_ns);
        match (i.checked_sub(1).and_then(|j| self.points.get(j)), self.points.get(i)) {
            (Some(a), Some(b)) if b.0 > a.0 => a.1 + (b.1 - a.1) * (t_ns - a.0) as f64 / (b.0 - a.0) as f64,
            (Some(a), _) => a.1,
            (None, Some(b)) => b.1,
            (None, None) => 0.0,
        }
    }

    /// Drops the points no later question needs: those before the last one at or before `t_ns`.
    pub fn forget_before(&mut self, t_ns: u64) {
        while self.points.len() > 1 && self.points[1].0 <= t_ns {
            self.points.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_history_thins_its_older_half_and_keeps_its_ends() {
        let mut h = History::new(0);
        for t in 1..=10_000u64 {
            h.push(t, 1.0);
        }
        assert!(h.points.len() <= HISTORY_POINTS);
        assert_eq!(h.at(0), 0.0);
        assert_eq!(h.at(10_000), 10_000.0);
        // Linear energy: thinning loses nothing to interpolation.
        assert!((h.at(1234) - 1234.0).abs() < 1e-9, "{}", h.at(1234));
        assert!((h.at(10_000) - h.at(5000) - 5000.0).abs() < 1e-9);
    }
}

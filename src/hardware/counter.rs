//! One difference for every cumulative counter (RAPL µJ, NVML mJ, process CPU ticks): it tells
//! a first reading from a plain delta, a wrap at the counter's maximum and a reset (driver
//! reload, a process leaving the tree), and each caller decides what a reset is worth.

/// What one new reading of a counter means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first reading: a baseline, nothing to count.
    First,
    /// The counter went up by this much.
    Delta(u64),
    /// The counter went past its maximum and restarted at 0: this much in all.
    Wrapped(u64),
    /// The counter went back without a known maximum to wrap at: it was reset; the new reading
    /// is what it has counted since.
    Reset { since_reset: u64 },
}

impl Step {
    /// The amount for counters that restart from 0 on a reset (energy counters).
    pub fn counted(self) -> u64 {
        match self {
            Step::First => 0,
            Step::Delta(d) | Step::Wrapped(d) => d,
            Step::Reset { since_reset } => since_reset,
        }
    }
}

/// The previous reading of one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterDiff {
    last: Option<u64>,
    /// The counter's maximum (it wraps to 0 after it); 0 when unknown or it never wraps.
    wrap_at: u64,
    /// A sum that can dip and come back (a process tree's CPU time: a member that exits
    /// unreaped leaves it, its time returns once reaped): after a dip the highest reading stays
    /// the baseline, so the time that comes back is not counted twice.
    keeps_highest: bool,
}

impl CounterDiff {
    pub fn new(wrap_at: u64) -> CounterDiff {
        CounterDiff { last: None, wrap_at, keeps_highest: false }
    }

    /// For sums that can dip and come back (see `keeps_highest`); a dip is a `Reset`.
    pub fn keeping_highest() -> CounterDiff {
        CounterDiff { last: None, wrap_at: 0, keeps_highest: true }
    }

    /// Takes a new reading.
    pub fn step(&mut self, now: u64) -> Step {
        let step = match self.last {
            None => Step::First,
            Some(last) if now >= last => Step::Delta(now - last),
            Some(last) if self.wrap_at > 0 && last <= self.wrap_at => Step::Wrapped(self.wrap_at - last + now),
            Some(_) => Step::Reset { since_reset: now },
        };
        if !(self.keeps_highest && matches!(step, Step::Reset { .. })) {
            self.last = Some(now);
        }
        step
    }

    /// Whether a reading was taken.
    pub fn started(&self) -> bool {
        self.last.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_delta_wrap_reset() {
        let mut c = CounterDiff::new(1000);
        assert_eq!(c.step(900), Step::First);
        assert_eq!(c.step(950), Step::Delta(50));
        assert_eq!(c.step(30), Step::Wrapped(80));
        assert_eq!(c.step(30), Step::Delta(0));
        let mut r = CounterDiff::new(0);
        r.step(500);
        assert_eq!(r.step(20), Step::Reset { since_reset: 20 });
        assert_eq!(Step::Reset { since_reset: 20 }.counted(), 20);
        // A reading above the declared maximum cannot be a wrap.
        let mut odd = CounterDiff::new(100);
        odd.step(150);
        assert_eq!(odd.step(10), Step::Reset { since_reset: 10 });
    }

    #[test]
    fn a_sum_that_dips_is_not_counted_twice_when_it_comes_back() {
        let mut tree = CounterDiff::keeping_highest();
        tree.step(100);
        assert_eq!(tree.step(150), Step::Delta(50));
        assert!(matches!(tree.step(120), Step::Reset { .. })); // a child left, not reaped yet
        assert_eq!(tree.step(170), Step::Delta(20)); // reaped: back, plus 20 new
    }
}

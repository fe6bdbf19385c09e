//! One difference for every cumulative counter (RAPL µJ, NVML mJ, process CPU ticks): it tells
//! a first reading from a plain delta, a wrap at the counter's maximum, a reset (driver reload)
//! and a glitch, and never credits a glitch.
//!
//! The rules:
//! - A step up to the physical maximum (`max_per_s` × the time since the last accepted reading,
//!   with slack for when readings are taken) is credited in full; so is a wrap at the declared
//!   maximum that fits it.
//! - A step larger than that, or a step back without a wrap, is *held*: nothing is credited and
//!   the reading becomes a candidate. The next reading decides: if it continues plausibly from
//!   the last accepted reading, the held one was a glitch (the whole time since is credited, so
//!   a transient bad read loses nothing); if it continues from the candidate, the counter really
//!   jumped or restarted: the jump is dropped (a restart from 0 credits what it counted since, if
//!   that fits the physical maximum) and counting goes on from there.
//! - A rate above the physical maximum confirmed by the next reading (both steps up, at rates
//!   within a factor of 2 of each other, below [`CONFIRMABLE`] times the maximum) is real: the
//!   device draws more than its declared limits (a board running "unlimited"). Both steps are
//!   credited and the maximum rises to that rate, so glitches above it are still caught.
//! - A sum that can dip and come back (`keeping_highest`: a process tree's CPU time) keeps its
//!   highest reading as the baseline after a dip, and a dip is not a glitch.

use std::fmt;

/// Time added to every interval when checking a step against the physical maximum: readings
/// are taken a little before or after the interval's bounds, and counters update in steps.
const SLACK_S: f64 = 0.5;
/// And the proportion of the interval added for the same reason.
const SLACK_FACTOR: f64 = 1.5;

/// The most a counter that goes up by at most `max_per_s` a second can step in `dt_s` seconds,
/// with the slack for when readings are taken.
pub fn max_step(max_per_s: f64, dt_s: f64) -> f64 {
    max_per_s * (dt_s.max(0.0) * SLACK_FACTOR + SLACK_S)
}

/// How far above its declared maximum a counter's confirmed rate may be credited.
pub const CONFIRMABLE: f64 = 8.0;

/// What one new reading of a counter means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first reading: a baseline, nothing to count.
    First,
    /// The counter went up by this much.
    Delta(u64),
    /// The counter went past its maximum and restarted at 0: this much in all.
    Wrapped(u64),
    /// The counter restarted (driver reload), confirmed by the reading after the one that went
    /// back: this much counted since the restart.
    Reset { since_reset: u64 },
    /// A `keeping_highest` sum went down (a member left): nothing to count, the highest
    /// reading stays the baseline.
    Dip,
    /// A reading no device could produce from the previous one: held, nothing credited (see
    /// the module's rules).
    Rejected(Glitch),
}

/// Why a reading was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glitch {
    /// The counter went back from `from` to `to`, without a wrap.
    Backwards { from: u64, to: u64 },
    /// The counter went up by `step`, more than the physical maximum `max` for the time since.
    TooLarge { step: u64, max: u64 },
}

impl fmt::Display for Glitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Glitch::Backwards { from, to } => write!(f, "went back from {from} to {to}"),
            Glitch::TooLarge { step, max } => write!(f, "went up by {step}, more than the physical maximum {max} for the time since"),
        }
    }
}

impl Step {
    /// The amount to credit.
    pub fn counted(self) -> u64 {
        match self {
            Step::First | Step::Dip | Step::Rejected(_) => 0,
            Step::Delta(d) | Step::Wrapped(d) => d,
            Step::Reset { since_reset } => since_reset,
        }
    }
}

/// The previous reading of one counter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CounterDiff {
    /// The last accepted reading.
    last: Option<u64>,
    /// The counter's maximum (it wraps to 0 after it); 0 when unknown or it never wraps.
    wrap_at: u64,
    /// The most the counter can go up per second (the source's physical maximum); 0: no limit.
    max_per_s: f64,
    /// The maximum as declared (a confirmed rate may raise `max_per_s` up to [`CONFIRMABLE`]
    /// times this).
    declared_per_s: f64,
    /// A sum that can dip and come back (a process tree's CPU time: a member that exits
    /// unreaped leaves it, its time returns once reaped): after a dip the highest reading stays
    /// the baseline, so the time that comes back is not counted twice.
    keeps_highest: bool,
    /// A held reading, waiting for the next one to tell a glitch from a jump or a restart.
    held: Option<u64>,
    /// Seconds from the last accepted reading to the previous step (over held, dipped or
    /// missed readings).
    since_accepted_s: f64,
    /// Readings held so far (for the callers' log lines).
    rejected: u64,
}

impl CounterDiff {
    pub fn new(wrap_at: u64) -> CounterDiff {
        CounterDiff {
            last: None,
            wrap_at,
            max_per_s: 0.0,
            declared_per_s: 0.0,
            keeps_highest: false,
            held: None,
            since_accepted_s: 0.0,
            rejected: 0,
        }
    }

    /// For sums that can dip and come back (see `keeps_highest`).
    pub fn keeping_highest() -> CounterDiff {
        CounterDiff { keeps_highest: true, ..CounterDiff::new(0) }
    }

    /// Sets the physical maximum: the most the counter can go up per second (0: no limit).
    pub fn with_max_per_s(mut self, max_per_s: f64) -> CounterDiff {
        self.max_per_s = if max_per_s.is_finite() && max_per_s > 0.0 { max_per_s } else { 0.0 };
        self.declared_per_s = self.max_per_s;
        self
    }

    /// The most the counter can go up in `dt_s` seconds, if it has a limit.
    fn limit(&self, dt_s: f64) -> Option<u64> {
        (self.max_per_s > 0.0).then(|| max_step(self.max_per_s, dt_s).ceil().min(u64::MAX as f64) as u64)
    }

    fn fits(&self, d: u64, dt_s: f64) -> bool {
        self.limit(dt_s).is_none_or(|m| d <= m)
    }

    /// `now - from` going forward, through a wrap when the counter has a known maximum.
    fn forward(&self, from: u64, now: u64) -> Option<Step> {
        if now >= from {
            Some(Step::Delta(now - from))
        } else if self.wrap_at > 0 && from <= self.wrap_at {
            Some(Step::Wrapped(self.wrap_at - from + now))
        } else {
            None
        }
    }

    /// Takes a new reading, `dt_s` seconds after the previous one.
    pub fn step(&mut self, now: u64, dt_s: f64) -> Step {
        let Some(last) = self.last else {
            self.last = Some(now);
            return Step::First;
        };
        let elapsed = self.since_accepted_s + dt_s.max(0.0);
        // From the last accepted reading: a plain step (also what follows a transient glitch).
        if let Some(step) = self.forward(last, now) {
            if self.fits(step.counted(), elapsed) {
                return self.accept(now, step);
            }
        } else if self.keeps_highest {
            self.held = None;
            self.since_accepted_s = elapsed;
            return Step::Dip;
        }
        // From a held reading: the counter really jumped or restarted.
        if let Some(held) = self.held {
            if let Some(Step::Delta(d)) = self.forward(held, now).filter(|s| self.fits(s.counted(), dt_s)) {
                let restarted = held < last && self.fits(held, elapsed - dt_s);
                return self.accept(now, if restarted { Step::Reset { since_reset: held + d } } else { Step::Delta(d) });
            }
            if let Some(rate) = self.confirmed_rate(last, held, now, elapsed - dt_s.max(0.0), dt_s) {
                self.max_per_s = self.max_per_s.max(rate);
                return self.accept(now, Step::Delta(now - last));
            }
        }
        let glitch = if now < last {
            Glitch::Backwards { from: last, to: now }
        } else {
            Glitch::TooLarge { step: now - last, max: self.limit(elapsed).unwrap_or(u64::MAX) }
        };
        self.held = Some(now);
        self.since_accepted_s = elapsed;
        self.rejected += 1;
        Step::Rejected(glitch)
    }

    /// The rate of two consecutive steps up, `last` → `held` in `held_s` and `held` → `now` in
    /// `dt_s`, when they agree (within a factor of 2) and stay below [`CONFIRMABLE`] times the
    /// declared maximum: a rate the device really draws.
    fn confirmed_rate(&self, last: u64, held: u64, now: u64, held_s: f64, dt_s: f64) -> Option<f64> {
        if self.max_per_s <= 0.0 || held_s <= 0.0 || dt_s <= 0.0 || held < last || now < held {
            return None;
        }
        let (r1, r2) = ((held - last) as f64 / held_s, (now - held) as f64 / dt_s);
        let (lo, hi) = (r1.min(r2), r1.max(r2));
        (lo > 0.0 && hi <= 2.0 * lo && hi <= CONFIRMABLE * self.declared_per_s).then_some(hi)
    }

    fn accept(&mut self, now: u64, step: Step) -> Step {
        self.last = Some(now);
        self.held = None;
        self.since_accepted_s = 0.0;
        step
    }

    /// A reading that could not be taken (`dt_s` seconds since the previous one): the next
    /// step covers that time too.
    pub fn missed(&mut self, dt_s: f64) {
        if self.last.is_some() {
            self.since_accepted_s += dt_s.max(0.0);
        }
    }

    /// Whether a rejected reading deserves a warning: the first few do, a counter that keeps
    /// glitching does not fill the log.
    pub fn worth_a_warning(&self) -> bool {
        self.rejected <= 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_delta_wrap() {
        let mut c = CounterDiff::new(1000);
        assert_eq!(c.step(900, 1.0), Step::First);
        assert_eq!(c.step(950, 1.0), Step::Delta(50));
        assert_eq!(c.step(30, 1.0), Step::Wrapped(80));
        assert_eq!(c.step(30, 1.0), Step::Delta(0));
    }

    #[test]
    fn a_wrap_must_fit_the_physical_maximum() {
        // 100 units/s at most: a "wrap" that would mean 900 units in 1 s is a glitch.
        let mut c = CounterDiff::new(1000).with_max_per_s(100.0);
        c.step(100, 1.0);
        assert_eq!(c.step(150, 1.0), Step::Delta(50));
        assert!(matches!(c.step(40, 1.0), Step::Rejected(Glitch::Backwards { from: 150, to: 40 })));
        // The next reading continues from 150: the 40 was a bad read; both seconds are credited.
        assert_eq!(c.step(250, 1.0), Step::Delta(100));
        // A real wrap near the top fits.
        let mut w = CounterDiff::new(1000).with_max_per_s(100.0);
        w.step(980, 1.0);
        assert_eq!(w.step(10, 1.0), Step::Wrapped(30));
    }

    #[test]
    fn a_backwards_step_is_held_then_taken_as_a_restart_or_dropped_as_a_glitch() {
        // A restart (driver reload): confirmed by the next reading, which continues from it.
        let mut r = CounterDiff::new(0).with_max_per_s(1000.0);
        r.step(500_000, 1.0);
        assert!(matches!(r.step(200, 1.0), Step::Rejected(Glitch::Backwards { .. })));
        assert_eq!(r.step(1200, 1.0), Step::Reset { since_reset: 1200 });
        assert_eq!(r.step(1700, 1.0), Step::Delta(500));
        // A single bad read (0) between good ones: nothing is lost, nothing is added.
        let mut g = CounterDiff::new(0).with_max_per_s(1000.0);
        g.step(10_000, 1.0);
        assert!(matches!(g.step(0, 1.0), Step::Rejected(_)));
        assert_eq!(g.step(11_400, 1.0), Step::Delta(1400));
        // Without a physical maximum a restart is still confirmed before it counts.
        let mut u = CounterDiff::new(0);
        u.step(500, 1.0);
        assert!(matches!(u.step(20, 1.0), Step::Rejected(_)));
        assert_eq!(u.step(30, 1.0), Step::Reset { since_reset: 30 });
        // A reading above the declared maximum cannot be a wrap.
        let mut odd = CounterDiff::new(100);
        odd.step(150, 1.0);
        assert!(matches!(odd.step(10, 1.0), Step::Rejected(Glitch::Backwards { .. })));
    }

    #[test]
    fn an_impossible_jump_is_never_credited() {
        // 300 W = 300_000 mJ/s at most; one reading 10 MJ ahead is a glitch.
        let mut c = CounterDiff::new(0).with_max_per_s(300_000.0);
        c.step(1_000_000, 1.0);
        assert_eq!(c.step(1_200_000, 1.0), Step::Delta(200_000));
        let Step::Rejected(Glitch::TooLarge { step, max }) = c.step(11_400_000, 1.0) else { panic!() };
        assert_eq!((step, max), (10_200_000, 600_000));
        // Transient: the next reading continues from 1_200_000 (two seconds of 200 W).
        assert_eq!(c.step(1_600_000, 1.0), Step::Delta(400_000));
        // Persistent: the counter jumped and goes on from there; the jump itself is dropped.
        assert!(matches!(c.step(90_000_000, 1.0), Step::Rejected(_)));
        assert_eq!(c.step(90_250_000, 1.0), Step::Delta(250_000));
        assert_eq!(c.step(90_500_000, 1.0), Step::Delta(250_000));
        // A step within the maximum is credited in full however short the interval (slack).
        assert_eq!(c.step(90_600_000, 0.01), Step::Delta(100_000));
    }

    #[test]
    fn a_rate_above_the_maximum_confirmed_by_the_next_reading_is_credited() {
        // A 65 W TDP package (130 W physical maximum) drawing 250 W at 15 s ticks: 3750 J a step.
        let mut c = CounterDiff::new(0).with_max_per_s(130.0);
        c.step(0, 15.0);
        assert!(matches!(c.step(3750, 15.0), Step::Rejected(Glitch::TooLarge { .. })));
        assert_eq!(c.step(7500, 15.0), Step::Delta(7500), "both steps, once the rate is confirmed");
        assert_eq!(c.step(11_250, 15.0), Step::Delta(3750), "and every step after");
        // A glitch far above the confirmed rate is still caught, and one that does not repeat
        // at the same rate is never credited.
        assert!(matches!(c.step(10_000_000, 15.0), Step::Rejected(_)));
        assert_eq!(c.step(15_000, 15.0), Step::Delta(3750));
        let mut g = CounterDiff::new(0).with_max_per_s(130.0);
        g.step(0, 15.0);
        assert!(matches!(g.step(100_000, 15.0), Step::Rejected(_)), "50x the maximum: never a rate");
        assert!(matches!(g.step(200_000, 15.0), Step::Rejected(_)));
    }

    #[test]
    fn a_sum_that_dips_is_not_counted_twice_when_it_comes_back() {
        let mut tree = CounterDiff::keeping_highest();
        tree.step(100, 1.0);
        assert_eq!(tree.step(150, 1.0), Step::Delta(50));
        assert_eq!(tree.step(120, 1.0), Step::Dip); // a child left, not reaped yet
        assert_eq!(tree.step(170, 1.0), Step::Delta(20)); // reaped: back, plus 20 new
        // And its physical maximum (threads x ticks per second) holds too.
        let mut ticks = CounterDiff::keeping_highest().with_max_per_s(200.0);
        ticks.step(0, 1.0);
        assert!(matches!(ticks.step(100_000, 1.0), Step::Rejected(Glitch::TooLarge { .. })));
        assert_eq!(ticks.step(150, 1.0), Step::Delta(150));
    }
}

//! The periodic ticks of every tracker and sampler, on one thread named `carbon-tracker` that
//! sleeps in a single timed wait until the earliest tick is due: one wake-up per due time, the
//! cost of any 1 Hz sampler (an event loop woken by a timer descriptor cost about twice that).
//!
//! Due times are moved up to a process-wide grid (20 ms, finer for short periods), so that
//! trackers started at different moments wake the thread together: 1,000 trackers started
//! within 50 ms share a few wake-ups a second. The schedule itself is kept off the grid, so
//! periods do not drift; a tick is at most one grid step late. A late tick (a suspended machine,
//! a long tick) delays the next ones rather than firing a burst to catch up.

use std::cmp::{Ordering as Order, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;


type Tick = Box<dyn FnMut() -> bool + Send>;

struct Entry {
    period: Duration,
    /// The unaligned schedule.
    deadline: Instant,
    tick: Tick,
    stopped: Arc<AtomicBool>,
}

/// An entry at its due time on the grid. Ordered by (due, id) only.
struct Due {
    at: Instant,
    id: u64,
    entry: Entry,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.id) == (other.at, other.id)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> Order {
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

/// Earliest first; a heap reuses its memory, so a tick allocates nothing.
#[derive(Default)]
struct Schedule {
    due: BinaryHeap<Reverse<Due>>,
}

struct Ticker {
    schedule: Mutex<Schedule>,
    /// Signalled when an earlier tick is added.
    changed: Condvar,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// This process's tick thread (a forked child starts its own). `None` if the thread could not
/// be started: trackers then measure only on flush/stop.
static TICKER: super::per_process::Slot<Option<Arc<Ticker>>> = super::per_process::Slot::new();

fn ticker() -> Option<&'static Arc<Ticker>> {
    TICKER
        .get_or_init(|| {
            let ticker = Arc::new(Ticker { schedule: Mutex::new(Schedule::default()), changed: Condvar::new() });
            let t = ticker.clone();
            std::thread::Builder::new().name("carbon-tracker".into()).spawn(move || t.run()).ok()?;
            Some(ticker)
        })
        .as_ref()
}

/// Stops its periodic tick (the tick running now, if any, finishes).
#[derive(Debug)]
pub struct TickHandle(Arc<AtomicBool>);

impl TickHandle {
    pub fn abort(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Calls `tick` every `period` until it returns false or the handle is aborted. Each call runs
/// inside the fork gate. Returns `None` when the tick thread is not available.
pub fn spawn_periodic(period: Duration, tick: impl FnMut() -> bool + Send + 'static) -> Option<TickHandle> {
    let ticker = ticker()?;
    let stopped = Arc::new(AtomicBool::new(false));
    let entry = Entry { period, deadline: Instant::now() + period, tick: Box::new(tick), stopped: stopped.clone() };
    ticker.insert(entry);
    Some(TickHandle(stopped))
}

impl Ticker {
    fn insert(&self, entry: Entry) {
        let due = Due { at: on_grid(entry.deadline, entry.period), id: NEXT_ID.fetch_add(1, Ordering::Relaxed), entry };
        let mut s = self.schedule.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = s.due.peek().is_none_or(|Reverse(first)| due < *first);
        s.due.push(Reverse(due));
        drop(s);
        if earliest {
            self.changed.notify_one();
        }
    }

    fn run(&self) {
        let mut s = self.schedule.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            let Some(Reverse(first)) = s.due.peek() else {
                s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
                continue;
            };
            if first.at > now {
                let wait = first.at - now;
                s = self.changed.wait_timeout(s, wait).unwrap_or_else(|p| p.into_inner()).0;
                continue;
            }
            let Reverse(Due { id, mut entry, .. }) = s.due.pop().expect("peeked");
            drop(s);
            let again = !entry.stopped.load(Ordering::SeqCst) && super::gated(&mut entry.tick);
            s = self.schedule.lock().unwrap_or_else(|p| p.into_inner());
            if again && !entry.stopped.load(Ordering::SeqCst) {
                let now = Instant::now();
                let next = entry.deadline + entry.period;
                entry.deadline = if now >= next { now + entry.period } else { next };
                s.due.push(Reverse(Due { at: on_grid(entry.deadline, entry.period), id, entry }));
            }
        }
    }
}

/// `deadline` moved up to the next multiple of a process-wide grid (20 ms, finer for short
/// periods).
fn on_grid(deadline: Instant, period: Duration) -> Instant {
    static ORIGIN: Lazy<Instant> = Lazy::new(Instant::now);
    let grid = Duration::from_millis(20).min(period / 4).as_nanos().max(1);
    let since = deadline.saturating_duration_since(*ORIGIN).as_nanos();
    let up = since.div_ceil(grid) * grid - since;
    deadline + Duration::from_nanos(up as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn deadlines_on_the_grid_coincide_and_are_never_early() {
        let period = Duration::from_secs(1);
        let base = Instant::now() + Duration::from_millis(100);
        let a = on_grid(base, period);
        let b = on_grid(base + Duration::from_millis(3), period);
        assert!(a >= base && a - base <= Duration::from_millis(20));
        assert!(b >= base + Duration::from_millis(3));
        // Two deadlines 3 ms apart land on the same grid point unless a grid line falls between.
        assert!(a == b || b - a == Duration::from_millis(20));
        assert_eq!(on_grid(a, period), a, "a point on the grid stays");
        // Short periods get a finer grid: a 4 ms period moves by at most 1 ms.
        let c = on_grid(base, Duration::from_millis(4));
        assert!(c >= base && c - base <= Duration::from_millis(1));
    }

    #[test]
    fn ticks_until_told_to_stop_or_aborted() {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        spawn_periodic(Duration::from_millis(5), move || m.fetch_add(1, Ordering::SeqCst) < 2).unwrap();
        let k = Arc::new(AtomicUsize::new(0));
        let l = k.clone();
        let handle = spawn_periodic(Duration::from_millis(5), move || {
            l.fetch_add(1, Ordering::SeqCst);
            true
        })
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while (n.load(Ordering::SeqCst) < 3 || k.load(Ordering::SeqCst) < 3) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        handle.abort();
        let after_abort = k.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(n.load(Ordering::SeqCst), 3, "stopped by returning false");
        assert!(k.load(Ordering::SeqCst) <= after_abort + 1, "at most the tick running at abort");
    }

    #[test]
    fn an_earlier_tick_added_later_wakes_the_thread() {
        // A slow tick is waited for first; a fast one added after must not wait behind it.
        let _slow = spawn_periodic(Duration::from_secs(3600), || true).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let started = Instant::now();
        spawn_periodic(Duration::from_millis(30), move || {
            let _ = tx.send(Instant::now());
            false
        })
        .unwrap();
        let at = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(at - started >= Duration::from_millis(29), "never early");
    }
}

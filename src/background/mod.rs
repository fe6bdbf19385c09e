//! Background work, the bottom layer: one process-wide current-thread tokio runtime driven by a
//! single thread named `carbon-tracker`, shared by every tracker (1,000 trackers = 1,000 tasks,
//! 1 thread), its tick timer, and the fork gate.
//!
//! Everything spawned here runs inside the fork gate by construction: each poll of a spawned
//! task, each periodic tick and each blocking job holds the gate's read lock, so `fork()` never
//! happens in the middle of one. Network waits step out of the gate ([`outside_fork_gate`], used by the HTTP client).

mod fork_gate;
mod timer;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use tokio::runtime::{Builder, Handle};
use tokio::task::AbortHandle;

pub use fork_gate::released as outside_fork_gate;

/// `None` if the thread could not be started: trackers then measure only on flush/stop.
static HANDLE: Lazy<Option<Handle>> = Lazy::new(|| {
    fork_gate::install();
    // Blocking work (HTTP) runs on tokio's blocking pool: threads are made only when a tracker
    // uses the network and leave after 10 s idle.
    let rt = Builder::new_current_thread()
        .enable_time()
        .enable_io() // for the tick timer's timerfd
        .max_blocking_threads(8)
        .thread_name("carbon-tracker-net")
        .thread_keep_alive(Duration::from_secs(10))
        .build()
        .ok()?;
    let handle = rt.handle().clone();
    handle.spawn(Gated(timer::run()));
    std::thread::Builder::new()
        .name("carbon-tracker".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .ok()?;
    Some(handle)
});

/// A future whose every poll runs inside the fork gate.
struct Gated<F>(F);

impl<F: Future> Future for Gated<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _no_fork_now = fork_gate::enter();
        // SAFETY: structural pinning; the inner future is never moved out of `self`.
        unsafe { self.map_unchecked_mut(|g| &mut g.0) }.poll(cx)
    }
}

/// Runs `task` on the background runtime. Returns `None` when no runtime is available.
pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Option<AbortHandle> {
    Some(HANDLE.as_ref()?.spawn(Gated(task)).abort_handle())
}

/// Calls `tick` every `period` until it returns false or the task is aborted.
/// Returns `None` when no background runtime is available.
pub fn spawn_periodic(period: Duration, mut tick: impl FnMut() -> bool + Send + 'static) -> Option<AbortHandle> {
    spawn(async move {
        let mut deadline = Instant::now() + period;
        loop {
            timer::sleep_until(on_grid(deadline, period)).await;
            // A late tick (a suspended machine, a busy runtime) delays the next ones rather than
            // firing a burst to catch up.
            let now = Instant::now();
            deadline = if now >= deadline + period { now + period } else { deadline + period };
            if !tick() {
                break;
            }
        }
    })
}

/// Runs blocking `job` (network I/O) on the runtime's blocking pool, inside the fork gate, and
/// waits for it without occupying the runtime thread. `None` if the job panicked.
pub async fn blocking<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(move || {
        let _no_fork_now = fork_gate::enter();
        job()
    })
    .await
    .ok()
}

/// Runs blocking `job` in the background and forgets it. Returns false when no runtime exists.
pub fn spawn_blocking(job: impl FnOnce() + Send + 'static) -> bool {
    spawn(async move {
        blocking(job).await;
    })
    .is_some()
}

/// `deadline` moved up to the next multiple of a process-wide grid (20 ms, finer for short
/// periods), so that trackers started at different moments wake the runtime together: 1,000
/// trackers started within 50 ms share about 3 wake-ups a second instead of 1,000. The schedule
/// itself is kept off the grid, so periods do not drift; a tick is at most one grid step late.
fn on_grid(deadline: Instant, period: Duration) -> Instant {
    static ORIGIN: Lazy<Instant> = Lazy::new(Instant::now);
    let grid = Duration::from_millis(20).min(period / 4).as_nanos().max(1);
    let since = deadline.saturating_duration_since(*ORIGIN).as_nanos();
    let up = since.div_ceil(grid) * grid - since;
    deadline + Duration::from_nanos(up as u64)
}

#[cfg(test)]
fn handle() -> Option<&'static Handle> {
    HANDLE.as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

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
    fn ticks_until_told_to_stop() {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        spawn_periodic(Duration::from_millis(5), move || m.fetch_add(1, Ordering::SeqCst) < 2).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while n.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn all_spawned_work_runs_inside_the_gate_and_network_waits_outside() {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = tx.clone();
        spawn_periodic(Duration::from_millis(5), move || {
            t.send(("tick", fork_gate::inside())).unwrap();
            false
        })
        .unwrap();
        let t = tx.clone();
        spawn(async move {
            t.send(("task", fork_gate::inside())).unwrap();
            let t2 = t.clone();
            blocking(move || {
                t2.send(("blocking", fork_gate::inside())).unwrap();
                t2.send(("released", outside_fork_gate(fork_gate::inside))).unwrap();
                t2.send(("after", fork_gate::inside())).unwrap();
            })
            .await;
        })
        .unwrap();
        let mut got: Vec<(&str, bool)> = (0..5).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        got.sort();
        assert_eq!(got, vec![("after", true), ("blocking", true), ("released", false), ("task", true), ("tick", true)]);
        assert!(!fork_gate::inside(), "the caller's thread is never inside");
    }
}

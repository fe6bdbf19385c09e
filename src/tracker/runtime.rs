//! The one process-wide background runtime: a current-thread tokio runtime driven by a single
//! thread named `carbon-tracker`, shared by every tracker (1,000 trackers = 1,000 tasks, 1 thread).

use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use tokio::runtime::{Builder, Handle};
use tokio::task::AbortHandle;

/// `None` if the thread could not be started: trackers then measure only on flush/stop.
static HANDLE: Lazy<Option<Handle>> = Lazy::new(|| {
    super::fork_gate::install();
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
    handle.spawn(super::timer::run());
    std::thread::Builder::new()
        .name("carbon-tracker".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .ok()?;
    Some(handle)
});

/// Calls `tick` every `period` until it returns false or the task is aborted. Each call runs
/// inside the fork gate, so `fork()` never happens in the middle of one.
/// Returns `None` when no background runtime is available.
pub fn spawn_periodic(period: Duration, mut tick: impl FnMut() -> bool + Send + 'static) -> Option<AbortHandle> {
    let handle = HANDLE.as_ref()?;
    let task = handle.spawn(async move {
        let mut deadline = Instant::now() + period;
        loop {
            super::timer::sleep_until(deadline).await;
            // A late tick (a suspended machine, a busy runtime) delays the next ones rather than
            // firing a burst to catch up.
            let now = Instant::now();
            deadline = if now >= deadline + period { now + period } else { deadline + period };
            let _no_fork_now = super::fork_gate::enter();
            if !tick() {
                break;
            }
        }
    });
    Some(task.abort_handle())
}

/// The shared runtime, to spawn async tasks on (None if its thread could not start).
pub fn handle() -> Option<&'static Handle> {
    HANDLE.as_ref()
}

/// Runs blocking `f` (network I/O) off the caller's thread. Returns false when no runtime exists.
pub fn spawn_blocking(f: impl FnOnce() + Send + 'static) -> bool {
    match HANDLE.as_ref() {
        Some(h) => {
            h.spawn_blocking(f);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

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
}

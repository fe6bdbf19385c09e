//! Background work, the bottom layer: one thread named `carbon-tracker` that runs every periodic
//! tick of every tracker and sampler ([`spawn_periodic`]), and, only for trackers that use the
//! network, a current-thread tokio runtime (`carbon-tracker-net`) with its blocking pool for
//! uploads and lookups ([`spawn`], [`blocking`], [`spawn_blocking`]).
//!
//! Everything spawned here runs inside the fork gate by construction: each tick, each poll of a
//! spawned task and each blocking job holds the gate's read lock, so `fork()` never happens in
//! the middle of one; the C ABI's entry points run inside it too ([`inside_fork_gate`]). Their
//! log lines reach a logging callback after them, with no lock held. Waits step out of the gate
//! ([`outside_fork_gate`], used by the HTTP client and by `stop` waiting for its uploads).
//!
//! A forked child has none of the parent's threads: its first tick or network job starts its
//! own (the parent's runtime and schedule, whose locks a parent thread may have held at the
//! fork, are never touched there).

mod fork_gate;
mod per_process;
mod ticker;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::runtime::{Builder, Handle};
use tokio::task::AbortHandle;

pub use fork_gate::released as outside_fork_gate;
pub use ticker::{spawn_periodic, TickHandle};

use crate::log::Held;

/// Runs `work` (library code called from outside: a C ABI entry point) inside the fork gate,
/// holding its log lines. Returns its value and the lines, to deliver once the caller holds no
/// lock.
pub fn inside_fork_gate<T>(work: impl FnOnce() -> T) -> (T, Held) {
    let logs = crate::log::defer();
    let _no_fork_now = fork_gate::enter();
    let value = work();
    (value, logs.finish())
}

/// Runs `work` inside the fork gate and delivers its log lines after.
fn gated<T>(work: impl FnOnce() -> T) -> T {
    let (value, held) = inside_fork_gate(work);
    held.deliver();
    value
}

/// This process's network runtime, started by its first network job; `None` if its thread
/// could not be started.
static RUNTIME: per_process::Slot<Option<Handle>> = per_process::Slot::new();

fn runtime() -> Option<Handle> {
    RUNTIME.get_or_init(|| {
        // Blocking work (HTTP) runs on tokio's blocking pool: threads are made only when a tracker
        // uses the network and leave after 10 s idle.
        let rt = Builder::new_current_thread()
            .enable_time() // upload backoff
            .max_blocking_threads(8)
            .thread_name("carbon-tracker-net")
            .thread_keep_alive(Duration::from_secs(10))
            .build()
            .ok()?;
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("carbon-tracker-net".into())
            .spawn(move || rt.block_on(std::future::pending::<()>()))
            .ok()?;
        Some(handle)
    })
    .clone()
}

/// A future whose every poll runs inside the fork gate.
struct Gated<F>(F);

impl<F: Future> Future for Gated<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning; the inner future is never moved out of `self`.
        gated(|| unsafe { self.map_unchecked_mut(|g| &mut g.0) }.poll(cx))
    }
}

/// Runs `task` on the background runtime. Returns `None` when no runtime is available.
pub fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Option<AbortHandle> {
    Some(runtime()?.spawn(Gated(task)).abort_handle())
}

/// Runs blocking `job` (network I/O) on the runtime's blocking pool, inside the fork gate, and
/// waits for it without occupying the runtime thread. `None` if the job panicked.
pub async fn blocking<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(move || gated(job))
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

#[cfg(test)]
mod tests {
    use super::*;

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

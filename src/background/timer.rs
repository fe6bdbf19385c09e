//! Sleeps for the background ticks that cost one wake-up each.
//!
//! tokio's timer wheel files a deadline more than 64 ms away in a coarse slot: the runtime
//! thread wakes at the start of that slot, moves the timer to a finer one and sleeps again, so a
//! 1 s tick cost two wake-ups (measured: 2 futex time-outs per tick, ~45 µs of CPU each on a
//! VM). Here every sleeping tick waits in one ordered map and a single `timerfd`, armed for the
//! earliest deadline, wakes the runtime exactly when it is due. Elsewhere than Linux, or if the
//! timerfd cannot be made, tokio's timer is used.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Deadlines closer than this are treated as due (no second wake-up for a few µs).
const SLACK: Duration = Duration::from_micros(500);

/// (deadline, sleep id) -> the waker of the task sleeping until then.
static SLEEPERS: Mutex<BTreeMap<(Instant, u64), Waker>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Sleeps until `deadline`; must be awaited on the background runtime.
pub async fn sleep_until(deadline: Instant) {
    if fd::available() {
        Sleep { deadline, id: NEXT_ID.fetch_add(1, Ordering::Relaxed), filed: false }.await
    } else {
        tokio::time::sleep_until(deadline.into()).await
    }
}

struct Sleep {
    deadline: Instant,
    id: u64,
    filed: bool,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() + SLACK >= self.deadline {
            return Poll::Ready(());
        }
        let key = (self.deadline, self.id);
        let mut sleepers = SLEEPERS.lock().unwrap_or_else(|p| p.into_inner());
        sleepers.insert(key, cx.waker().clone());
        self.filed = true;
        if sleepers.keys().next() == Some(&key) {
            fd::arm(self.deadline);
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if self.filed {
            // An aborted tick: forget it (the timer may still fire once for it; harmless).
            SLEEPERS.lock().unwrap_or_else(|p| p.into_inner()).remove(&(self.deadline, self.id));
        }
    }
}

/// Wakes the tasks that are due and re-arms the timer for the next one.
fn wake_due() {
    let now = Instant::now() + SLACK;
    let mut due = Vec::new();
    {
        let mut sleepers = SLEEPERS.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(entry) = sleepers.first_entry() {
            if entry.key().0 > now {
                fd::arm(entry.key().0);
                break;
            }
            due.push(entry.remove());
        }
    }
    for waker in due {
        waker.wake();
    }
}

/// Started once on the background runtime: waits on the timerfd and wakes sleepers.
pub async fn run() {
    fd::run().await
}

#[cfg(target_os = "linux")]
mod fd {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;

    use once_cell::sync::OnceCell;
    use tokio::io::unix::AsyncFd;

    static TIMER: OnceCell<Option<OwnedFd>> = OnceCell::new();

    fn timer() -> Option<&'static OwnedFd> {
        TIMER
            .get_or_init(|| {
                // SAFETY: plain syscall; a non-negative result is a new fd that we own.
                let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
                // SAFETY: as above.
                (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
            })
            .as_ref()
    }

    pub fn available() -> bool {
        timer().is_some()
    }

    /// Makes the timer fire at `deadline` (at once if it has passed).
    pub fn arm(deadline: Instant) {
        let Some(fd) = timer() else { return };
        // At least 1 ns: an all-zero value would disarm it.
        let wait = deadline.saturating_duration_since(Instant::now()).max(std::time::Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec { tv_sec: wait.as_secs() as libc::time_t, tv_nsec: wait.subsec_nanos() as libc::c_long },
        };
        // SAFETY: valid fd and itimerspec; the old value is not wanted.
        unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    }

    pub async fn run() {
        let Some(fd) = timer() else { return };
        // SAFETY: the timerfd lives in a static and is never closed, so the raw fd stays valid
        // and refers to the same timer for as long as this registration exists.
        let Ok(async_fd) = (unsafe { AsyncFd::register(fd.as_raw_fd()) }) else { return };
        loop {
            let Ok(mut ready) = async_fd.readable().await else { return };
            let mut expirations = [0u8; 8];
            // SAFETY: reads 8 bytes into an 8-byte buffer from our non-blocking timerfd.
            let n = unsafe { libc::read(fd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
            if n < 0 {
                ready.clear_ready(); // EAGAIN: wait for the next expiration
            } else {
                super::wake_due();
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod fd {
    pub fn available() -> bool {
        false
    }
    pub fn arm(_: std::time::Instant) {}
    pub async fn run() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_end_in_deadline_order_and_not_early() {
        let handle = super::super::handle().expect("runtime");
        let start = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        for ms in [40u64, 10, 30, 20] {
            let tx = tx.clone();
            handle.spawn(async move {
                let deadline = start + Duration::from_millis(ms);
                sleep_until(deadline).await;
                tx.send((ms, Instant::now() + SLACK >= deadline)).unwrap();
            });
        }
        // An aborted sleep must not disturb the others.
        let aborted = handle.spawn(async move { sleep_until(start + Duration::from_millis(15)).await });
        aborted.abort();
        let got: Vec<(u64, bool)> = (0..4).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        assert_eq!(got, vec![(10, true), (20, true), (30, true), (40, true)]);
    }
}

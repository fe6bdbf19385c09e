//! Fork safety for the library's own threads. Background work takes tracker and sampler locks;
//! if the program forks at that moment, the child inherits those locks held by a thread that
//! does not exist there, and its first flush deadlocks. So every piece of background work runs
//! inside the gate (a read lock, taken by [`super`]'s spawn functions, never by hand), and a
//! `pthread_atfork` prepare handler takes the write lock: `fork()` waits for the work in
//! progress (microseconds) and none starts during it. Network waits leave the gate
//! ([`released`]), so a slow server never delays a fork. The child has no background thread; its
//! trackers still flush and stop on the caller's thread.

use std::cell::{Cell, UnsafeCell};
use std::sync::Once;

struct Gate(UnsafeCell<libc::pthread_rwlock_t>);
// SAFETY: a pthread rwlock is made to be shared between threads.
unsafe impl Sync for Gate {}

static GATE: Gate = Gate(UnsafeCell::new(libc::PTHREAD_RWLOCK_INITIALIZER));
static REGISTER: Once = Once::new();

thread_local! {
    /// How many times this thread is inside the gate (nested spawns poll inside each other).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

extern "C" fn prepare() {
    // SAFETY: GATE is a valid, initialised rwlock for the life of the process.
    unsafe { libc::pthread_rwlock_wrlock(GATE.0.get()) };
}

extern "C" fn release() {
    // SAFETY: the prepare handler of this fork took the write lock.
    unsafe { libc::pthread_rwlock_unlock(GATE.0.get()) };
}

/// Registers the fork handlers (once per process).
pub(super) fn install() {
    // SAFETY: the handlers only lock/unlock GATE.
    REGISTER.call_once(|| unsafe {
        libc::pthread_atfork(Some(prepare), Some(release), Some(release));
    });
}

/// Held while background work runs. Only this layer makes one.
pub(super) struct Entered(());

pub(super) fn enter() -> Entered {
    if DEPTH.with(|d| d.replace(d.get() + 1)) == 0 {
        // SAFETY: GATE is valid; the read lock is released in Drop.
        unsafe { libc::pthread_rwlock_rdlock(GATE.0.get()) };
    }
    Entered(())
}

impl Drop for Entered {
    fn drop(&mut self) {
        if DEPTH.with(|d| d.replace(d.get() - 1)) == 1 {
            // SAFETY: taken in `enter` by this thread.
            unsafe { libc::pthread_rwlock_unlock(GATE.0.get()) };
        }
    }
}

/// Runs `wait` (a network request) outside the gate if this thread is inside it, so that
/// `fork()` is not held up by a slow server. `wait` must not hold a library lock.
pub fn released<T>(wait: impl FnOnce() -> T) -> T {
    struct Reenter(u32);
    impl Drop for Reenter {
        fn drop(&mut self) {
            if self.0 > 0 {
                // SAFETY: GATE is valid; re-taken for the work that follows (also on unwind).
                unsafe { libc::pthread_rwlock_rdlock(GATE.0.get()) };
            }
            DEPTH.with(|d| d.set(self.0));
        }
    }
    let depth = DEPTH.with(|d| d.replace(0));
    if depth > 0 {
        // SAFETY: this thread holds the read lock (depth > 0).
        unsafe { libc::pthread_rwlock_unlock(GATE.0.get()) };
    }
    let _reenter = Reenter(depth);
    wait()
}

#[cfg(test)]
pub(super) fn inside() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

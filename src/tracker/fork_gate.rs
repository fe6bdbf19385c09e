//! Fork safety for the library's own threads. The background thread takes tracker and sampler
//! locks while it works; if the program forks at that moment, the child inherits those locks
//! held by a thread that does not exist there, and its first flush deadlocks. So background work
//! runs inside `enter()` (a read lock), and a `pthread_atfork` prepare handler takes the write
//! lock: `fork()` waits for the work in progress (microseconds) and none starts during it. The
//! child has no background thread; its trackers still flush and stop on the caller's thread.

use std::cell::UnsafeCell;
use std::sync::Once;

struct Gate(UnsafeCell<libc::pthread_rwlock_t>);
// SAFETY: a pthread rwlock is made to be shared between threads.
unsafe impl Sync for Gate {}

static GATE: Gate = Gate(UnsafeCell::new(libc::PTHREAD_RWLOCK_INITIALIZER));
static REGISTER: Once = Once::new();

extern "C" fn prepare() {
    // SAFETY: GATE is a valid, initialised rwlock for the life of the process.
    unsafe { libc::pthread_rwlock_wrlock(GATE.0.get()) };
}

extern "C" fn release() {
    // SAFETY: the prepare handler of this fork took the write lock.
    unsafe { libc::pthread_rwlock_unlock(GATE.0.get()) };
}

/// Registers the fork handlers (once per process).
pub fn install() {
    // SAFETY: the handlers only lock/unlock GATE.
    REGISTER.call_once(|| unsafe {
        libc::pthread_atfork(Some(prepare), Some(release), Some(release));
    });
}

/// Held while background work runs.
pub struct Entered(());

pub fn enter() -> Entered {
    // SAFETY: GATE is valid; the read lock is released in Drop.
    unsafe { libc::pthread_rwlock_rdlock(GATE.0.get()) };
    Entered(())
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: taken in `enter` by this thread.
        unsafe { libc::pthread_rwlock_unlock(GATE.0.get()) };
    }
}

//! Fork safety. Library code takes global locks (the hardware cache, possibly during a slow NVML
//! probe; the CSV file locks; the samplers; the location lookups; the log callback) and each
//! tracker's lock; if the program forks while another thread holds one, the child inherits it
//! held by a thread that does not exist there, and its first use deadlocks. So all library code
//! runs inside the gate (a read lock): every entry point of the C ABI (taken by `ffi`'s guard),
//! every background tick, every poll of a spawned task and every blocking job (taken by
//! [`super`]'s spawn functions). A `pthread_atfork` prepare handler takes the write lock:
//! `fork()` waits for the library work in progress (microseconds, a first hardware probe at
//! worst) and none starts during it. The lock prefers writers, so a fork is not starved by
//! threads that keep calling in. Waits for another thread (network requests, `stop` waiting
//! for its uploads) step out of the gate ([`released`]), holding no library lock.
//!
//! The threads the library starts do not exist in a child: [`super`] starts new ones there
//! when the child's trackers need them.

use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

struct Gate(UnsafeCell<MaybeUninit<libc::pthread_rwlock_t>>);
// SAFETY: a pthread rwlock is made to be shared between threads.
unsafe impl Sync for Gate {}

static GATE: Gate = Gate(UnsafeCell::new(MaybeUninit::uninit()));
static INIT: Once = Once::new();
/// Set by a prepare handler that did not take the lock (the forking thread was inside the gate).
static PREPARE_SKIPPED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// How many times this thread is inside the gate (entry points and polls nest).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

fn gate() -> *mut libc::pthread_rwlock_t {
    GATE.0.get().cast()
}

/// glibc's `PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP`: a waiting writer blocks new readers
/// (safe here: a thread never takes the read lock twice, see `DEPTH`).
#[cfg(target_env = "gnu")]
const PREFER_WRITER_NONRECURSIVE: libc::c_int = 2;

extern "C" fn prepare() {
    // A fork from inside the library (never done by the library itself) must not wait for
    // its own read lock.
    if DEPTH.try_with(|d| d.get() > 0).unwrap_or(false) {
        PREPARE_SKIPPED.store(true, Ordering::SeqCst);
        return;
    }
    // SAFETY: the lock was initialised before this handler was registered.
    unsafe { libc::pthread_rwlock_wrlock(gate()) };
}

extern "C" fn in_parent() {
    if PREPARE_SKIPPED.swap(false, Ordering::SeqCst) {
        return;
    }
    // SAFETY: the prepare handler of this fork took the write lock.
    unsafe { libc::pthread_rwlock_unlock(gate()) };
}

/// In the child the lock is made anew rather than unlocked: its state still counts the
/// parent's threads that were waiting for it, which do not exist here.
extern "C" fn in_child() {
    if PREPARE_SKIPPED.swap(false, Ordering::SeqCst) {
        return; // this thread still holds its read lock and releases it as usual
    }
    // SAFETY: the child has this one thread, which holds the lock; nothing else can use it.
    unsafe { init_lock() };
}

/// Initialises the lock, preferring writers where the C library can.
///
/// # Safety
/// Nobody may use the lock meanwhile.
unsafe fn init_lock() {
    // SAFETY: as the caller promised; the attribute lives for the call.
    unsafe {
        let mut attr: libc::pthread_rwlockattr_t = std::mem::zeroed();
        libc::pthread_rwlockattr_init(&mut attr);
        #[cfg(target_env = "gnu")]
        libc::pthread_rwlockattr_setkind_np(&mut attr, PREFER_WRITER_NONRECURSIVE);
        libc::pthread_rwlock_init(gate(), &attr);
        libc::pthread_rwlockattr_destroy(&mut attr);
    }
}

/// Initialises the lock and registers the fork handlers (once per process).
fn install() {
    // SAFETY: the lock is initialised once, before any use; the handlers only lock, unlock or
    // re-initialise it.
    INIT.call_once(|| unsafe {
        init_lock();
        libc::pthread_atfork(Some(prepare), Some(in_parent), Some(in_child));
    });
}

/// Held while library code runs. Only this layer makes one.
pub(super) struct Entered(());

pub(super) fn enter() -> Entered {
    install();
    if DEPTH.with(|d| d.replace(d.get() + 1)) == 0 {
        // SAFETY: initialised by `install`; the read lock is released in Drop.
        unsafe { libc::pthread_rwlock_rdlock(gate()) };
    }
    Entered(())
}

impl Drop for Entered {
    fn drop(&mut self) {
        if DEPTH.with(|d| d.replace(d.get() - 1)) == 1 {
            // SAFETY: taken in `enter` by this thread.
            unsafe { libc::pthread_rwlock_unlock(gate()) };
        }
    }
}

/// Runs `wait` (a network request, a wait for another thread) outside the gate if this thread
/// is inside it, so that `fork()` is not held up meanwhile and the thread waited for can enter.
/// `wait` must not hold a library lock.
pub fn released<T>(wait: impl FnOnce() -> T) -> T {
    struct Reenter(u32);
    impl Drop for Reenter {
        fn drop(&mut self) {
            if self.0 > 0 {
                // SAFETY: initialised (this thread was inside); re-taken for the work that
                // follows (also on unwind).
                unsafe { libc::pthread_rwlock_rdlock(gate()) };
            }
            DEPTH.with(|d| d.set(self.0));
        }
    }
    let depth = DEPTH.with(|d| d.replace(0));
    if depth > 0 {
        // SAFETY: this thread holds the read lock (depth > 0).
        unsafe { libc::pthread_rwlock_unlock(gate()) };
    }
    let _reenter = Reenter(depth);
    wait()
}

#[cfg(test)]
pub(super) fn inside() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

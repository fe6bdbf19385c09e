//! A value made once per process: a forked child makes its own instead of using the parent's
//! (whose threads are not in the child, and whose locks a parent thread may have held at the
//! fork). Lock-free, so a child never waits for a lock taken in the parent. A parent's value
//! stays allocated in the child, unused (its threads and locks cannot be cleaned up there).

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

struct Entry<T> {
    pid: u32,
    value: T,
}

pub(super) struct Slot<T> {
    entry: AtomicPtr<Entry<T>>,
    /// The process whose thread is making the value (0: none).
    making: AtomicU32,
}

impl<T> Slot<T> {
    pub(super) const fn new() -> Slot<T> {
        Slot { entry: AtomicPtr::new(std::ptr::null_mut()), making: AtomicU32::new(0) }
    }

    fn current(&self, pid: u32) -> Option<&T> {
        let e = self.entry.load(Ordering::Acquire);
        // SAFETY: entries are never freed; a non-null pointer is a complete entry (Release store).
        (!e.is_null() && unsafe { (*e).pid } == pid).then(|| unsafe { &(*e).value })
    }

    /// This process's value, made by `make` on first use (one thread makes it, others of the
    /// same process wait for it).
    pub(super) fn get_or_init(&self, make: impl FnOnce() -> T) -> &T {
        let pid = std::process::id();
        let mut make = Some(make);
        loop {
            if let Some(v) = self.current(pid) {
                return v;
            }
            let making = self.making.load(Ordering::Acquire);
            if making == pid {
                std::thread::yield_now(); // another thread of this process is at it
                continue;
            }
            // 0, or a parent's thread that was making it when we were forked (it is not here).
            if self.making.compare_exchange(making, pid, Ordering::AcqRel, Ordering::Acquire).is_err() {
                continue;
            }
            struct Done<'a>(&'a AtomicU32);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    self.0.store(0, Ordering::Release);
                }
            }
            let _done = Done(&self.making);
            if let Some(v) = self.current(pid) {
                return v; // made between our first look and the claim
            }
            let value = (make.take().expect("made once"))();
            let entry = Box::into_raw(Box::new(Entry { pid, value }));
            // The previous entry, if any, is the parent's: left allocated.
            self.entry.store(entry, Ordering::Release);
            // SAFETY: just allocated, never freed.
            return unsafe { &(*entry).value };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn made_once_by_racing_threads() {
        static SLOT: Slot<usize> = Slot::new();
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    *SLOT.get_or_init(|| {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        MADE.fetch_add(1, Ordering::SeqCst) + 100
                    })
                })
            })
            .collect();
        let got: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(got.iter().all(|v| *v == 100), "{got:?}");
        assert_eq!(MADE.load(Ordering::SeqCst), 1);
    }
}

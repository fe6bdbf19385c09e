//! The log callback may call the tracker (Rust API): the lines a tracker makes while it holds
//! its lock reach the callback once the lock is released. A callback that calls `peek` and
//! `flush` on the tracker that logged must not deadlock (the test gives up after 30 s).

use crate::support;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use carbon_tracker::{set_logger, Options, Tracker};

static TRACKER: OnceLock<Tracker> = OnceLock::new();
static CALLED_BACK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static IN_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[test]
fn a_log_callback_that_calls_the_tracker_does_not_deadlock() {
    support::in_own_process(module_path!(), "a_log_callback_that_calls_the_tracker_does_not_deadlock", || {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options::new()
            .country_iso_code("FRA")
            .offline(true)
            .log_level(carbon_tracker::LogLevel::Debug)
            .output_dir(dir.path())
            .measure_power_secs(3600.0);
        assert!(TRACKER.set(Tracker::new(opts).unwrap()).is_ok());
        set_logger(Some(Arc::new(|_, _line: &str| {
            // Once per line, not again for the lines the calls below make.
            if IN_CALLBACK.with(|c| c.replace(true)) {
                return;
            }
            let t = TRACKER.get().unwrap();
            if t.is_running() {
                let _ = t.peek();
                let _ = t.flush();
                CALLED_BACK.fetch_add(1, Ordering::SeqCst);
            }
            IN_CALLBACK.with(|c| c.set(false));
        })));
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let t = TRACKER.get().unwrap();
            t.start().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            t.flush().unwrap(); // logs its measurement (debug) under the tracker's lock
            let _ = t.stop();
            done.send(()).unwrap();
        });
        let outcome = finished.recv_timeout(Duration::from_secs(30));
        set_logger(None);
        assert!(outcome.is_ok(), "flush with a log callback that calls the tracker deadlocked");
        assert!(CALLED_BACK.load(Ordering::SeqCst) > 0, "the callback called the running tracker");
    });
}

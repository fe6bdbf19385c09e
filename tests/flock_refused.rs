//! A file system that refuses `flock` (ENOLCK or EOPNOTSUPP, as on some NFS or Lustre mounts):
//! a rank of a job cannot coordinate with the others there, so it counts the whole machine, logs
//! a warning and says why in its job section (`"coordination"`), never a silent count.
//!
//! This test binary stands in for such a file system by defining `flock` itself: the library's
//! calls resolve to it, and it refuses while `REFUSE` is set (else it is the system call).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use carbon_tracker::{set_logger, LogLevel, Options, Tracker};

static REFUSE: AtomicBool = AtomicBool::new(false);

/// `flock(2)` for this process: ENOLCK while `REFUSE` is set.
#[unsafe(no_mangle)]
pub extern "C" fn flock(fd: libc::c_int, op: libc::c_int) -> libc::c_int {
    if REFUSE.load(Ordering::SeqCst) {
        // SAFETY: errno is this thread's.
        unsafe { *libc::__errno_location() = libc::ENOLCK };
        return -1;
    }
    // SAFETY: the system call takes the caller's descriptor and operation as they are.
    unsafe { libc::syscall(libc::SYS_flock, fd, op) as libc::c_int }
}

#[test]
fn a_rank_on_a_file_system_without_flock_counts_the_machine_and_says_why() {
    let d = tempfile::tempdir().unwrap();
    let opts = format!(
        "country_iso_code=FRA;force_cpu_power=10;force_ram_power=100;save_to_file=false;measure_power_secs=3600;log_level=warning;\
         job_id=no-flock-test;rank=1;local_rank=1;job_coordination_dir={}",
        d.path().display()
    );
    let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&warnings);
    set_logger(Some(Arc::new(move |level, line: &str| {
        if matches!(level, LogLevel::Warning | LogLevel::Error) {
            seen.lock().unwrap().push(line.to_string());
        }
    })));
    let t = Tracker::new(Options::parse(&opts).unwrap()).unwrap();
    REFUSE.store(true, Ordering::SeqCst);
    t.start().unwrap();
    REFUSE.store(false, Ordering::SeqCst);
    let job = t.describe()["job"].clone();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let run = t.stop().unwrap();
    let why = job["coordination"].as_str().unwrap_or_default();
    assert!(why.contains("flock") && why.contains("No locks available"), "{job}");
    // The whole machine's RAM (100 W), not a rank's share of it.
    let ram_j = run.ram_energy_kwh * 3.6e6;
    assert!(ram_j > 100.0 * run.duration_s * 0.9, "{ram_j} J over {} s", run.duration_s);
    let warnings = warnings.lock().unwrap();
    assert!(warnings.iter().any(|w| w.contains("No locks available")), "no warning said it: {warnings:?}");
}

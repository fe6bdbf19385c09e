//! A job's ranks on one node, as separate processes (this test binary runs itself as the other
//! rank): the rank that counts the node is killed with SIGKILL, and the surviving rank takes
//! over at its next measurement, counting the machine-wide energy from the dead one's last
//! measurement (or its own start, if later) on.

mod support;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::ChildTimeout;

use carbon_tracker::Tracker;

fn options(dir: &Path, rank: u32) -> String {
    format!(
        "country_iso_code=FRA;force_cpu_power=10;force_ram_power=100;save_to_file=false;measure_power_secs=3600;\
         job_id=kill-test;rank={rank};job_coordination_dir={}",
        dir.display()
    )
}

fn counts_node(t: &Tracker) -> bool {
    t.describe()["job"]["counts_node_now"].as_bool().expect("a running rank of a job")
}

/// The rank that is killed: starts (it is first, so it counts the node), says so, waits.
#[test]
fn doomed_rank_process() {
    let Ok(dir) = std::env::var("CT_DOOMED_RANK_DIR") else { return };
    let t = Tracker::new(carbon_tracker::Options::parse(&options(Path::new(&dir), 0)).unwrap()).unwrap();
    t.start().unwrap();
    assert!(counts_node(&t));
    t.flush().unwrap();
    std::fs::write(Path::new(&dir).join("ready"), "").unwrap();
    std::thread::sleep(Duration::from_secs(120)); // killed long before
}

#[test]
fn a_killed_counter_is_replaced_at_the_next_measurement() {
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "doomed_rank_process", "--test-threads", "1", "--quiet"])
        .env("CT_DOOMED_RANK_DIR", d.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while !d.path().join("ready").exists() {
        assert!(child.try_wait().unwrap().is_none(), "the other rank exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Tracker::new(carbon_tracker::Options::parse(&options(d.path(), 1)).unwrap()).unwrap();
    t.start().unwrap();
    assert!(!counts_node(&t), "the other rank counts the node");
    std::thread::sleep(Duration::from_millis(100));
    let share = t.flush().unwrap();
    assert!(!counts_node(&t));
    // RAM: 100 W for the machine; this process's share of it is its resident memory's (tiny).
    assert!(share.ram_energy_kwh * 3.6e6 < 100.0 * share.duration_s * 0.5, "{share:?}");

    child.kill().unwrap(); // SIGKILL: no destructor runs; the kernel drops its locks
    child.wait_timeout();
    std::thread::sleep(Duration::from_millis(200));
    let after = t.flush().unwrap();
    assert!(counts_node(&t), "the surviving rank took over");
    // The dead counter last measured before this rank started: nobody counted the machine since,
    // so this rank counts the machine's RAM power (100 W) over its whole run, its own share
    // (already counted, and taken back from the shares) included once.
    let ram_j = after.ram_energy_kwh * 3.6e6;
    let dt = after.duration_s;
    assert!(ram_j > 100.0 * dt * 0.9 && ram_j <= 100.0 * dt * 1.0001, "{ram_j} J over {dt} s");
    t.stop().unwrap();
    assert!(!std::fs::read_dir(d.path()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("carbon-tracker-")));
}

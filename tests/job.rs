//! A job's ranks on one node, as separate processes (this test binary runs itself as the other
//! rank): the rank that counts the node is killed with SIGKILL, and the surviving rank takes
//! over at its next measurement, counting the machine-wide energy from the dead one's last
//! measurement (or its own start, if later) on.

use crate::support;
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
        .args([
            "--exact",
            support::test_name(module_path!(), "doomed_rank_process").as_str(),
            "--test-threads",
            "1",
            "--quiet",
        ])
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
    // The coordination files are gone; the user's private directory stays (empty).
    let private = d.path().join(format!("carbon-tracker-{}", unsafe { libc::getuid() }));
    assert_eq!(std::fs::read_dir(private).unwrap().count(), 0);
}

/// A coordination directory another user could enter (mode 0777 where the private one goes)
/// is refused with a warning: the rank counts the whole machine, and its job section says why.
#[test]
fn an_open_coordination_directory_is_refused_and_the_job_section_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    // SAFETY: getuid cannot fail.
    let private = d.path().join(format!("carbon-tracker-{}", unsafe { libc::getuid() }));
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o777)).unwrap();
    let opts = options(d.path(), 0).replace("job_id=kill-test", "job_id=open-dir-test");
    let t = Tracker::new(carbon_tracker::Options::parse(&opts).unwrap()).unwrap();
    t.start().unwrap();
    let job = &t.describe()["job"];
    let why = job["coordination"].as_str().unwrap_or_default().to_string();
    t.stop().unwrap();
    assert!(why.contains("mode 777") && why.contains("refused"), "{job}");
    assert_eq!(std::fs::read_dir(&private).unwrap().count(), 0, "nothing written there");
}

//! The machine facts a run describes and writes (CPU model, threads, sockets, total memory, OS),
//! now taken through sysinfo, equal what `/proc/cpuinfo`, `/proc/meminfo` and `uname` say on the
//! machine the test runs on: the same strings in the CSV, the same TDP match, the same RAM model.

use crate::support;
use carbon_tracker::config::{options, Config, Origin, Sources};
use carbon_tracker::hardware::{cpuinfo, ram, tdp, MachineFacts};
use carbon_tracker::Tracker;
use support::CommandTimeout;

/// `MemTotal` of `/proc/meminfo`, GiB.
fn proc_mem_total_gib() -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    kib * 1024.0 / (1u64 << 30) as f64
}

/// Python's `platform.platform()` on Linux from `uname` and glibc, formed by hand.
fn uname_platform() -> String {
    let out = std::process::Command::new("uname").args(["-s", "-r", "-m"]).output_timeout();
    let uname = String::from_utf8(out.stdout).unwrap();
    let mut s = uname.split_whitespace().collect::<Vec<_>>().join("-");
    let ldd = std::process::Command::new("getconf").arg("GNU_LIBC_VERSION").output_timeout();
    if let Some(v) = String::from_utf8(ldd.stdout).unwrap().trim().strip_prefix("glibc ") {
        s.push_str(&format!("-with-glibc{v}"));
    }
    s
}

#[test]
fn a_run_describes_and_writes_this_machine_as_proc_does() {
    let dir = tempfile::tempdir().unwrap();
    // No forced power: the probe matches the CPU model against the TDP table and sizes the RAM.
    let opts =
        format!("offline=true;country_iso_code=FRA;rapl_dir={d}/no-rapl;output_dir={d}", d = dir.path().display());
    let t = Tracker::with_config(
        Config::from_sources(&Sources { layers: vec![(Origin::Options, options::parse(&opts).unwrap())] }).unwrap(),
    );
    t.start().unwrap();
    let doc = t.describe();
    t.stop().unwrap();

    let cpu = cpuinfo::proc_reference::read();
    let model = cpu.model.clone().unwrap_or_else(|| "Unknown".into());
    let gib = proc_mem_total_gib();
    assert_eq!(doc["cpu"]["model_name"], model.as_str());
    assert_eq!(doc["cpu"]["threads"], cpu.threads);
    assert_eq!(doc["cpu"]["sockets"], cpu.sockets);
    let tdp_name = cpu.model.as_deref().and_then(tdp::find).map(|m| m.name);
    assert_eq!(doc["cpu"]["tdp_match"]["name"].as_str(), tdp_name.as_deref());
    assert_eq!(doc["ram"]["total_gib"].as_f64(), Some(gib));
    assert_eq!(doc["ram"]["power_w"].as_f64(), Some(ram::power_w(gib, ram::is_arm())));
    assert_eq!(doc["os"], uname_platform().as_str());

    let mut rows = csv::Reader::from_path(dir.path().join("emissions.csv")).unwrap();
    let headers = rows.headers().unwrap().clone();
    let row = rows.records().next().unwrap().unwrap();
    let col = |name: &str| row.get(headers.iter().position(|h| h == name).unwrap()).unwrap().to_string();
    assert_eq!(col("cpu_model"), model);
    assert_eq!(col("cpu_count"), cpu.threads.to_string());
    assert_eq!(col("ram_total_size").parse::<f64>().unwrap(), gib);
    assert_eq!(col("os"), uname_platform());
}

/// sysinfo raises the soft open-files limit to the hard one when it refreshes processes; the
/// probe refreshes none, and a library must leave its host's limits as they are.
#[test]
fn probing_leaves_the_open_files_limit_alone() {
    support::in_own_process(module_path!(), "probing_leaves_the_open_files_limit_alone", || {
        let get = || {
            let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: getrlimit fills the struct.
            assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) }, 0);
            l
        };
        let set = |l: &libc::rlimit| {
            // SAFETY: a soft limit at or below the hard one may always be set.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, l) }, 0);
        };
        let original = get();
        // A soft limit below the hard one, so that raising it would show.
        let lowered = libc::rlimit {
            rlim_cur: original.rlim_cur.min(original.rlim_max / 2).max(64),
            rlim_max: original.rlim_max,
        };
        set(&lowered);
        let facts = MachineFacts::read();
        let after = get();
        set(&original);
        assert!(facts.cpu.threads >= 1 && facts.mem.is_some());
        assert_eq!((after.rlim_cur, after.rlim_max), (lowered.rlim_cur, lowered.rlim_max));
    });
}

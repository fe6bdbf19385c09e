//! The machine facts and the per-tick readings, through sysinfo and by hand, measured in one run
//! and interleaved so that a noisy machine slows both alike (medians):
//!
//! - the one-time probe facts (CPU model, threads, sockets, total memory, OS string): sysinfo
//!   (what the library does) next to the `/proc/cpuinfo` + `/proc/meminfo` + `uname` parser it
//!   replaced, and the floor: reading those two files, nothing else;
//! - a tick's machine-wide CPU time: `/proc/stat` through a kept descriptor (what the library
//!   does) next to sysinfo's CPU refreshes, and whether a reading 50 ms after the last one is new
//!   (a flush or a task's start right after a tick);
//! - memory use: `/proc/meminfo` through a kept descriptor (what the library did) next to
//!   sysinfo's memory refresh (what it does now);
//! - process mode: this process tree's CPU time and memory from `/proc/<pid>/stat` (what the
//!   library does) next to a sysinfo refresh of every process (how it finds a tree), and what
//!   each counts of a child that ran and was reaped.
//!
//! `cargo bench -p carbon-tracker-bench --bench machine_facts [-- ROUNDS]` (default 30; a round sleeps 0.21 s because
//! sysinfo skips a CPU refresh within 200 ms of the last one). The cold first start, with the
//! library's code paged in, is `bash bench/native.sh`'s.

use carbon_tracker_bench::{fmt, median, time};
use std::time::{Duration, Instant};

use carbon_tracker::hardware::{cpu_load, cpuinfo, host, kept_open, process, ram};
use sysinfo::{CpuRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// `/proc/meminfo` parsed by hand, as the library did before sysinfo.
fn proc_meminfo(text: &str) -> Option<ram::MemInfo> {
    let kib = |key: &str| -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(key))?.split_whitespace().next()?.parse().ok()
    };
    let gib = |k: f64| k * 1024.0 / (1u64 << 30) as f64;
    let total = kib("MemTotal:")?;
    Some(ram::MemInfo {
        total_gib: gib(total),
        available_gib: gib(kib("MemAvailable:").or_else(|| kib("MemFree:")).unwrap_or(total)),
    })
}

/// The probe's facts as the library read them before sysinfo.
fn hand_written_facts() -> (cpuinfo::CpuInfo, Option<ram::MemInfo>, String) {
    let cpu = cpuinfo::proc_reference::read();
    let mem = kept_open::read_small_file("/proc/meminfo").and_then(|t| proc_meminfo(&t));
    // SAFETY: uname fills a zeroed struct of NUL-terminated arrays.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| f.iter().take_while(|c| **c != 0).map(|c| *c as u8 as char).collect::<String>();
    (cpu, mem, format!("{}-{}-{}", field(&u.sysname), field(&u.release), field(&u.machine)))
}

/// The probe's facts as the library reads them now.
fn sysinfo_facts() -> (cpuinfo::CpuInfo, Option<ram::MemInfo>, String) {
    let mut system = System::new();
    (cpuinfo::read_from(&mut system), ram::read_from(&mut system), host::platform())
}

/// This process and its descendants through sysinfo: every process refreshed, the tree found by
/// parent links; CPU time in ms (utime + stime only), resident bytes.
fn sysinfo_tree(sys: &mut System) -> (u64, u64) {
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_cpu().with_memory(),
    );
    let root = Pid::from_u32(std::process::id());
    let in_tree = |mut p: Pid| loop {
        if p == root {
            return true;
        }
        match sys.process(p).and_then(|q| q.parent()) {
            Some(parent) => p = parent,
            None => return false,
        }
    };
    sys.processes()
        .values()
        .filter(|p| in_tree(p.pid()))
        .fold((0, 0), |(ms, rss), p| (ms + p.accumulated_cpu_time(), rss + p.memory()))
}

fn main() {
    let rounds: usize =
        std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok()).unwrap_or(30);

    assert_eq!(sysinfo_facts().0, hand_written_facts().0, "the two routes disagree on this machine");

    let mut facts = [Vec::new(), Vec::new(), Vec::new()];
    let mut ticks: [Vec<f64>; 7] = Default::default();
    let mut sys = System::new();
    sys.refresh_cpu_list(CpuRefreshKind::nothing());
    let mut procs = System::new();
    // The tick's memory reading as the library made it before sysinfo.
    static MEMINFO: kept_open::KeptOpen = kept_open::KeptOpen::new("/proc/meminfo");
    for _ in 0..rounds {
        facts[0].push(time(sysinfo_facts));
        facts[1].push(time(hand_written_facts));
        facts[2]
            .push(time(|| (kept_open::read_small_file("/proc/cpuinfo"), kept_open::read_small_file("/proc/meminfo"))));
        std::thread::sleep(Duration::from_millis(210));
        ticks[0].push(time(cpu_load::read_proc_stat));
        ticks[1].push(time(|| sys.refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage())));
        std::thread::sleep(Duration::from_millis(210));
        ticks[6].push(time(|| sys.refresh_cpu_all()));
        ticks[2].push(time(|| MEMINFO.read(proc_meminfo)));
        ticks[3].push(time(ram::read));
        ticks[4].push(time(process::usage));
        ticks[5].push(time(|| sysinfo_tree(&mut procs)));
    }

    // Two readings 50 ms apart, busy in between: is the second one new?
    let busy = |ms: u64| {
        let end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < end {}
    };
    std::thread::sleep(Duration::from_millis(210));
    sys.refresh_cpu_usage(); // a real refresh: the last one is over 200 ms old
    let (stat_before, usage_before) = (cpu_load::read_proc_stat().unwrap(), sys.global_cpu_usage());
    busy(50);
    sys.refresh_cpu_usage();
    let fresh = (
        cpu_load::read_proc_stat().unwrap() != stat_before,
        sys.global_cpu_usage().to_bits() != usage_before.to_bits(),
    );

    // A child that burns CPU and is reaped: its time moves into our cutime/cstime.
    let before = (process::usage().cpu_s, sysinfo_tree(&mut procs).0);
    let child =
        std::process::Command::new("sh").args(["-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done"]).status();
    assert!(child.unwrap().success());
    let after = (process::usage().cpu_s, sysinfo_tree(&mut procs).0);

    println!("| {rounds} rounds, medians | by hand | sysinfo | sysinfo / by hand |");
    println!("|---|---|---|---|");
    let row = |what: &str, hand: f64, si: f64| println!("| {what} | {} | {} | {:.1} |", fmt(hand), fmt(si), si / hand);
    let (si, hand) = (median(facts[0].clone()), median(facts[1].clone()));
    row("probe facts (CPU model, threads, sockets, memory, OS)", hand, si);
    println!("| floor: read /proc/cpuinfo and /proc/meminfo, no parsing | {} | - | - |", fmt(median(facts[2].clone())));
    row("tick: machine CPU time (/proc/stat, kept descriptor)", median(ticks[0].clone()), median(ticks[1].clone()));
    row(
        "tick: machine CPU time, sysinfo's whole CPU refresh (usage and frequencies)",
        median(ticks[0].clone()),
        median(ticks[6].clone()),
    );
    let yes = |b: bool| if b { "yes" } else { "no (the previous one)" };
    println!("| tick: a CPU reading 50 ms after the last is new | {} | {} | - |", yes(fresh.0), yes(fresh.1));
    row(
        "memory use, at most every 10 s (/proc/meminfo: kept descriptor before, sysinfo now)",
        median(ticks[2].clone()),
        median(ticks[3].clone()),
    );
    row("process mode: this tree's CPU time and memory", median(ticks[4].clone()), median(ticks[5].clone()));
    println!(
        "| a child ran and was reaped: CPU time counted for the tree | +{:.2} s | +{:.2} s | - |",
        after.0 - before.0,
        (after.1 as f64 - before.1 as f64) / 1e3
    );
}

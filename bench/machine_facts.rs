//! The machine facts and the per-tick readings, through sysinfo and by hand, measured in one run
//! and interleaved so that a noisy machine slows both alike (medians):
//!
//! - the one-time probe facts (CPU model, threads, sockets, total memory, OS string): sysinfo
//!   (what the library does) next to the `/proc/cpuinfo` + `/proc/meminfo` + `uname` parser it
//!   replaced, and the floor: reading those two files, nothing else;
//! - a tick's machine-wide CPU time and memory: `/proc/stat` and `/proc/meminfo` through a kept
//!   descriptor (what the library does) next to sysinfo's CPU and memory refreshes;
//! - process mode: this process tree's CPU time and memory from `/proc/<pid>/stat` (what the
//!   library does) next to a sysinfo refresh of every process (how it finds a tree), and what
//!   each counts of a child that ran and was reaped.
//!
//! `cargo bench --bench machine_facts [-- ROUNDS]` (default 30; a round sleeps 0.21 s because
//! sysinfo skips a CPU refresh within 200 ms of the last one). The cold first start, with the
//! library's code paged in, is `bash bench/native.sh`'s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use carbon_tracker::hardware::{cpu_load, cpuinfo, host, kept_open, process, ram};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

fn time<T>(f: impl FnOnce() -> T) -> f64 {
    let t = Instant::now();
    black_box(f());
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fmt(s: f64) -> String {
    format!("{:.1} µs", s * 1e6)
}

/// The probe's facts as the library read them before sysinfo.
fn hand_written_facts() -> (cpuinfo::CpuInfo, Option<ram::MemInfo>, String) {
    let cpu = cpuinfo::proc_reference::read();
    let mem = kept_open::read_small_file("/proc/meminfo").and_then(|t| ram::parse_meminfo(&t));
    // SAFETY: uname fills a zeroed struct of NUL-terminated arrays.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| f.iter().take_while(|c| **c != 0).map(|c| *c as u8 as char).collect::<String>();
    (cpu, mem, format!("{}-{}-{}", field(&u.sysname), field(&u.release), field(&u.machine)))
}

/// The probe's facts as the library reads them now.
fn sysinfo_facts() -> (cpuinfo::CpuInfo, Option<ram::MemInfo>, String) {
    let mut system = System::new();
    (cpuinfo::read_from(&mut system), ram::read_total_from(&mut system), host::platform())
}

/// This process and its descendants through sysinfo: every process refreshed, the tree found by
/// parent links; CPU time in ms (utime + stime only), resident bytes.
fn sysinfo_tree(sys: &mut System) -> (u64, u64) {
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, ProcessRefreshKind::nothing().with_cpu().with_memory());
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
    sys.processes().values().filter(|p| in_tree(p.pid())).fold((0, 0), |(ms, rss), p| (ms + p.accumulated_cpu_time(), rss + p.memory()))
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok()).unwrap_or(30);

    assert_eq!(sysinfo_facts().0, hand_written_facts().0, "the two routes disagree on this machine");

    let mut facts = [Vec::new(), Vec::new(), Vec::new()];
    let mut ticks = [Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let mut sys = System::new();
    sys.refresh_cpu_list(CpuRefreshKind::nothing());
    let mut procs = System::new();
    for _ in 0..rounds {
        facts[0].push(time(sysinfo_facts));
        facts[1].push(time(hand_written_facts));
        facts[2].push(time(|| (kept_open::read_small_file("/proc/cpuinfo"), kept_open::read_small_file("/proc/meminfo"))));
        std::thread::sleep(Duration::from_millis(210));
        ticks[0].push(time(cpu_load::read_proc_stat));
        ticks[1].push(time(|| sys.refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage())));
        ticks[2].push(time(ram::read_meminfo));
        ticks[3].push(time(|| sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram())));
        ticks[4].push(time(process::usage));
        ticks[5].push(time(|| sysinfo_tree(&mut procs)));
    }

    // A child that burns CPU and is reaped: its time moves into our cutime/cstime.
    let before = (process::usage().cpu_s, sysinfo_tree(&mut procs).0);
    let child = std::process::Command::new("sh").args(["-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done"]).status();
    assert!(child.unwrap().success());
    let after = (process::usage().cpu_s, sysinfo_tree(&mut procs).0);

    println!("| {rounds} rounds, medians | by hand | sysinfo | sysinfo / by hand |");
    println!("|---|---|---|---|");
    let row = |what: &str, hand: f64, si: f64| println!("| {what} | {} | {} | {:.1} |", fmt(hand), fmt(si), si / hand);
    let (si, hand) = (median(facts[0].clone()), median(facts[1].clone()));
    row("probe facts (CPU model, threads, sockets, memory, OS)", hand, si);
    println!("| floor: read /proc/cpuinfo and /proc/meminfo, no parsing | {} | - | - |", fmt(median(facts[2].clone())));
    row("tick: machine CPU time (/proc/stat, kept descriptor)", median(ticks[0].clone()), median(ticks[1].clone()));
    row("tick: memory (/proc/meminfo, kept descriptor)", median(ticks[2].clone()), median(ticks[3].clone()));
    row("process mode: this tree's CPU time and memory", median(ticks[4].clone()), median(ticks[5].clone()));
    println!(
        "| a child ran and was reaped: CPU time counted for the tree | +{:.2} s | +{:.2} s | - |",
        after.0 - before.0,
        (after.1 as f64 - before.1 as f64) / 1e3
    );
}

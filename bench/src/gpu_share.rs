//! The per-tick cost of `gpu_share=split` (docs/gpu-sharing.md): a tick's GPU reading with the
//! split (NVML's running processes, the per-process samples since the last tick, the process
//! tree's pids, the rule) next to the same reading without it, in one run, interleaved so that a
//! noisy machine slows both alike (medians), against the fake NVML of the tests
//! (tests/c/fake_nvml.c, built here with `cc`): one GPU with an energy counter, this process at
//! 75 % and another at 25 % of the SMs, a sample every 10 ms.
//!
//! Also: the floor of this machine's timing (two clock reads), the tick of a meter with no GPU,
//! both ticks again at once (warm caches: a real tick comes after a sleep, cold), each extra call
//! alone, and the worst case of the samples call: a full 10 s buffer (2000 samples), what a first
//! tick or a tick every 10 s or more reads.
//!
//! `cargo bench -p carbon-tracker-bench --bench gpu_share [-- ROUNDS]` (default 200; a round
//! sleeps 50 ms so that each tick has new samples, as a real tick has).

use carbon_tracker_bench::{fmt, median, time};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use carbon_tracker::hardware::gpu::{self, GpuMeter};
use carbon_tracker::hardware::process::Tree;
use carbon_tracker::hardware::source::Interval;
use carbon_tracker::hardware::{gpu_share, nvml};
use carbon_tracker::log::{Level, Logger};

/// Builds the fake NVML as `libnvidia-ml.so.1` in a directory of the target folder.
fn build_fake_nvml() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository");
    let dir = root.join("target/bench-gpu-share");
    std::fs::create_dir_all(&dir).expect("target/bench-gpu-share");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror"])
        .arg(root.join("tests/c/fake_nvml.c"))
        .arg("-o")
        .arg(dir.join("libnvidia-ml.so.1"))
        .status()
        .expect("a C compiler (cc)");
    assert!(status.success(), "cc fake_nvml.c failed");
    std::fs::write(
        dir.join("nvml.conf"),
        "gpu GPU-be0c0000-0000-4000-8000-000000000001 NVIDIA_Fake_A100 300 counter util=50 max_w=400 sample_ms=10 \
         proc=self,75 proc=3999001,25\n",
    )
    .expect("nvml.conf");
    dir
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200);
    // The loader reads LD_LIBRARY_PATH at start: run again with the fake first on it.
    if std::env::var_os("FAKE_NVML_CONFIG").is_none() {
        let dir = build_fake_nvml();
        let ld = std::env::var("LD_LIBRARY_PATH").map(|p| format!(":{p}")).unwrap_or_default();
        let status = Command::new(std::env::current_exe().expect("this program"))
            .args(std::env::args().skip(1))
            .env("LD_LIBRARY_PATH", format!("{}{ld}", dir.display()))
            .env("FAKE_NVML_CONFIG", dir.join("nvml.conf"))
            .status()
            .expect("running the benchmark again");
        std::process::exit(status.code().unwrap_or(1));
    }
    let log = Logger { threshold: Level::Critical, preamble: String::new() };
    let devices = nvml::devices().expect("the fake NVML").opened;
    let gpus = gpu::select(&devices, None, &log);
    assert_eq!(gpus.len(), 1, "one fake GPU");
    let device = gpus[0].device.clone();
    let mut plain = GpuMeter::start(&gpus);
    let mut split = GpuMeter::start(&gpus);
    split.split_for(Tree::WithThisProcess, true);
    let mut none = GpuMeter::start(&[]);
    let iv = Interval { dt_s: 0.05, ..Interval::default() };

    let (mut floor, mut empty, mut t_plain, mut t_split) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut t_running, mut t_samples, mut t_tree, mut t_full) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut since_us = 0;
    let mut share = gpu_share::DeviceShare::start(&*device, 400.0);
    let (mut t_rule, mut t_split_again, mut t_plain_again) = (Vec::new(), Vec::new(), Vec::new());
    let (mut own_j, mut device_j) = (0.0, 0.0);
    for round in 0..rounds {
        std::thread::sleep(Duration::from_millis(50));
        floor.push(time(|| ()));
        empty.push(time(|| none.measure(&iv, &log)));
        // Alternate the order: neither always reads the NVML state the other just warmed.
        if round % 2 == 0 {
            t_plain.push(time(|| plain.measure(&iv, &log)));
            t_split.push(time(|| split.measure(&iv, &log)));
        } else {
            t_split.push(time(|| split.measure(&iv, &log)));
            t_plain.push(time(|| plain.measure(&iv, &log)));
        }
        for i in split.intervals() {
            own_j += i.own_j.unwrap_or(0.0);
            device_j += i.energy_j;
        }
        // Again at once: the code and NVML's state in the caches (a tick comes after a sleep).
        t_split_again.push(time(|| split.measure(&iv, &log)));
        t_plain_again.push(time(|| plain.measure(&iv, &log)));
        t_rule.push(time(|| share.view(&*device).map(|v| share.split(15.0, 0.05, &v))));
        t_running.push(time(|| device.running_pids()));
        let t = Instant::now();
        let samples = device.process_samples(since_us).unwrap_or_default();
        t_samples.push(t.elapsed().as_secs_f64());
        since_us = samples.iter().map(|s| s.timestamp_us).max().unwrap_or(since_us);
        t_tree.push(time(|| {
            (Tree::WithThisProcess.contains(std::process::id()), Tree::WithThisProcess.contains(3_999_001))
        }));
        t_full.push(time(|| device.process_samples(0).map(|s| s.len())));
    }
    let full_len = device.process_samples(0).map_or(0, |s| s.len());
    let per = |v: &[f64]| fmt(median(v.to_vec()));
    println!(
        "gpu_share: {rounds} rounds, medians (one fake GPU, 2 processes, a sample every 10 ms, a tick every ~50 ms)"
    );
    println!("  timing floor (two clock reads)              {}", per(&floor));
    println!("  tick, no GPU                                 {}", per(&empty));
    println!("  tick, 1 GPU, gpu_share=whole                 {}", per(&t_plain));
    println!("  tick, 1 GPU, gpu_share=split                 {}", per(&t_split));
    println!("  the same at once again (warm caches): whole {}, split {}", per(&t_plain_again), per(&t_split_again));
    println!(
        "  extra per tick (split - whole)               {}",
        fmt(median(t_split.clone()) - median(t_plain.clone()))
    );
    println!("    NVML's view and the rule, alone            {}", per(&t_rule));
    println!("    running processes (compute + graphics)     {}", per(&t_running));
    println!("    samples since the last tick (~10)          {}", per(&t_samples));
    println!("    whose processes: 2 pids looked up in /proc {}", per(&t_tree));
    println!("  worst case: a full 10 s buffer ({full_len} samples)  {}", per(&t_full));
    println!("  this process's share of the GPU's energy     {:.1} % (rule: 20 W idle each + 75 % of the rest of 300 W = 71.7 %)", 100.0 * own_j / device_j.max(f64::MIN_POSITIVE));
    println!("  (the default power at rest: {} of the 400 W limit)", gpu_share::DEFAULT_IDLE_FRACTION);
}

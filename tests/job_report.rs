//! One report for a job: 6 ranks on 2 simulated nodes (3 each; distinct host names, SLURM node
//! ids and per-node coordination directories, as each node's /dev/shm), each a separate process
//! (this test binary run again) with regions in a time-step loop, all writing into one output
//! directory. Each node's ranks run in a UTS namespace of their own with the node's host name
//! (`unshare --uts`, where this user may); elsewhere SLURM's `SLURMD_NODENAME` names the nodes. `carbon-tracker report DIR` then shows the job's total, a line per node and per
//! rank, and the regions; the total is the sum of the nodes and of the ranks, and each node was
//! counted once.

use crate::support;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{ChildTimeout, CommandTimeout};

use carbon_tracker::Tracker;

const STEPS: u64 = 25;
const RAM_W: f64 = 10.0;

/// CLOCK_MONOTONIC in seconds: one clock for the processes of this machine.
fn monotonic_s() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// One rank: its job, rank and node come from SLURM's variables, set by the parent. It writes
/// the span of its tracker (CLOCK_MONOTONIC before start, after stop) to CT_JOB_RANK_SPAN.
#[test]
fn job_rank_process() {
    let Ok(dir) = std::env::var("CT_JOB_RANK_OUT") else { return };
    let coordination = std::env::var("CT_JOB_RANK_NODE_DIR").unwrap();
    let span_file = std::env::var("CT_JOB_RANK_SPAN").unwrap();
    let t = Tracker::new(
        carbon_tracker::Options::parse(&format!(
            "project_name=sim;country_iso_code=FRA;force_cpu_power=20;force_ram_power={RAM_W};measure_power_secs=0.1;\
         output_dir={dir};job_coordination_dir={coordination};log_level=error"
        ))
        .unwrap(),
    )
    .unwrap();
    let before_start = monotonic_s();
    t.start().unwrap();
    for step in 0..STEPS {
        t.region_begin("step").unwrap();
        for (phase, ms) in [("solver", 20u64), ("halo exchange", 6), ("io", 2)] {
            t.region_begin(phase).unwrap();
            let end = Instant::now() + Duration::from_millis(ms);
            let mut x = 1u64;
            while Instant::now() < end {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1); // busy, as a solver
            }
            std::hint::black_box(x);
            t.region_end(phase).unwrap();
        }
        t.region_end("step").unwrap();
        if step % 10 == 9 {
            t.flush().unwrap();
        }
    }
    t.stop().unwrap();
    std::fs::write(span_file, format!("{before_start} {}", monotonic_s())).unwrap();
}

fn report(dir: &Path, extra: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_carbon-tracker")).arg("report").arg(dir).args(extra).output_timeout();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

/// Whether this user may give a process a host name of its own.
fn own_host_names() -> bool {
    Command::new("unshare")
        .args(["--uts", "sh", "-c", "hostname ct-probe"])
        .stderr(std::process::Stdio::null())
        .try_status_timeout()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_job_of_two_nodes_and_six_ranks_is_one_report() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let by_host_name = own_host_names();
    if !by_host_name {
        eprintln!("unshare --uts is not permitted here: SLURMD_NODENAME names the simulated nodes");
    }
    let mut children = Vec::new();
    for rank in 0..6u32 {
        let node = rank / 3;
        let node_name = ["node-a", "node-b"][node as usize];
        let node_dir = work.path().join(format!("shm-{node}")); // each node's own /dev/shm
        std::fs::create_dir_all(&node_dir).unwrap();
        let mut cmd = if by_host_name {
            let mut c = Command::new("unshare");
            c.args(["--uts", "sh", "-c", "hostname \"$0\" && exec \"$@\"", node_name])
                .arg(std::env::current_exe().unwrap());
            c.env_remove("SLURMD_NODENAME");
            c
        } else {
            let mut c = Command::new(std::env::current_exe().unwrap());
            c.env("SLURMD_NODENAME", node_name);
            c
        };
        let child = cmd
            .args([
                "--exact",
                support::test_name(module_path!(), "job_rank_process").as_str(),
                "--test-threads",
                "1",
                "--quiet",
            ])
            .env("CT_JOB_RANK_OUT", &out)
            .env("CT_JOB_RANK_NODE_DIR", &node_dir)
            .env("CT_JOB_RANK_SPAN", work.path().join(format!("span-{rank}")))
            .env("SLURM_JOB_ID", "4242")
            .env("SLURM_PROCID", rank.to_string())
            .env("SLURM_LOCALID", (rank % 3).to_string())
            .env("SLURM_NODEID", node.to_string())
            .env("SLURM_NTASKS", "6")
            .env("SLURM_TASKS_PER_NODE", "3(x2)")
            .env_remove("OMPI_COMM_WORLD_RANK")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        children.push(child);
    }
    for mut c in children {
        assert!(c.wait_timeout().success(), "a rank failed");
    }
    let names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("run_base_")).count(), 6, "{names:?}");
    assert_eq!(names.iter().filter(|n| n.starts_with("regions_base_")).count(), 6, "{names:?}");
    let mut hosts: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with("run_base_"))
        .map(|n| carbon_tracker::output::run_file::read(&out.join(n)).unwrap())
        .map(|id| if by_host_name { id.hostname } else { id.node })
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["node-a", "node-a", "node-a", "node-b", "node-b", "node-b"]);
    // emissions.csv is CodeCarbon's: its header, and a row per flush and stop of every rank.
    let csv = std::fs::read_to_string(out.join("emissions.csv")).unwrap();
    assert_eq!(csv.lines().next().unwrap(), carbon_tracker::output::CSV_HEADER.as_str());
    assert_eq!(csv.lines().count(), 1 + 6 * 3);

    let (text, stderr, ok) = report(&out, &[]);
    println!("{text}");
    assert!(ok, "{stderr}");
    assert!(text.contains("Job 4242 (project sim): 6 ranks on 2 nodes"), "{text}");
    // As printed: the total line is the sum of the lines above it, per node and per rank.
    for (header, energy_col, total_col) in [("  node ", 3, 2), ("   rank ", 5, 1)] {
        let lines: Vec<Vec<&str>> = text
            .lines()
            .skip_while(|l| !l.starts_with(header))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter(|l| !l.trim_start().starts_with('-'))
            .map(|l| l.split_whitespace().collect())
            .collect();
        let (total, rows) = lines.split_last().unwrap();
        assert_eq!(total[0], "total");
        let sum: f64 = rows.iter().map(|r| r[energy_col].parse::<f64>().unwrap()).sum();
        let shown: f64 = total[total_col].parse().unwrap();
        assert!((sum - shown).abs() < 1e-9, "{header}: rows add up to {sum}, the total shows {shown}\n{text}");
    }
    let (json, stderr, ok) = report(&out, &["--json"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["projects"].as_array().unwrap().len(), 0, "every run is a rank of the job");
    let job = &v["jobs"][0];
    let ranks = job["ranks"].as_array().unwrap();
    let nodes = job["nodes"].as_array().unwrap();
    assert_eq!(ranks.iter().map(|r| r["rank"].as_u64().unwrap()).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(nodes.len(), 2);
    assert_eq!(
        (nodes[0]["node"].as_str(), nodes[0]["node_id"].as_u64(), nodes[0]["ranks"].clone()),
        (Some("node-a"), Some(0), serde_json::json!([0, 1, 2]))
    );
    assert_eq!(
        (nodes[1]["node"].as_str(), nodes[1]["node_id"].as_u64(), nodes[1]["ranks"].clone()),
        (Some("node-b"), Some(1), serde_json::json!([3, 4, 5]))
    );
    let total = job["energy_consumed_kwh"].as_f64().unwrap();
    let f = |x: &serde_json::Value, k: &str| x[k].as_f64().unwrap();
    let sum_ranks: f64 = ranks.iter().map(|r| f(r, "energy_consumed_kwh")).sum();
    let sum_nodes: f64 = nodes.iter().map(|n| f(n, "energy_consumed_kwh")).sum();
    assert!(rel(total, sum_ranks) < 1e-12 && rel(total, sum_nodes) < 1e-12, "{total} {sum_ranks} {sum_nodes}");
    let em: f64 = ranks.iter().map(|r| f(r, "emissions_kg")).sum();
    assert!(rel(f(job, "emissions_kg"), em) < 1e-12);
    // Each rank's last CSV row is its total.
    for r in ranks {
        let last = csv.lines().rfind(|l| l.contains(r["run_id"].as_str().unwrap())).unwrap();
        let energy: f64 = last.split(',').nth(13).unwrap().parse().unwrap();
        assert_eq!(energy, f(r, "energy_consumed_kwh"));
    }
    // Counted once per node: the node's RAM is its machine's 10 W over the time its ranks ran,
    // not 3 times that: at least the longest rank's time, at most the span from the first rank's
    // start to the last one's stop (measured by the ranks: on a loaded machine they start late).
    let csv_rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(csv.as_bytes()).records().map(|r| r.unwrap()).collect();
    for n in nodes {
        let node_ranks: Vec<&serde_json::Value> = ranks.iter().filter(|r| r["node"] == n["node"]).collect();
        let run_ids: Vec<&str> = node_ranks.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
        let ram_kwh: f64 = run_ids
            .iter()
            .map(|id| {
                csv_rows.iter().filter(|r| &r[2] == *id).map(|r| r[12].parse::<f64>().unwrap()).fold(0.0, f64::max)
            })
            .sum();
        let longest = node_ranks.iter().map(|r| r["duration_s"].as_f64().unwrap()).fold(0.0, f64::max);
        let spans: Vec<(f64, f64)> = node_ranks
            .iter()
            .map(|r| {
                let text = std::fs::read_to_string(work.path().join(format!("span-{}", r["rank"]))).unwrap();
                let (a, b) = text.split_once(' ').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect();
        let span =
            spans.iter().map(|s| s.1).fold(f64::MIN, f64::max) - spans.iter().map(|s| s.0).fold(f64::MAX, f64::min);
        let node_s = ram_kwh * 3.6e6 / RAM_W;
        assert!(
            node_s > 0.9 * longest && node_s <= span * 1.001,
            "node {}: RAM energy of {node_s} s at 10 W, ranks up to {longest} s, spanning {span} s",
            n["node"]
        );
        println!(
            "node {}: RAM counted for {node_s:.3} s; its ranks ran up to {longest:.3} s each, spanning {span:.3} s",
            n["node"]
        );
    }
    // Regions: every rank's calls, and their energy within the job's.
    let regions = job["regions"].as_array().unwrap();
    assert_eq!(
        regions.iter().map(|r| r["name"].as_str().unwrap()).collect::<Vec<_>>(),
        vec!["step", "solver", "halo exchange", "io"]
    );
    for r in regions {
        assert_eq!((r["calls"].as_u64(), r["runs"].as_u64()), (Some(6 * STEPS), Some(6)), "{r}");
    }
    let step = &regions[0];
    let phases: f64 = regions[1..].iter().map(|r| f(r, "energy_consumed_kwh")).sum();
    assert!(phases <= f(step, "energy_consumed_kwh") * (1.0 + 1e-9) && f(step, "energy_consumed_kwh") < total);

    let html = work.path().join("job.html");
    let (_, stderr, ok) = report(&out, &["--html", html.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let page = std::fs::read_to_string(&html).unwrap();
    for part in ["Job 4242", "Emissions per node", "Emissions per rank", "rank 5 (node-b)", "halo exchange", "<svg"] {
        assert!(page.contains(part), "{part} missing from the page");
    }
    assert!(!page.contains("<script"), "no script");
}

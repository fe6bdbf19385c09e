//! `carbon-tracker report --slurm-job ID`: the rows the SPANK plugin writes (one per node and
//! step, the format of spank/carbon_tracker_spank.c) summed into the job's total, and a run of the
//! program's own tracker (this library, with the job's id) listed apart and never added. The
//! plugin itself runs under a real Slurm in scripts/slurm/spank-test.sh.

use crate::support;
use std::path::Path;
use std::process::Command;
use support::CommandTimeout;

use carbon_tracker::{Options, Tracker};

const BIN: &str = env!("CARGO_BIN_EXE_carbon-tracker");

/// A row as the plugin writes it.
fn row(step: &str, node: &str, started: f64, duration_s: f64, kwh: f64) -> String {
    format!(
        "{{\"job_id\":\"4242\",\"step\":\"{step}\",\"node\":\"{node}\",\"node_index\":0,\"source\":\"slurm-plugin\",\
\"started_unix_s\":{started:.3},\"duration_s\":{duration_s:.6},\"energy_consumed_kwh\":{kwh:.12},\"cpu_energy_kwh\":0,\
\"gpu_energy_kwh\":0,\"ram_energy_kwh\":{kwh:.12},\"emissions_kg\":{:.12},\"carbon_intensity_g_per_kwh\":50}}\n",
        kwh * 0.05
    )
}

fn report(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).current_dir(cwd).env("HOME", cwd).output_timeout();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_plugin_job_and_the_programs_own_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = tmp.path().join("slurm");
    let job = plugin.join("job-4242");
    std::fs::create_dir_all(&job).unwrap();
    // The batch step on na for 10 s, a step inside it, and a step on nb.
    std::fs::write(job.join("step-batch.na.json"), row("batch", "na", 1000.0, 10.0, 2.0e-3)).unwrap();
    std::fs::write(job.join("step-0.na.json"), row("0", "na", 1002.0, 4.0, 0.1e-3)).unwrap();
    std::fs::write(job.join("step-0.nb.json"), row("0", "nb", 1002.0, 4.0, 0.9e-3)).unwrap();

    // The program's own tracker inside the job (step 0 of job 4242, as it would detect it).
    let own = tmp.path().join("own");
    let t = Tracker::new(
        Options::parse(&format!(
            "project_name=mine;country_iso_code=FRA;force_cpu_power=10;force_ram_power=10;job_id=4242.0;rank=0;\
             job_count_node_once=false;output_dir={};log_level=error",
            own.display()
        ))
        .unwrap(),
    )
    .unwrap();
    t.start().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    t.stop().unwrap();
    // A run of another job in the same directory is not this job's.
    let other = Tracker::new(
        Options::parse(&format!(
            "country_iso_code=FRA;job_id=42420;rank=0;job_count_node_once=false;output_dir={};log_level=error",
            own.display()
        ))
        .unwrap(),
    )
    .unwrap();
    other.start().unwrap();
    other.stop().unwrap();

    let plugin_s = plugin.to_str().unwrap();
    let own_s = own.to_str().unwrap();
    let (code, text, err) = report(&["report", "--slurm-job", "4242", "--slurm-dir", plugin_s, own_s], tmp.path());
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("Slurm job 4242: 3 rows, 2 nodes"), "{text}");
    assert!(text.contains("total  3.000 Wh, 150.0 mg CO2e, 50.0 g/kWh, 10.0 s"), "{text}");
    assert!(text.contains("The program's own tracker (1 run): part of what the plugin measured above"), "{text}");

    let (code, json, err) =
        report(&["report", "--json", "--slurm-job", "4242", "--slurm-dir", plugin_s, own_s], tmp.path());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let j = &v["slurm_job"];
    assert!((j["energy_consumed_kwh"].as_f64().unwrap() - 3.0e-3).abs() < 1e-12, "the plugin's rows alone: {j}");
    assert_eq!(j["nodes"], serde_json::json!(["na", "nb"]));
    assert_eq!(j["rows"].as_array().unwrap().len(), 3);
    let programs = j["program_trackers"].as_array().unwrap();
    assert_eq!(programs.len(), 1, "{j}");
    assert_eq!(programs[0]["job_id"], "4242.0");
    assert_eq!(programs[0]["included_in_total"], false);

    let html = tmp.path().join("job.html");
    let (code, _, err) = report(
        &["report", "--slurm-job", "4242", "--slurm-dir", plugin_s, "--html", html.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h1>Slurm job 4242</h1>") && page.contains("<svg"), "{page}");

    // No rows, a bad id: a clear message and a failing status.
    let (code, _, err) = report(&["report", "--slurm-job", "7", "--slurm-dir", plugin_s], tmp.path());
    assert_eq!(code, 1);
    assert!(err.contains("no rows of Slurm job 7"), "{err}");
    let (code, _, err) = report(&["report", "--slurm-job", "../x"], tmp.path());
    assert_eq!(code, 2);
    assert!(err.contains("expected a Slurm job id"), "{err}");
}

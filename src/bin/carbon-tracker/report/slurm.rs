//! `carbon-tracker report --slurm-job ID [--slurm-dir DIR] [FILE|DIR...]`: the report of a Slurm job
//! measured by the SPANK plugin (spank/, docs/slurm-plugin.md). Its rows, one per node and step,
//! are `DIR/job-ID/step-<step>.<node>.json`; the job's total is their sum (the plugin counts each
//! node once across the job's steps). Runs of the program's own tracker (this library linked into
//! the program) found in the other arguments, with the same job id, are listed apart: they measured
//! part of what the plugin measured, so they are shown and never added.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::html::{bars, esc, Bar, PALETTE, STYLE};
use super::job::{aligned, NumberColumn, RankRun};
use crate::format::{self, sig3};

/// Where the plugin writes by default (its `output_dir` argument in plugstack.conf).
pub const DEFAULT_DIR: &str = "/var/lib/carbon-tracker/slurm";

/// One row of the plugin: a step on a node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StepRow {
    pub job_id: String,
    pub step: String,
    pub node: String,
    pub node_index: u32,
    pub started_unix_s: f64,
    pub duration_s: f64,
    pub energy_consumed_kwh: f64,
    pub cpu_energy_kwh: f64,
    pub gpu_energy_kwh: f64,
    pub ram_energy_kwh: f64,
    pub emissions_kg: f64,
    pub carbon_intensity_g_per_kwh: f64,
}

/// A job as the plugin saw it, and the program's own trackers.
pub struct SlurmJob {
    pub id: String,
    pub dir: PathBuf,
    /// Sorted by node, then start.
    pub rows: Vec<StepRow>,
    pub own: Vec<RankRun>,
}

impl SlurmJob {
    pub fn energy_kwh(&self) -> f64 {
        self.rows.iter().map(|r| r.energy_consumed_kwh).sum()
    }
    pub fn emissions_kg(&self) -> f64 {
        self.rows.iter().map(|r| r.emissions_kg).sum()
    }
    /// From the first step's start to the last step's end.
    pub fn duration_s(&self) -> f64 {
        let start = self.rows.iter().map(|r| r.started_unix_s).fold(f64::INFINITY, f64::min);
        let end = self.rows.iter().map(|r| r.started_unix_s + r.duration_s).fold(f64::NEG_INFINITY, f64::max);
        if end > start {
            end - start
        } else {
            0.0
        }
    }
    pub fn intensity_g_per_kwh(&self) -> Option<f64> {
        let e = self.energy_kwh();
        (e > 0.0).then(|| self.emissions_kg() * 1000.0 / e)
    }
    pub fn nodes(&self) -> Vec<&str> {
        let mut n: Vec<&str> = self.rows.iter().map(|r| r.node.as_str()).collect();
        n.sort_unstable();
        n.dedup();
        n
    }
}

/// A job id as Slurm gives it: digits (the plugin names its directory by the numeric id).
pub fn check_job_id(id: &str) -> Result<(), String> {
    if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("--slurm-job: expected a Slurm job id (digits, e.g. 4242), got `{id}`"))
    }
}

/// The plugin's rows of job `id` under `dir`, and the problems met (a row that cannot be read).
pub fn read_rows(dir: &Path, id: &str) -> (Vec<StepRow>, Vec<String>) {
    let job_dir = dir.join(format!("job-{id}"));
    let mut problems = Vec::new();
    let entries = match std::fs::read_dir(&job_dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!(
                "no rows of Slurm job {id} in {} ({e}): was the plugin on, and is this its output_dir (--slurm-dir)?",
                job_dir.display()
            ));
            return (vec![], problems);
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("step-") && name.ends_with(".json")
        })
        .collect();
    paths.sort();
    let mut rows = Vec::new();
    for p in paths {
        match std::fs::read_to_string(&p).map_err(|e| e.to_string()).and_then(|t| {
            serde_json::from_str::<StepRow>(t.trim()).map_err(|e| format!("not a row of the plugin: {e}"))
        }) {
            Ok(r) if r.job_id == id => rows.push(r),
            Ok(r) => problems.push(format!("{}: a row of job {}, not {id}", p.display(), r.job_id)),
            Err(e) => problems.push(format!("{}: {e}", p.display())),
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(format!("no rows of Slurm job {id} in {}", job_dir.display()));
    }
    rows.sort_by(|a, b| a.node.cmp(&b.node).then(a.started_unix_s.total_cmp(&b.started_unix_s)));
    (rows, problems)
}

/// Whether a run of a job (its job id as its tracker saw it) belongs to Slurm job `id`: `id`, or a
/// step of it (`id.0`, `id.batch`).
pub fn is_of_job(run_job_id: &str, id: &str) -> bool {
    run_job_id == id || run_job_id.strip_prefix(id).is_some_and(|rest| rest.starts_with('.'))
}

fn when(unix_s: f64) -> String {
    chrono::DateTime::from_timestamp(unix_s as i64, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "?".into())
}

/// The text report.
pub fn text(j: &SlurmJob) -> String {
    let (energy, emissions) = (j.energy_kwh(), j.emissions_kg());
    let e = NumberColumn::energy(energy);
    let m = NumberColumn::mass(emissions);
    let mut out = format!(
        "Slurm job {}: {}, {}, measured by the carbon-tracker SPANK plugin ({})\n  \
         total  {} {}, {} {} CO2e, {} g/kWh, {} (first step start to last step end)\n\n",
        j.id,
        format::count(j.rows.len(), "row", "rows"),
        format::count(j.nodes().len(), "node", "nodes"),
        j.dir.display(),
        e.fmt(energy),
        e.unit,
        m.fmt(emissions),
        m.unit,
        j.intensity_g_per_kwh().map(sig3).unwrap_or_else(|| "-".into()),
        format::duration_s(j.duration_s()),
    );
    let header: Vec<String> = [
        "node".to_string(),
        "step".into(),
        "started".into(),
        "duration (s)".into(),
        format!("energy ({})", e.unit),
        format!("emissions ({} CO2e)", m.unit),
        "intensity (g/kWh)".into(),
    ]
    .to_vec();
    let (row_e, total_e) = e.fmt_summing(&j.rows.iter().map(|r| r.energy_consumed_kwh).collect::<Vec<_>>());
    let (row_m, total_m) = m.fmt_summing(&j.rows.iter().map(|r| r.emissions_kg).collect::<Vec<_>>());
    let mut lines: Vec<Vec<String>> = j
        .rows
        .iter()
        .zip(row_e.into_iter().zip(row_m))
        .map(|(r, (re, rm))| {
            vec![
                r.node.clone(),
                r.step.clone(),
                when(r.started_unix_s),
                sig3(r.duration_s),
                re,
                rm,
                sig3(r.carbon_intensity_g_per_kwh),
            ]
        })
        .collect();
    lines.push(vec![
        "total".into(),
        String::new(),
        String::new(),
        sig3(j.duration_s()),
        total_e,
        total_m,
        j.intensity_g_per_kwh().map(sig3).unwrap_or_default(),
    ]);
    out += &aligned(&header, &lines, &|c| c >= 3, true);
    out += "  (each node counted once across the job's steps: a step that ran beside another counts its share)\n";
    if !j.own.is_empty() {
        out += &own_runs_text(j, &e, &m);
    }
    out += "\n";
    out
}

/// The program's own tracker runs under the job: shown, not added.
fn own_runs_text(j: &SlurmJob, e: &NumberColumn, m: &NumberColumn) -> String {
    let mut out = format!(
        "\n  The program's own tracker ({}): part of what the plugin measured above, shown and not added\n",
        format::count(j.own.len(), "run", "runs")
    );
    let header: Vec<String> = [
        "run".to_string(),
        "job id".into(),
        "node".into(),
        "rank".into(),
        "duration (s)".into(),
        format!("energy ({})", e.unit),
        format!("emissions ({} CO2e)", m.unit),
    ]
    .to_vec();
    let lines: Vec<Vec<String>> = j
        .own
        .iter()
        .map(|r| {
            let t = r.run.total();
            vec![
                r.run.short_id().to_string(),
                r.id.job_id().unwrap_or_default().to_string(),
                r.id.node.clone(),
                r.rank_text(),
                sig3(t.duration_s),
                e.fmt(t.energy_kwh),
                m.fmt(t.emissions_kg),
            ]
        })
        .collect();
    out += &aligned(&header, &lines, &|c| c >= 3, false);
    out
}

/// `--json`: the job's numbers, unrounded.
pub fn json(j: &SlurmJob) -> serde_json::Value {
    use serde_json::json;
    json!({
        "slurm_job": {
            "job_id": j.id,
            "source": "slurm-plugin",
            "energy_consumed_kwh": j.energy_kwh(),
            "emissions_kg": j.emissions_kg(),
            "carbon_intensity_g_per_kwh": j.intensity_g_per_kwh(),
            "duration_s": j.duration_s(),
            "nodes": j.nodes(),
            "rows": j.rows.iter().map(|r| json!({
                "node": r.node, "step": r.step, "node_index": r.node_index, "started_unix_s": r.started_unix_s,
                "duration_s": r.duration_s, "energy_consumed_kwh": r.energy_consumed_kwh,
                "cpu_energy_kwh": r.cpu_energy_kwh, "gpu_energy_kwh": r.gpu_energy_kwh,
                "ram_energy_kwh": r.ram_energy_kwh, "emissions_kg": r.emissions_kg,
                "carbon_intensity_g_per_kwh": r.carbon_intensity_g_per_kwh,
            })).collect::<Vec<_>>(),
            "program_trackers": j.own.iter().map(|r| {
                let t = r.run.total();
                json!({"source": "program", "run_id": r.run.run_id, "job_id": r.id.job_id(), "node": r.id.node,
                       "rank": r.id.rank(), "duration_s": t.duration_s, "energy_consumed_kwh": t.energy_kwh,
                       "emissions_kg": t.emissions_kg, "included_in_total": false})
            }).collect::<Vec<_>>(),
        }
    })
}

/// `--html`: one self-contained page, a bar per row and the tables.
pub fn html(j: &SlurmJob) -> String {
    let items: Vec<Bar> = j
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| Bar {
            label: format!("step {}", r.step),
            sublabel: r.node.clone(),
            kg: r.emissions_kg,
            color: PALETTE[i % PALETTE.len()],
            title: format!(
                "step {} on {}: {} in {}, {}",
                r.step,
                r.node,
                format::mass_kg(r.emissions_kg),
                format::duration_s(r.duration_s),
                format::energy_kwh(r.energy_consumed_kwh)
            ),
        })
        .collect();
    let mut rows = String::new();
    for r in &j.rows {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.node),
            esc(&r.step),
            esc(&when(r.started_unix_s)),
            sig3(r.duration_s),
            esc(&format::energy_kwh(r.energy_consumed_kwh)),
            esc(&format::mass_kg(r.emissions_kg)),
            sig3(r.carbon_intensity_g_per_kwh)
        );
    }
    let mut own = String::new();
    if !j.own.is_empty() {
        own.push_str(
            "<h3>The program's own tracker (part of the plugin's numbers above: shown, not added)</h3>\
<table><thead><tr><th>run</th><th>job id</th><th>node</th><th>rank</th><th>duration (s)</th><th>energy</th><th>emissions</th></tr></thead><tbody>",
        );
        for r in &j.own {
            let t = r.run.total();
            let _ = write!(
                own,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(r.run.short_id()),
                esc(r.id.job_id().unwrap_or("")),
                esc(&r.id.node),
                esc(&r.rank_text()),
                sig3(t.duration_s),
                esc(&format::energy_kwh(t.energy_kwh)),
                esc(&format::mass_kg(t.emissions_kg))
            );
        }
        own.push_str("</tbody></table>");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Slurm job {id}</title><style>{STYLE}</style></head><body><main>\
<header><h1>Slurm job {id}</h1><p>{n} on {nodes}, measured by the carbon-tracker SPANK plugin (<code>{dir}</code>)</p></header>\
<div class=\"kpis\"><div class=\"kpi\"><b>{mass}</b><span>emissions</span></div><div class=\"kpi\"><b>{energy}</b><span>energy</span></div>\
<div class=\"kpi\"><b>{intensity} g/kWh</b><span>intensity</span></div><div class=\"kpi\"><b>{duration}</b><span>first step start to last step end</span></div></div>\
<section><h2>Steps and nodes</h2><h3>Emissions of each row</h3>{bars}\
<table><thead><tr><th>node</th><th>step</th><th>started</th><th>duration (s)</th><th>energy</th><th>emissions</th><th>intensity (g/kWh)</th></tr></thead><tbody>{rows}</tbody></table>{own}</section>\
<footer>Generated by carbon-tracker {version}. Each node is counted once across the job's steps. Emissions in CO2-equivalent.</footer></main></body></html>\n",
        id = esc(&j.id),
        n = format::count(j.rows.len(), "row", "rows"),
        nodes = format::count(j.nodes().len(), "node", "nodes"),
        dir = esc(&j.dir.display().to_string()),
        mass = esc(&format::mass_kg(j.emissions_kg())),
        energy = esc(&format::energy_kwh(j.energy_kwh())),
        intensity = j.intensity_g_per_kwh().map(sig3).unwrap_or_else(|| "-".into()),
        duration = esc(&format::duration_s(j.duration_s())),
        bars = bars(&items, &format!("emissions of each row of Slurm job {}", j.id)),
        version = carbon_tracker::VERSION,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: &str, node: &str, start: f64, dur: f64, kwh: f64) -> String {
        format!(
            "{{\"job_id\":\"7\",\"step\":\"{step}\",\"node\":\"{node}\",\"node_index\":0,\"source\":\"slurm-plugin\",\
\"started_unix_s\":{start},\"duration_s\":{dur},\"energy_consumed_kwh\":{kwh},\"cpu_energy_kwh\":0,\"gpu_energy_kwh\":0,\
\"ram_energy_kwh\":{kwh},\"emissions_kg\":{},\"carbon_intensity_g_per_kwh\":50}}\n",
            kwh * 0.05
        )
    }

    #[test]
    fn rows_sum_and_span() {
        let dir = std::env::temp_dir().join(format!("ct-slurm-report-{}", std::process::id()));
        let job = dir.join("job-7");
        std::fs::create_dir_all(&job).unwrap();
        std::fs::write(job.join("step-batch.na.json"), row("batch", "na", 100.0, 10.0, 2e-3)).unwrap();
        std::fs::write(job.join("step-0.na.json"), row("0", "na", 102.0, 3.0, 1e-3)).unwrap();
        std::fs::write(job.join("step-0.nb.json"), row("0", "nb", 102.0, 12.0, 4e-3)).unwrap();
        std::fs::write(job.join("step-1.nb.json"), "{not json").unwrap();
        let (rows, problems) = read_rows(&dir, "7");
        assert_eq!(rows.len(), 3);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let j = SlurmJob { id: "7".into(), dir: dir.clone(), rows, own: vec![] };
        assert!((j.energy_kwh() - 7e-3).abs() < 1e-12);
        assert!((j.duration_s() - 14.0).abs() < 1e-9, "first start 100, last end 114");
        assert_eq!(j.nodes(), vec!["na", "nb"]);
        assert!((j.intensity_g_per_kwh().unwrap() - 50.0).abs() < 1e-9);
        let t = text(&j);
        assert!(t.contains("Slurm job 7: 3 rows, 2 nodes"), "{t}");
        assert!(t.contains("7.000 Wh"), "{t}");
        assert!(read_rows(&dir, "8").1[0].contains("no rows of Slurm job 8"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn job_ids_and_steps() {
        assert!(check_job_id("4242").is_ok());
        assert!(check_job_id("42/../x").is_err() && check_job_id("").is_err());
        assert!(is_of_job("42", "42") && is_of_job("42.0", "42") && is_of_job("42.batch", "42"));
        assert!(!is_of_job("421", "42") && !is_of_job("4", "42"));
    }
}

//! `carbon-tracker report [FILE|DIR...] [--html FILE] [--json]`: a table per project and run; for
//! the ranks of a job (their run files say so) the job's total, a line per node and per rank, and
//! the regions; an HTML page with charts. A directory is read whole (emissions CSVs, region and
//! run files). A file or line that cannot be read is named on standard error and skipped; the
//! rest is still reported (exit status 1 then). `--slurm-job ID`: a Slurm job measured by the SPANK
//! plugin (slurm.rs).

mod csv_in;
mod dir_in;
mod html;
mod job;
mod regions_in;
pub mod slurm;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use carbon_tracker::RegionTotals;

use chrono::NaiveDateTime;

use crate::format::sig3;
pub use csv_in::Row;

/// One run: its rows (cumulative totals), sorted by duration.
#[derive(Debug, Clone)]
pub struct Run {
    pub project: String,
    pub run_id: String,
    /// The files its rows came from (the same run may be in several, e.g. a copy).
    pub files: Vec<PathBuf>,
    pub rows: Vec<Row>,
}

impl Run {
    /// The last row: the run's totals.
    pub fn total(&self) -> &Row {
        self.rows.last().expect("a run has at least one row")
    }

    /// When the run started: its first row's time minus that row's duration.
    pub fn started(&self) -> Option<NaiveDateTime> {
        let first = self.rows.first()?;
        Some(first.timestamp? - chrono::Duration::milliseconds((first.duration_s * 1000.0) as i64))
    }

    /// gCO2e/kWh over the whole run.
    pub fn intensity_g_per_kwh(&self) -> Option<f64> {
        let t = self.total();
        (t.energy_kwh > 0.0).then(|| t.emissions_kg * 1000.0 / t.energy_kwh)
    }

    pub fn short_id(&self) -> &str {
        self.run_id.get(..8).unwrap_or(&self.run_id)
    }
}

/// Runs grouped by project (sorted by name), each project's runs by start time.
pub type Projects = BTreeMap<String, Vec<Run>>;

pub fn group(files: &[(PathBuf, Vec<Row>)]) -> Projects {
    let mut runs: BTreeMap<(String, String), Run> = BTreeMap::new();
    for (file, rows) in files {
        for r in rows {
            let run = runs.entry((r.project.clone(), r.run_id.clone())).or_insert_with(|| Run {
                project: r.project.clone(),
                run_id: r.run_id.clone(),
                files: vec![],
                rows: vec![],
            });
            if !run.files.contains(file) {
                run.files.push(file.clone());
            }
            run.rows.push(r.clone());
        }
    }
    let mut projects = Projects::new();
    for (_, mut run) in runs {
        run.rows.sort_by(|a, b| a.duration_s.total_cmp(&b.duration_s).then(a.timestamp.cmp(&b.timestamp)));
        run.rows.dedup_by(|a, b| a.duration_s == b.duration_s && a.emissions_kg == b.emissions_kg);
        projects.entry(run.project.clone()).or_default().push(run);
    }
    for runs in projects.values_mut() {
        runs.sort_by(|a, b| a.started().cmp(&b.started()).then(a.run_id.cmp(&b.run_id)));
    }
    projects
}

/// Each run's regions (its region file's rows), by run id.
pub type Regions = HashMap<String, Vec<RegionTotals>>;

pub fn run(args: &[PathBuf], html_path: Option<&Path>, json: bool) -> i32 {
    let inputs = dir_in::collect(args);
    let mut problems = inputs.problems.len();
    for e in &inputs.problems {
        say!("carbon-tracker: {e}");
    }
    let mut read = Vec::new();
    for f in &inputs.emissions_files {
        let (rows, errs) = csv_in::read(f);
        for e in &errs {
            say!("carbon-tracker: {e}");
        }
        problems += errs.len();
        read.push((f.clone(), rows));
    }
    let mut regions = Regions::new();
    for r in inputs.regions {
        let list = regions.entry(r.run_id).or_default();
        // A run's file read twice (a copy): its rows once.
        list.retain(|x| x.name != r.totals.name);
        list.push(r.totals);
    }
    let mut projects = group(&read);
    let jobs = job::take_jobs(&mut projects, &inputs.identities, &regions);
    let nothing = projects.is_empty() && jobs.is_empty();
    if json {
        println!("{}", serde_json::to_string_pretty(&json_report(&jobs, &projects, &regions)).unwrap_or_default());
    } else if nothing {
        say!("carbon-tracker: no runs to report");
    } else {
        for j in &jobs {
            print!("{}", job::text(j));
        }
        print!("{}", table(&projects, &regions));
    }
    if let Some(p) = html_path {
        let files = &inputs.emissions_files;
        let page = html::page(&projects, &jobs, &regions, files);
        if let Err(e) = std::fs::write(p, page) {
            say!("carbon-tracker: cannot write {}: {e}", p.display());
            return 1;
        }
        say!("carbon-tracker: wrote {}", p.display());
    }
    if problems > 0 || nothing {
        1
    } else {
        0
    }
}

fn region_json(r: &job::RegionSum) -> serde_json::Value {
    let mut v = carbon_tracker::files::region_json(&r.totals);
    v["runs"] = r.runs.into();
    v
}

/// `--json`: every number of the text report, unrounded.
fn json_report(jobs: &[job::Job], projects: &Projects, regions: &Regions) -> serde_json::Value {
    use serde_json::json;
    let run_json = |r: &Run| {
        let t = r.total();
        json!({"run_id": r.run_id, "project_name": r.project, "duration_s": t.duration_s, "energy_consumed_kwh": t.energy_kwh,
               "emissions_kg": t.emissions_kg, "rows": r.rows.len(), "started": started_text(r)})
    };
    json!({
        "jobs": jobs.iter().map(|j| json!({
            "job_id": j.id,
            "project_name": j.project,
            "energy_consumed_kwh": j.energy_kwh(),
            "emissions_kg": j.emissions_kg(),
            "wall_s": j.wall_s(),
            "nodes": j.nodes.iter().map(|n| json!({"node": n.name, "node_id": n.node_id, "ranks": n.ranks,
                "energy_consumed_kwh": n.energy_kwh, "emissions_kg": n.emissions_kg})).collect::<Vec<_>>(),
            "ranks": j.ranks.iter().map(|r| {
                let mut v = run_json(&r.run);
                v["rank"] = json!(r.id.rank());
                v["local_rank"] = json!(r.id.local_rank());
                v["node"] = json!(r.id.node);
                v["node_id"] = json!(r.id.node_id());
                v
            }).collect::<Vec<_>>(),
            "regions": j.regions.iter().map(region_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "projects": projects.iter().map(|(name, runs)| json!({
            "project_name": name,
            "runs": runs.iter().map(run_json).collect::<Vec<_>>(),
            "regions": job::sum_regions(runs.iter().map(|r| r.run_id.as_str()), regions).iter().map(region_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The largest unit (factor, name) that `max` reaches, else the smallest.
fn unit(max: f64, units: &[(f64, &'static str)]) -> (f64, &'static str) {
    units.iter().copied().find(|(f, _)| max >= *f).unwrap_or(*units.last().unwrap())
}

pub fn started_text(run: &Run) -> String {
    run.started().map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "?".into())
}

/// A table per project: one line per run, then the project's total; then its regions, if any.
pub fn table(projects: &Projects, regions: &Regions) -> String {
    let mut out = String::new();
    for (name, runs) in projects {
        let energy: f64 = runs.iter().map(|r| r.total().energy_kwh).sum();
        let emissions: f64 = runs.iter().map(|r| r.total().emissions_kg).sum();
        let duration: f64 = runs.iter().map(|r| r.total().duration_s).sum();
        let mut files: Vec<String> = Vec::new();
        for f in runs.iter().flat_map(|r| &r.files) {
            let f = f.display().to_string();
            if !files.contains(&f) {
                files.push(f);
            }
        }
        out += &format!(
            "Project {}: {} from {}\n",
            if name.is_empty() { "(no name)" } else { name },
            crate::format::count(runs.len(), "run", "runs"),
            files.join(", ")
        );
        // One unit per column, fitted to the project's total (its largest number), so the column
        // reads at a glance.
        let (ef, eu) = unit(energy, &[(1.0, "kWh"), (1e-3, "Wh"), (1e-6, "mWh"), (1e-9, "µWh")]);
        let (mf, mu) = unit(emissions, &[(1.0, "kg"), (1e-3, "g"), (1e-6, "mg"), (1e-9, "µg")]);
        let (energy_h, emissions_h) = (format!("energy ({eu})"), format!("emissions ({mu} CO2e)"));
        let header =
            ["run", "started", "duration (s)", &energy_h, &emissions_h, "intensity (g/kWh)", "rows", "mode", "tracker"]
                .map(str::to_string);
        let mut lines: Vec<Vec<String>> = runs
            .iter()
            .map(|r| {
                let t = r.total();
                vec![
                    r.short_id().to_string(),
                    started_text(r),
                    sig3(t.duration_s),
                    sig3(t.energy_kwh / ef),
                    sig3(t.emissions_kg / mf),
                    r.intensity_g_per_kwh().map(sig3).unwrap_or_else(|| "-".into()),
                    r.rows.len().to_string(),
                    t.tracking_mode.clone(),
                    t.tracker_version.clone(),
                ]
            })
            .collect();
        lines.push(vec![
            "total".into(),
            String::new(),
            sig3(duration),
            sig3(energy / ef),
            sig3(emissions / mf),
            if energy > 0.0 { sig3(emissions * 1000.0 / energy) } else { "-".into() },
            String::new(),
            String::new(),
            String::new(),
        ]);
        out += &job::aligned(&header, &lines, &|c| (2..=6).contains(&c), true);
        let sums = job::sum_regions(runs.iter().map(|r| r.run_id.as_str()), regions);
        if !sums.is_empty() {
            out += "\n  Regions (energy: the run's over the time each was open)\n";
            out += &job::region_table(&sums, energy, "runs");
        }
        out += "\n";
    }
    out
}

/// `--slurm-job ID`: the plugin's rows of the job under `slurm_dir`, and the program's own trackers
/// of that job found in `args` (listed apart, never added).
pub fn run_slurm(id: &str, slurm_dir: &Path, args: &[PathBuf], html_path: Option<&Path>, json: bool) -> i32 {
    if let Err(e) = slurm::check_job_id(id) {
        say!("carbon-tracker: {e}");
        return 2;
    }
    let (rows, problems) = slurm::read_rows(slurm_dir, id);
    for e in &problems {
        say!("carbon-tracker: {e}");
    }
    let mut own = Vec::new();
    if !args.is_empty() {
        let inputs = dir_in::collect(args);
        for e in &inputs.problems {
            say!("carbon-tracker: {e}");
        }
        let read: Vec<(PathBuf, Vec<Row>)> =
            inputs.emissions_files.iter().map(|f| (f.clone(), csv_in::read(f).0)).collect();
        let mut projects = group(&read);
        let plugin_dir = slurm_dir.join(format!("job-{id}"));
        for j in job::take_jobs(&mut projects, &inputs.identities, &Regions::new()) {
            if slurm::is_of_job(&j.id, id) {
                // The plugin's own trackers write beside its rows: those are in the total already.
                own.extend(j.ranks.into_iter().filter(|r| !r.run.files.iter().all(|f| f.starts_with(&plugin_dir))));
            }
        }
    }
    if rows.is_empty() {
        return 1;
    }
    let job = slurm::SlurmJob { id: id.to_string(), dir: slurm_dir.to_path_buf(), rows, own };
    if json {
        println!("{}", serde_json::to_string_pretty(&slurm::json(&job)).unwrap_or_default());
    } else {
        print!("{}", slurm::text(&job));
    }
    if let Some(p) = html_path {
        if let Err(e) = std::fs::write(p, slurm::html(&job)) {
            say!("carbon-tracker: cannot write {}: {e}", p.display());
            return 1;
        }
        say!("carbon-tracker: wrote {}", p.display());
    }
    i32::from(!problems.is_empty())
}

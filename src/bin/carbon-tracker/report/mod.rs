//! `carbon-tracker report [FILE...] [--html FILE]`: a table per project and run, and an HTML page
//! with a chart of each run's emissions over time. A file or line that cannot be read is named
//! on standard error and skipped; the rest is still reported (exit status 1 then).

mod csv_in;
mod html;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
            let run = runs
                .entry((r.project.clone(), r.run_id.clone()))
                .or_insert_with(|| Run { project: r.project.clone(), run_id: r.run_id.clone(), files: vec![], rows: vec![] });
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

pub fn run(files: &[PathBuf], html_path: Option<&Path>) -> i32 {
    let mut read = Vec::new();
    let mut problems = 0;
    for f in files {
        let (rows, errs) = csv_in::read(f);
        for e in &errs {
            say!("carbon-tracker: {e}");
        }
        problems += errs.len();
        read.push((f.clone(), rows));
    }
    let projects = group(&read);
    if projects.is_empty() {
        say!("carbon-tracker: no runs to report");
    } else {
        print!("{}", table(&projects));
    }
    if let Some(p) = html_path {
        let page = html::page(&projects, files);
        if let Err(e) = std::fs::write(p, page) {
            say!("carbon-tracker: cannot write {}: {e}", p.display());
            return 1;
        }
        say!("carbon-tracker: wrote {}", p.display());
    }
    if problems > 0 || projects.is_empty() {
        1
    } else {
        0
    }
}

/// The largest unit (factor, name) that `max` reaches, else the smallest.
fn unit(max: f64, units: &[(f64, &'static str)]) -> (f64, &'static str) {
    units.iter().copied().find(|(f, _)| max >= *f).unwrap_or(*units.last().unwrap())
}

pub fn started_text(run: &Run) -> String {
    run.started().map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "?".into())
}

/// A table per project: one line per run, then the project's total.
pub fn table(projects: &Projects) -> String {
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
            "Project {}: {} run(s) from {}\n",
            if name.is_empty() { "(no name)" } else { name },
            runs.len(),
            files.join(", ")
        );
        // One unit per column, fitted to the project's total (its largest number), so the column
        // reads at a glance.
        let (ef, eu) = unit(energy, &[(1.0, "kWh"), (1e-3, "Wh"), (1e-6, "mWh"), (1e-9, "µWh")]);
        let (mf, mu) = unit(emissions, &[(1.0, "kg"), (1e-3, "g"), (1e-6, "mg"), (1e-9, "µg")]);
        let (energy_h, emissions_h) = (format!("energy ({eu})"), format!("emissions ({mu} CO2e)"));
        let header = ["run", "started", "duration (s)", &energy_h, &emissions_h, "intensity (g/kWh)", "rows", "mode", "tracker"];
        let mut lines: Vec<[String; 9]> = runs
            .iter()
            .map(|r| {
                let t = r.total();
                [
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
        lines.push([
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
        let widths: Vec<usize> =
            (0..9).map(|c| lines.iter().map(|l| l[c].chars().count()).chain([header[c].chars().count()]).max().unwrap_or(0)).collect();
        let numeric = |c: usize| (2..=6).contains(&c);
        let fmt_line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(c, v)| if numeric(c) { format!("{v:>w$}", w = widths[c]) } else { format!("{v:<w$}", w = widths[c]) })
                .collect();
            format!("  {}\n", parts.join("  ").trim_end())
        };
        out += &fmt_line(&header.map(str::to_string));
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            if i == n - 1 {
                out += &format!("  {}\n", "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            }
            out += &fmt_line(l);
        }
        out += "\n";
    }
    out
}

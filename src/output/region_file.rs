//! The region file: `regions_<experiment_name>_<run_id>.csv` beside `emissions.csv`, one row
//! per region with its totals since start, rewritten whole at each flush and stop (through a
//! temporary file and a rename, so a reader never sees half a file). Never one row per call.
//! Each row also names the run, job, rank and node, so the files of a job's ranks can simply
//! be concatenated. [`COLUMNS`] is the one declaration of a region's numbers: the CSV and the
//! `"regions"` objects of `ct_tracker_json` are both read from it.

use std::path::{Path, PathBuf};

use once_cell::sync::Lazy;
use serde_json::Value;

use super::emissions_data::{push_csv_field, Cell};
use crate::error::{Error, Result};
use crate::record::identity::Identity;
use crate::record::region::RegionTotals;

pub type Column = (&'static str, fn(&RegionTotals) -> Cell<'_>);

/// A region's fields, in CSV and JSON order.
pub const COLUMNS: [Column; 13] = [
    ("name", |r| Cell::Text(&r.name)),
    ("calls", |r| Cell::Count(r.calls as usize)),
    ("open_calls", |r| Cell::Count(r.open_calls as usize)),
    ("duration_s", |r| Cell::Float(r.duration_s)),
    ("min_duration_s", |r| Cell::Float(r.min_duration_s)),
    ("max_duration_s", |r| Cell::Float(r.max_duration_s)),
    ("wall_s", |r| Cell::Float(r.wall_s)),
    ("cpu_energy_kwh", |r| Cell::Float(r.cpu_energy_kwh)),
    ("gpu_energy_kwh", |r| Cell::Float(r.gpu_energy_kwh)),
    ("ram_energy_kwh", |r| Cell::Float(r.ram_energy_kwh)),
    ("energy_consumed_kwh", |r| Cell::Float(r.energy_consumed_kwh)),
    ("emissions_kg", |r| Cell::Float(r.emissions_kg)),
    ("water_consumed_l", |r| Cell::Float(r.water_consumed_l)),
];

pub type IdColumn = (&'static str, fn(&Identity) -> Cell<'_>);

/// The run each row belongs to (before the region's own columns).
pub const ID_COLUMNS: [IdColumn; 7] = [
    ("project_name", |i| Cell::Text(&i.project_name)),
    ("experiment_name", |i| Cell::Text(&i.experiment_name)),
    ("run_id", |i| Cell::Text(&i.run_id)),
    ("job_id", |i| i.job.as_ref().map_or(Cell::Missing, |j| Cell::Text(&j.id))),
    ("rank", |i| i.job.as_ref().map_or(Cell::Missing, |j| Cell::Count(j.rank as usize))),
    ("local_rank", |i| i.job.as_ref().and_then(|j| j.local_rank).map_or(Cell::Missing, |r| Cell::Count(r as usize))),
    ("node", |i| Cell::Text(&i.node)),
];

pub static HEADER: Lazy<String> = Lazy::new(|| {
    std::iter::once("timestamp").chain(ID_COLUMNS.iter().map(|c| c.0)).chain(COLUMNS.iter().map(|c| c.0)).collect::<Vec<_>>().join(",")
});

/// Where the region rows of run `run_id` go (named as the task file is).
pub fn region_file_path(output_dir: &Path, experiment_name: &str, run_id: &str) -> PathBuf {
    super::file_names::run_file_path(output_dir, "regions", experiment_name, run_id, "csv")
}

/// A region as the JSON object of `ct_tracker_json`'s `"regions"`.
pub fn to_json(r: &RegionTotals) -> Value {
    Value::Object(COLUMNS.iter().map(|(name, value)| (name.to_string(), value(r).to_json())).collect())
}

fn push_field(line: &mut String, cell: Cell<'_>) {
    let mut field = String::new();
    cell.write_csv(&mut field);
    push_csv_field(line, &field);
}

/// The region file as a sink: rewritten at every report once a region exists.
pub struct RegionFile {
    path: PathBuf,
}

impl RegionFile {
    pub fn new(output_dir: &Path, experiment_name: &str, run_id: &str) -> RegionFile {
        RegionFile { path: region_file_path(output_dir, experiment_name, run_id) }
    }
}

impl super::sink::Sink for RegionFile {
    fn on_report(&mut self, record: &super::sink::Record<'_>, log: &crate::log::Logger) -> Result<()> {
        let Some(regions) = record.regions else { return Ok(()) };
        let timestamp = crate::clock::LocalTime::now().iso_seconds();
        write(&self.path, &timestamp, record.identity, regions)
            .inspect_err(|e| log.error(format!("{e} (the region totals are kept; the next flush writes them again)")))
    }
}

/// Writes the file of `regions`, replacing the previous one.
pub fn write(path: &Path, timestamp: &str, id: &Identity, regions: &[RegionTotals]) -> Result<()> {
    let mut text = String::with_capacity(256 * (regions.len() + 1));
    text.push_str(&HEADER);
    text.push('\n');
    for r in regions {
        push_csv_field(&mut text, timestamp);
        for (_, value) in &ID_COLUMNS {
            text.push(',');
            push_field(&mut text, value(id));
        }
        for (_, value) in &COLUMNS {
            text.push(',');
            push_field(&mut text, value(r));
        }
        text.push('\n');
    }
    super::whole_file::replace(path, text.as_bytes()).map_err(|e| Error::io(path, "cannot write the region file", &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::job::Job;

    #[test]
    fn rows_are_one_per_region_replaced_whole_and_match_the_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = region_file_path(dir.path(), "base", "r1");
        let job = Job::new("j, 1", 3, "options");
        let id = Identity { run_id: "r1".into(), job: Some(job), node: "n1".into(), ..Default::default() };
        let a = RegionTotals { name: "solver".into(), calls: 10, duration_s: 1.5, energy_consumed_kwh: 2e-6, ..Default::default() };
        let b = RegionTotals { name: "halo, exchange".into(), calls: 10, ..Default::default() };
        write(&path, "t0", &id, std::slice::from_ref(&a)).unwrap();
        write(&path, "t1", &id, &[a.clone(), b]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
        let recs: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(&recs[1][header.iter().position(|h| h == "name").unwrap()], "halo, exchange");
        assert_eq!(&recs[0][header.iter().position(|h| h == "job_id").unwrap()], "j, 1");
        assert_eq!(&recs[0][0], "t1");
        let json = to_json(&a);
        for (name, _) in &COLUMNS {
            let field = &recs[0][header.iter().position(|h| h == name).unwrap()];
            match &json[*name] {
                Value::String(s) => assert_eq!(field, s),
                Value::Number(n) => assert_eq!(field.parse::<f64>().unwrap(), n.as_f64().unwrap(), "{name}"),
                other => panic!("{name}: {other}"),
            }
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}

//! The one interface of the outputs that take each report, and the list of the file outputs. The tracker holds the sinks that
//! [`open`] registers and hands each report to every one ([`Sink::on_report`]); it knows no
//! sink's file name. Adding a file output: a file under `src/output/` with a type that
//! implements [`Sink`], and one line in [`open`].

use crate::config::Config;
use crate::error::{Error, Result};
use crate::log::Logger;
use crate::record::identity::Identity;
use crate::record::region::RegionTotals;
use crate::record::Prediction;

use super::EmissionsData;

/// What a report (flush, stop) hands every sink.
pub struct Record<'a> {
    /// The run's totals since start: a row of `emissions.csv`.
    pub row: &'a EmissionsData,
    /// How many tasks have finished so far (the list only grows).
    pub finished_tasks: usize,
    /// The finished tasks' rows (task name, its row), built only for a sink that asks.
    pub task_rows: &'a dyn Fn() -> Vec<(String, EmissionsData)>,
    /// The regions' totals, when a region exists.
    pub regions: Option<&'a [RegionTotals]>,
    /// Job, node and rank of this run.
    pub identity: &'a Identity,
    /// The prediction, for a sink that wants it, of a run that reports progress or has a budget.
    pub prediction: Option<Prediction>,
}

/// A file output. A sink that fails logs why (and what it keeps for the next report) and
/// returns the error, which the report carries.
pub trait Sink: Send {
    /// Takes a report (each flush and the stop).
    fn on_report(&mut self, record: &Record<'_>, log: &Logger) -> Result<()>;

    /// Whether a failure leaves the run's row unsaved (a rank of a job sharing the node then
    /// leaves that time to the other ranks).
    fn holds_the_row(&self) -> bool {
        false
    }

    /// Whether [`Record::prediction`] is wanted (it costs a forecast at each report).
    fn wants_prediction(&self) -> bool {
        false
    }

    /// At stop, after the last report and outside the tracker's lock: waits for what is still
    /// queued until `left()` runs out.
    fn finish(self: Box<Self>, _left: &dyn Fn() -> std::time::Duration) -> Vec<Error> {
        Vec::new()
    }

    /// A tracker released without stop: what is still queued is given up at once.
    fn abandon(self: Box<Self>) {}
}

/// What the sinks of a run need to know when they open.
pub struct Opening<'a> {
    pub config: &'a Config,
    pub run_id: &'a str,
    /// A rank of a job (which writes the run file).
    pub in_job: bool,
    /// Tasks a resumed run finished before (already in the task file).
    pub finished_tasks: usize,
}

/// The registered sinks of a run, opened in order (their errors are reported in it). With
/// `save_to_file`, `output_dir` is checked first (created when only it is missing) and the
/// CSV's header written: an error here is an error of `start`.
pub fn open(o: &Opening<'_>, log: &Logger) -> Result<Vec<Box<dyn Sink>>> {
    let c = o.config;
    if !c.save_to_file {
        return Ok(Vec::new());
    }
    let (dir, experiment, run_id) = (&c.output_dir, c.experiment_name.as_str(), o.run_id);
    super::csv_file::ensure_output_dir(dir)?;
    let csv = super::csv_file::CsvSink::new(c.output_path(), c.on_csv_write);
    csv.prepare(log).map_err(|e| Error::new(e.kind, format!("output_dir {}: {}", dir.display(), e.message)))?;
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(csv), Box::new(super::task_file::TaskFile::new(dir, experiment, run_id, o.finished_tasks))];
    if o.in_job {
        sinks.push(Box::new(super::run_file::RunFile::new(dir, experiment, run_id)));
    }
    sinks.push(Box::new(super::region_file::RegionFile::new(dir, experiment, run_id)));
    Ok(sinks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{options, Origin, Sources};
    use crate::log::Level;

    fn row() -> EmissionsData {
        EmissionsData { timestamp: "2026-01-01T00:00:00".into(), run: Default::default(), numbers: Default::default() }
    }

    #[test]
    fn a_rank_registers_every_file_sink_and_only_the_csv_holds_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let opts = format!("offline=true;country_iso_code=FRA;output_dir={};experiment_name=base", dir.path().display());
        let config = Config::from_sources(&Sources { layers: vec![(Origin::Options, options::parse(&opts).unwrap())] }).unwrap();
        let log = Logger { threshold: Level::Critical, preamble: String::new() };
        let opening = Opening { config: &config, run_id: "r1", in_job: true, finished_tasks: 0 };
        let mut sinks = open(&opening, &log).unwrap();
        assert_eq!(sinks.iter().map(|s| s.holds_the_row()).collect::<Vec<_>>(), [true, false, false, false]);
        let (row, identity) = (row(), Identity { run_id: "r1".into(), ..Default::default() });
        let task_rows = || vec![("t".to_string(), row.clone())];
        let record = Record { row: &row, finished_tasks: 1, task_rows: &task_rows, regions: None, identity: &identity, prediction: None };
        for sink in &mut sinks {
            sink.on_report(&record, &log).unwrap();
        }
        let names = |d: &std::path::Path| {
            let mut n: Vec<String> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            n.sort();
            n
        };
        // The CSV, the task file and the run file; the region file only once a region exists.
        assert_eq!(names(dir.path()), ["emissions.csv", "emissions_base_r1.csv", "run_base_r1.json"]);
        // Not a rank of a job: no run file; without save_to_file, no sink at all.
        assert_eq!(open(&Opening { in_job: false, ..opening }, &log).unwrap().len(), 3);
        let off = Config::from_sources(&Sources { layers: vec![(Origin::Options, options::parse("save_to_file=false").unwrap())] }).unwrap();
        assert!(open(&Opening { config: &off, ..opening }, &log).unwrap().is_empty());
    }
}

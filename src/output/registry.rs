//! The two lists of a run's outputs: the file outputs ([`open`], at start, before anything is
//! measured) and the network and log outputs ([`open_uploads`], once the run is described).
//! Adding an output: a file under `src/output/` with a type that implements
//! [`Sink`](super::sink::Sink), and one line here.

use std::sync::Arc;
use std::time::Duration;

use super::sink::Sink;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::log::Logger;
use crate::record::identity::Identity;
use crate::record::run::RunInfo;
use crate::record::EmissionsSnapshot;

/// What the file sinks of a run need to know when they open.
pub struct Opening<'a> {
    pub config: &'a Config,
    pub run_id: &'a str,
    /// A rank of a job (which writes the run file).
    pub in_job: bool,
    /// Tasks a resumed run finished before (already in the task file).
    pub finished_tasks: usize,
}

/// The registered file sinks of a run, opened in order (their errors are reported in it). With
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

/// What the network and log sinks of a run need to know when they open.
pub struct UploadsOpening<'a> {
    pub config: &'a Config,
    pub run: &'a Arc<RunInfo>,
    pub identity: &'a Identity,
    /// Per-request limit (the uploads run in the background).
    pub request_timeout: Duration,
    /// A resumed run (`restart_after_stop`): its totals so far, and the sinks it carries over
    /// ([`Sink::carry_over`]), which go on instead of new ones of their kind.
    pub resumed: Option<(EmissionsSnapshot, Vec<Box<dyn Sink>>)>,
}

/// The registered network and log sinks of a run, in the order they take each report (after
/// the file sinks) and are waited for at stop, within one `api_timeout_s`: the CodeCarbon API
/// first. None of them can fail to open: a bad address shows at the first upload.
///
/// A sink whose queue carries over a restart ([`Sink::carry_over`]) is opened in the `None`
/// branch only: a resumed run goes on with the carried one.
pub fn open_uploads(o: UploadsOpening<'_>, log: &Logger) -> Vec<Box<dyn Sink>> {
    let c = o.config;
    let (resumed_total, mut sinks) = match o.resumed {
        // The API's and the endpoint's queues, carried over.
        Some((total, carried)) => (Some(total), carried),
        None => {
            let mut new: Vec<Box<dyn Sink>> = Vec::new();
            new.extend(super::api::ApiSink::open(c, o.run, o.request_timeout, log));
            new.extend(super::http_endpoint::EndpointSink::open(c, o.request_timeout, log));
            (None, new)
        }
    };
    sinks.extend(super::prometheus::PrometheusSink::open(c, o.run, o.identity, resumed_total, o.request_timeout, log));
    sinks.extend(super::otlp::OtlpSink::open(c, o.run, o.identity, o.request_timeout, log));
    sinks.extend(super::logger::LogSink::open(c));
    sinks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{options, Origin, Sources};
    use crate::output::sink::Record;
    use crate::output::EmissionsData;
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
        let record = Record { row: &row, final_report: false, finished_tasks: 1, task_rows: &task_rows, regions: None, identity: &identity, prediction: None };
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

    #[test]
    fn every_network_and_log_output_registers_and_a_resumed_run_keeps_the_queues_that_carry_over() {
        // Loopback addresses nothing listens on: the sinks only queue, and are given up.
        let opts = "location_lookup=false;country_iso_code=FRA;save_to_api=true;api_endpoint=http://127.0.0.1:9;\
                    emissions_endpoint=http://127.0.0.1:9/e;save_to_prometheus=true;prometheus_url=http://127.0.0.1:9;\
                    save_to_otlp=true;otlp_endpoint=http://127.0.0.1:9;save_to_logger=true";
        let config = Config::from_sources(&Sources { layers: vec![(Origin::Options, options::parse(opts).unwrap())] }).unwrap();
        let log = Logger { threshold: Level::Critical, preamble: String::new() };
        let (run, identity) = (Arc::new(RunInfo::default()), Identity::default());
        let opening = |resumed| UploadsOpening { config: &config, run: &run, identity: &identity, request_timeout: Duration::from_millis(10), resumed };
        let sinks = open_uploads(opening(None), &log);
        // The API, the endpoint, Prometheus, OTLP, the log; the monitoring outputs take predictions.
        assert_eq!(sinks.iter().map(|s| s.wants_prediction()).collect::<Vec<_>>(), [false, false, true, true, false]);
        let carried: Vec<_> = sinks.iter().filter_map(|s| s.carry_over()).collect();
        assert_eq!(carried.len(), 2, "the API's and the endpoint's queues go on after a restart");
        let resumed = open_uploads(opening(Some((EmissionsSnapshot::default(), carried))), &log);
        assert_eq!(resumed.len(), 5, "the carried queues are not opened a second time");
        for sink in sinks.into_iter().chain(resumed) {
            sink.abandon();
        }
        let off = Config::from_sources(&Sources { layers: vec![(Origin::Options, options::parse("offline=true").unwrap())] }).unwrap();
        assert!(open_uploads(UploadsOpening { config: &off, ..opening(None) }, &log).is_empty());
    }
}

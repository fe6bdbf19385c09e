//! The one interface of the outputs, [`Sink`]: the tracker hands each report to every sink
//! ([`Sink::on_report`]), each background measurement ([`Sink::on_tick`]) and each change of the
//! run's description ([`Sink::on_run_changed`]); it knows no sink's file name, address or
//! schedule. The sinks of a run are registered in `output::registry`.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::log::Logger;
use crate::record::identity::Identity;
use crate::record::region::RegionTotals;
use crate::record::run::RunInfo;
use crate::record::{EmissionsSnapshot, Prediction};

use super::EmissionsData;

/// What a report (flush, stop) hands every sink.
pub struct Record<'a> {
    /// The run's totals since start: a row of `emissions.csv`.
    pub row: &'a EmissionsData,
    /// The stop's report (the last one of the run, or of its window before a restart).
    pub final_report: bool,
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

/// An output. A sink that fails logs why (and what it keeps for the next report) and returns
/// the error, which the report carries. A network sink only queues (its uploads run in the
/// background) and waits at [`Sink::finish`].
pub trait Sink: Send {
    /// Takes a report (each flush and the stop).
    fn on_report(&mut self, record: &Record<'_>, log: &Logger) -> Result<()>;

    /// At each background measurement: how many there were since start, and the run's totals
    /// then (computed only for a sink that calls it).
    fn on_tick(&mut self, _ticks: u64, _total: &dyn Fn() -> EmissionsSnapshot) {}

    /// The run's description changed (its location, once the lookup has ended).
    fn on_run_changed(&mut self, _run: &Arc<RunInfo>) {}

    /// Whether a failure leaves the run's row unsaved (a rank of a job sharing the node then
    /// leaves that time to the other ranks).
    fn holds_the_row(&self) -> bool {
        false
    }

    /// Whether [`Record::prediction`] is wanted (it costs a forecast at each report).
    fn wants_prediction(&self) -> bool {
        false
    }

    /// At a stop with `restart_after_stop`: a handle on this sink's queue that a resumed run
    /// goes on with (the same remote run, deltas from where they were), or `None`, and
    /// `output::registry::open_uploads` opens it anew for the resumed run.
    fn carry_over(&self) -> Option<Box<dyn Sink>> {
        None
    }

    /// At stop, after the last report and outside the tracker's lock: waits for what is still
    /// queued until `left()` runs out.
    fn finish(self: Box<Self>, _left: &dyn Fn() -> Duration) -> Vec<Error> {
        Vec::new()
    }

    /// A tracker released without stop: what is still queued is given up at once.
    fn abandon(self: Box<Self>) {}
}

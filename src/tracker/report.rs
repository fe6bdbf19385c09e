//! A report (flush, stop): the row to the sinks.

use super::*;
use crate::output::sink::Record;

impl Inner {
    /// Ends task `name` at the measurement just taken at `now`.
    pub(super) fn stop_task(&self, r: &mut Running, name: &str, now: Instant) -> Result<EmissionsSnapshot> {
        let (intensity, pue) = (&r.intensity, self.config.pue);
        let snapshot = |window: Totals, duration_s: f64| window.snapshot(duration_s, intensity, pue);
        r.tasks.stop(name, snapshot, r.totals, now, metadata::timestamp_now())
    }

    /// Hands the report to every sink; whether the row was saved, and the sinks' errors.
    fn report_to_sinks(&self, r: &mut Running, row: &EmissionsData, final_report: bool, prediction: Option<Prediction>) -> (bool, Vec<Error>) {
        let regions = if self.regions.is_empty() { None } else { Some(self.regions.totals()) };
        let (finished, run) = (&r.tasks.finished, &r.run);
        let task_rows = || {
            let row = |t: &tasks::FinishedTask| EmissionsData { timestamp: t.timestamp.clone(), run: run.clone(), numbers: t.numbers };
            finished.iter().map(|t| (t.name.clone(), row(t))).collect()
        };
        let record = Record { row, final_report, finished_tasks: finished.len(), task_rows: &task_rows, regions: regions.as_deref(), identity: &r.identity, prediction };
        let (mut row_written, mut errors) = (true, Vec::new());
        for sink in &mut r.sinks {
            if let Err(e) = sink.on_report(&record, &self.log) {
                row_written &= !sink.holds_the_row();
                errors.push(e);
            }
        }
        (row_written, errors)
    }

    /// A forked child's flush or stop: the totals as of the parent's last measurement before
    /// the fork (the duration up to now), measuring and writing nothing (the run, its rows and its node share are the
    /// parent's).
    pub(super) fn inert_report(&self, r: &Running) -> Report {
        let emissions = r.totals.snapshot(r.duration_s(crate::clock::now()), &r.intensity, self.config.pue);
        Report { emissions, errors: Vec::new() }
    }

    pub(super) fn report(&self, r: &mut Running, final_report: bool) -> Report {
        let mut now = crate::clock::now();
        if final_report || now.saturating_duration_since(r.last_measured) >= FRESH_ENOUGH {
            now = self.measure(r, final_report);
        }
        if final_report {
            // CodeCarbon's stop ends the tasks still running, at the final measurement.
            for name in r.tasks.running_names() {
                let _ = self.stop_task(r, &name, r.last_measured);
            }
        }
        let emissions = r.totals.snapshot(r.duration_s(now), &r.intensity, self.config.pue);
        let mut errors = Vec::new();
        let mut row_written = true;
        if !r.sinks.is_empty() {
            let row = EmissionsData { timestamp: metadata::timestamp_now(), run: r.run.clone(), numbers: emissions };
            // Prometheus and OTLP carry the prediction of a run that reports progress or has a budget.
            let wants_prediction = r.sinks.iter().any(|s| s.wants_prediction());
            let prediction = (wants_prediction && (self.has_budget() || !self.progress_log().is_empty())).then(|| self.prediction(r));
            (row_written, errors) = self.report_to_sinks(r, &row, final_report, prediction);
        }
        // What this rank counted for the node is now on disk: none of it is void if it dies.
        // A final row not written is void: the node's other ranks count that time again.
        if let Some(node) = &mut r.node {
            match (final_report, row_written) {
                (true, w) => node.finish(w),
                (false, true) => node.reported(),
                (false, false) => {}
            }
        }
        Report { emissions, errors }
    }
}

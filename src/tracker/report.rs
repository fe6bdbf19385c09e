//! A report (flush, stop): the row, the task, region and run files, the uploads.

use super::*;

impl Inner {
    /// Ends task `name` at the measurement just taken at `now`.
    pub(super) fn stop_task(&self, r: &mut Running, name: &str, now: Instant) -> Result<EmissionsSnapshot> {
        let (intensity, pue) = (&r.intensity, self.config.pue);
        let snapshot = |window: Totals, duration_s: f64| window.snapshot(duration_s, intensity, pue);
        r.tasks.stop(name, snapshot, r.totals, now, metadata::timestamp_now())
    }

    /// Rewrites the task file when tasks finished since it was last written.
    pub(super) fn write_tasks(&self, r: &mut Running) -> Option<Error> {
        if !self.config.save_to_file || !r.tasks.unwritten {
            return None;
        }
        let rows: Vec<(String, EmissionsData)> = r
            .tasks
            .finished
            .iter()
            .map(|t| (t.name.clone(), EmissionsData { timestamp: t.timestamp.clone(), run: r.run.clone(), numbers: t.numbers }))
            .collect();
        let path = task_file::task_file_path(&self.config.output_dir, &self.config.experiment_name, &self.run_id);
        match task_file::write(&path, &rows) {
            Ok(()) => {
                r.tasks.unwritten = false;
                None
            }
            Err(e) => {
                self.log.error(format!("{e} (task rows kept; the next flush writes them again)"));
                Some(e)
            }
        }
    }

    /// Rewrites the region file (every report, once a region exists) and writes the run file of
    /// a rank of a job (once).
    pub(super) fn write_run_files(&self, r: &mut Running) -> Vec<Error> {
        let c = &self.config;
        let mut errors = Vec::new();
        if !c.save_to_file {
            return errors;
        }
        if self.job.is_some() && !r.run_file_written {
            match run_file::write(&run_file::run_file_path(&c.output_dir, &c.experiment_name, &self.run_id), &r.identity) {
                Ok(()) => r.run_file_written = true,
                Err(e) => {
                    self.log.error(format!("{e} (written at the next flush)"));
                    errors.push(e);
                }
            }
        }
        if !self.regions.is_empty() {
            let path = region_file::region_file_path(&c.output_dir, &c.experiment_name, &self.run_id);
            if let Err(e) = region_file::write(&path, &metadata::timestamp_now(), &r.identity, &self.regions.totals()) {
                self.log.error(format!("{e} (the region totals are kept; the next flush writes them again)"));
                errors.push(e);
            }
        }
        errors
    }

    /// A forked child's flush or stop: the totals as of the parent's last measurement before
    /// the fork (the duration up to now), measuring and writing nothing (the run, its rows and its node share are the
    /// parent's).
    pub(super) fn inert_report(&self, r: &Running) -> Report {
        let emissions = r.totals.snapshot(r.duration_s(Instant::now()), &r.intensity, self.config.pue);
        Report { emissions, errors: Vec::new() }
    }

    pub(super) fn report(&self, r: &mut Running, final_report: bool) -> Report {
        let mut now = Instant::now();
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
        if r.sink.is_some() || r.endpoint.is_some() || r.metrics.is_some() {
            let row = EmissionsData { timestamp: metadata::timestamp_now(), run: r.run.clone(), numbers: emissions };
            if let Some(sink) = &r.sink {
                if let Err(e) = sink.write(&row, &self.log) {
                    self.log.error(format!("{e} (totals kept; the next flush writes them again)"));
                    errors.push(e);
                    row_written = false;
                }
            }
            if let Some(ep) = &r.endpoint {
                let mut body = row.to_json();
                body["user"] = serde_json::json!(http_endpoint::user_name());
                ep.push(body);
            }
            // Prometheus and OTLP carry the prediction of a run that reports progress or has a budget.
            let wants_prediction = r.metrics.as_ref().is_some_and(|m| m.takes_prediction());
            let prediction = (wants_prediction && (self.has_budget() || !self.progress_log().is_empty())).then(|| self.prediction(r));
            if let Some(m) = &mut r.metrics {
                m.push(&row, prediction, &self.log);
            }
        }
        errors.extend(self.write_tasks(r));
        errors.extend(self.write_run_files(r));
        if let Some(api) = &r.api {
            api.push_total(&emissions, final_report);
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

pub(super) fn give_up_uploads(api: Option<Arc<ApiOutput>>, endpoint: Option<Arc<Uploader<HttpEndpoint>>>) {
    if let Some(api) = api {
        let _ = api.finish(Duration::ZERO);
    }
    if let Some(ep) = endpoint {
        let _ = ep.finish(Duration::ZERO);
    }
}

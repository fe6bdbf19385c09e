//! The CodeCarbon API output (docs/outputs.md), built on the lazy-run idea of CodeCarbon PR #1253 and
//! the validation rules of its server:
//! - `POST /runs` is made by the upload worker just before the first `POST /emissions`, never in
//!   `new`/`start`, never for a tracker with nothing to send; its `id` names the API run.
//! - `POST /emissions` carries the delta since the previous upload. `duration` must be a positive
//!   integer, so a delta under 1 s is not sent but left to the next one (CodeCarbon drops that
//!   energy), and the fractional seconds are carried so the server's summed duration stays within
//!   1 s of the truth. The final delta at stop is always sent (its duration rounded, at least 1).
//! - Deltas come from cumulative totals that never decrease; a negative field is clamped to 0.
//! - The API key goes only into the `x-api-token` header.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::sink::{Record, Sink};
use super::uploader::{classify, Destination, Outcome, Uploader};
use crate::config::{Config, Secret};
use crate::error::Error;
use crate::log::Logger;
use crate::record::run::RunInfo;
use crate::record::EmissionsSnapshot;

pub struct ApiSettings {
    /// Base URL without a trailing `/`.
    pub endpoint: String,
    pub api_key: Option<Secret>,
    pub request_timeout: Duration,
}

/// One `POST /emissions` body, before the run id is known: the delta of the totals since the
/// previous upload, with the integer duration the server is given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmissionUpload {
    pub timestamp: String,
    pub duration_s: u64,
    /// The real interval and energies; powers and utilisation are the run means at its end.
    pub delta: EmissionsSnapshot,
    pub wue: f64,
}

/// The `POST /emissions` numbers, with where each comes from (`duration` is the integer above,
/// `wue` the setting). `emissions_rate` uses the real interval.
type Field = (&'static str, fn(&EmissionsSnapshot) -> f64);

const EMISSION_FIELDS: [Field; 12] = [
    ("emissions_sum", |d| d.emissions_kg),
    ("emissions_rate", |d| d.emissions_rate_kg_per_s),
    ("cpu_power", |d| d.cpu_power_w),
    ("gpu_power", |d| d.gpu_power_w),
    ("ram_power", |d| d.ram_power_w),
    ("cpu_energy", |d| d.cpu_energy_kwh),
    ("gpu_energy", |d| d.gpu_energy_kwh),
    ("ram_energy", |d| d.ram_energy_kwh),
    ("energy_consumed", |d| d.energy_consumed_kwh),
    ("cpu_utilization_percent", |d| d.cpu_utilization_percent),
    ("gpu_utilization_percent", |d| d.gpu_utilization_percent),
    ("ram_utilization_percent", |d| d.ram_utilization_percent),
];

impl EmissionUpload {
    /// The JSON body. Every number is made acceptable to the server (finite, >= 0, utilisation
    /// at most 100): one out-of-range float (a mean of 100 % samples can round to
    /// 100.00000000000001) would get the whole delta rejected with 422.
    pub fn body(&self, run_id: &str) -> Value {
        let n = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
        let mut body = serde_json::Map::new();
        body.insert("timestamp".into(), json!(self.timestamp));
        body.insert("run_id".into(), json!(run_id));
        body.insert("duration".into(), json!(self.duration_s));
        for (name, value) in EMISSION_FIELDS {
            let x = n(value(&self.delta));
            body.insert(name.into(), json!(if name.ends_with("_percent") { x.min(100.0) } else { x }));
        }
        body.insert("wue".into(), json!(n(self.wue)));
        Value::Object(body)
    }
}

/// The `POST /runs` body (CodeCarbon's `RunCreate`) without its timestamp, set when it is sent.
pub fn run_payload(run: &RunInfo) -> Value {
    let round1 = |x: Option<f64>| x.map(|v| (v * 10.0).round() / 10.0);
    json!({
        "experiment_id": run.experiment_id,
        "os": run.os,
        "codecarbon_version": run.version,
        "cpu_count": run.cpu_count,
        "cpu_model": run.cpu_model,
        "gpu_count": run.gpu_count,
        "gpu_model": run.gpu_model,
        "longitude": round1(run.location.longitude),
        "latitude": round1(run.location.latitude),
        "region": run.location.cloud_region,
        "provider": run.location.cloud_provider,
        "ram_total_size": run.ram_total_size_gib,
        "tracking_mode": run.tracking_mode,
    })
}

/// The API as an upload destination; remembers the API run once created.
pub struct CodeCarbonApi {
    settings: ApiSettings,
    run_payload: Mutex<Value>,
    api_run_id: Mutex<Option<String>>,
}

impl CodeCarbonApi {
    fn headers(&self) -> Vec<(&str, &str)> {
        match &self.settings.api_key {
            Some(Secret(k)) => vec![("x-api-token", k.as_str())],
            None => vec![],
        }
    }

    fn ensure_run(&self) -> Result<String, Outcome> {
        if let Some(id) = self.api_run_id.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(id);
        }
        let mut payload = self.run_payload.lock().unwrap_or_else(|p| p.into_inner()).clone();
        payload["timestamp"] = json!(now_iso());
        let url = format!("{}/runs", self.settings.endpoint);
        let res = crate::http::post_json(&url, &self.headers(), &payload, self.settings.request_timeout);
        let id = res.as_ref().ok().and_then(|r| r.json()).and_then(|v| v.get("id")?.as_str().map(str::to_string));
        match classify(res, "POST /runs") {
            Outcome::Delivered => match id {
                Some(id) => {
                    *self.api_run_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
                    Ok(id)
                }
                None => Err(Outcome::Retry("POST /runs: the answer has no `id`".into())),
            },
            other => Err(other),
        }
    }
}

impl Destination for CodeCarbonApi {
    type Job = EmissionUpload;

    fn merge(queued: &mut EmissionUpload, later: EmissionUpload) {
        queued.duration_s += later.duration_s;
        queued.delta.merge(&later.delta);
        queued.timestamp = later.timestamp;
    }

    fn send(&self, job: &EmissionUpload, cancelled: &dyn Fn() -> bool) -> Outcome {
        let run_id = match self.ensure_run() {
            Ok(id) => id,
            Err(outcome) => return outcome,
        };
        if cancelled() {
            return Outcome::Retry("stop gave up waiting".into());
        }
        let url = format!("{}/emissions", self.settings.endpoint);
        classify(crate::http::post_json(&url, &self.headers(), &job.body(&run_id), self.settings.request_timeout), "POST /emissions")
    }

    fn name(&self) -> String {
        self.settings.endpoint.clone()
    }
}

/// What has been queued so far, to compute the next delta.
#[derive(Debug, Default)]
struct Ledger {
    queued: EmissionsSnapshot,
    /// Integer seconds given to the server so far.
    sent_duration_s: u64,
}

/// A tracker's API output.
pub struct ApiOutput {
    uploader: Uploader<CodeCarbonApi>,
    ledger: Mutex<Ledger>,
    wue: f64,
    log: Logger,
}

impl ApiOutput {
    pub fn new(settings: ApiSettings, run: &RunInfo, log: Logger) -> ApiOutput {
        let api = CodeCarbonApi { settings, run_payload: Mutex::new(run_payload(run)), api_run_id: Mutex::new(None) };
        ApiOutput { uploader: Uploader::new(api, log.clone()), ledger: Mutex::new(Ledger::default()), wue: run.wue_l_per_kwh, log }
    }

    /// Replaces the `POST /runs` body (e.g. once the location is known); used if the run is not
    /// created yet.
    pub fn set_run(&self, run: &RunInfo) {
        *self.uploader.destination().run_payload.lock().unwrap_or_else(|p| p.into_inner()) = run_payload(run);
    }

    /// Queues the delta between `total` and what was queued before. `final_delta` (stop) sends
    /// whatever is left, even under a second.
    pub fn push_total(&self, total: &EmissionsSnapshot, final_delta: bool) {
        let mut l = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        let Some(job) = next_upload(&mut l, total, final_delta, self.wue, &self.log) else { return };
        drop(l);
        self.uploader.push(job);
    }

    pub fn finish(&self, timeout: Duration) -> Result<(), Error> {
        self.uploader.finish(timeout)
    }
}

/// The API as a sink: a delta at each report and every `api_call_interval` background
/// measurements; the `POST /runs` body follows the run's description until the run is created.
/// Shared with the resumed run of a `restart_after_stop` (same API run).
pub struct ApiSink {
    api: Arc<ApiOutput>,
    /// `api_call_interval`: an upload every this many background measurements (0: only at reports).
    every_ticks: u64,
}

impl ApiSink {
    pub fn open(c: &Config, run: &RunInfo, request_timeout: Duration, log: &Logger) -> Option<Box<dyn Sink>> {
        if !c.save_to_api {
            return None;
        }
        if c.api_key.is_none() {
            log.warning("save_to_api without api_key: the CodeCarbon API will refuse the uploads (403)");
        }
        let settings = ApiSettings { endpoint: c.api_endpoint.clone(), api_key: c.api_key.clone(), request_timeout };
        Some(Box::new(ApiSink { api: Arc::new(ApiOutput::new(settings, run, log.clone())), every_ticks: u64::try_from(c.api_call_interval).unwrap_or(0) }))
    }
}

impl Sink for ApiSink {
    fn on_report(&mut self, record: &Record<'_>, _log: &Logger) -> crate::error::Result<()> {
        self.api.push_total(&record.row.numbers, record.final_report);
        Ok(())
    }

    fn on_tick(&mut self, ticks: u64, total: &dyn Fn() -> EmissionsSnapshot) {
        if self.every_ticks > 0 && ticks % self.every_ticks == 0 {
            self.api.push_total(&total(), false);
        }
    }

    fn on_run_changed(&mut self, run: &Arc<RunInfo>) {
        self.api.set_run(run);
    }

    fn carry_over(&self) -> Option<Box<dyn Sink>> {
        Some(Box::new(ApiSink { api: self.api.clone(), every_ticks: self.every_ticks }))
    }

    fn finish(self: Box<Self>, left: &dyn Fn() -> Duration) -> Vec<Error> {
        self.api.finish(left()).err().into_iter().collect()
    }

    fn abandon(self: Box<Self>) {
        let _ = self.api.finish(Duration::ZERO);
    }
}

fn next_upload(l: &mut Ledger, total: &EmissionsSnapshot, final_delta: bool, wue: f64, log: &Logger) -> Option<EmissionUpload> {
    let prev = l.queued;
    let true_duration_s = total.duration_s - prev.duration_s;
    let energy = total.energy_consumed_kwh - prev.energy_consumed_kwh;
    if !final_delta && true_duration_s < 1.0 {
        return None; // merged into the next upload
    }
    if final_delta && true_duration_s <= 0.0 && energy <= 0.0 {
        return None; // nothing to send
    }
    let owed_s = total.duration_s - l.sent_duration_s as f64;
    let duration_s = if final_delta { owed_s.round() } else { owed_s.floor() }.max(1.0) as u64;
    let (delta, clamped) = total.since(&prev);
    if clamped {
        log.warning("a negative delta (counter reset?) was clamped to 0 before upload");
    }
    l.sent_duration_s += duration_s;
    l.queued = *total;
    Some(EmissionUpload { timestamp: now_iso(), duration_s, delta, wue })
}

/// `arrow.now().isoformat()`: local time with microseconds and offset.
pub fn now_iso() -> String {
    crate::clock::LocalTime::now().rfc3339_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Logger {
        Logger { threshold: crate::log::Level::Critical, preamble: String::new() }
    }

    fn total(duration_s: f64, energy: f64) -> EmissionsSnapshot {
        EmissionsSnapshot {
            duration_s,
            energy_consumed_kwh: energy,
            ram_energy_kwh: energy,
            emissions_kg: energy * 0.1,
            ..Default::default()
        }
    }

    #[test]
    fn sub_second_deltas_merge_and_durations_carry() {
        let mut l = Ledger::default();
        let log = quiet();
        assert!(next_upload(&mut l, &total(0.4, 1.0), false, 0.0, &log).is_none());
        assert!(next_upload(&mut l, &total(0.9, 2.0), false, 0.0, &log).is_none());
        let a = next_upload(&mut l, &total(1.7, 3.0), false, 0.0, &log).unwrap();
        assert_eq!((a.duration_s, a.delta.energy_consumed_kwh), (1, 3.0)); // nothing lost
        let b = next_upload(&mut l, &total(3.4, 5.0), false, 0.0, &log).unwrap();
        assert_eq!(b.duration_s, 2); // 3.4 - 1 sent = 2.4 -> 2, 0.4 carried
        let c = next_upload(&mut l, &total(3.9, 5.5), true, 0.0, &log).unwrap();
        assert_eq!(c.duration_s, 1); // final: 3.9 - 3 = 0.9 -> 1
        assert_eq!(l.sent_duration_s, 4);
        let energies = a.delta.energy_consumed_kwh + b.delta.energy_consumed_kwh + c.delta.energy_consumed_kwh;
        assert!((energies - 5.5).abs() < 1e-12);
        assert!(next_upload(&mut l, &total(3.9, 5.5), true, 0.0, &log).is_none());
    }

    #[test]
    fn server_duration_stays_within_a_second_of_the_truth() {
        let mut l = Ledger::default();
        let mut t = 0.0;
        let mut sent = 0;
        for step in [0.3, 1.25, 0.7, 2.9, 0.05, 1.01, 4.4, 0.6] {
            t += step;
            if let Some(u) = next_upload(&mut l, &total(t, t), false, 0.0, &quiet()) {
                sent += u.duration_s;
                assert!((sent as f64 - t).abs() < 1.0, "{sent} vs {t}");
            }
        }
        sent += next_upload(&mut l, &total(t + 0.2, t), true, 0.0, &quiet()).unwrap().duration_s;
        assert!((sent as f64 - (t + 0.2)).abs() <= 1.0);
    }

    #[test]
    fn negative_deltas_never_go_out() {
        let mut l = Ledger::default();
        next_upload(&mut l, &total(2.0, 5.0), false, 0.0, &quiet()).unwrap();
        let u = next_upload(&mut l, &total(4.0, 4.0), false, 0.0, &quiet()).unwrap();
        assert_eq!(u.delta.energy_consumed_kwh, 0.0);
        assert_eq!(u.delta.emissions_kg, 0.0);
    }

    #[test]
    fn body_numbers_are_always_acceptable_to_the_server() {
        let u = EmissionUpload {
            duration_s: 1,
            delta: EmissionsSnapshot {
                duration_s: 1.0,
                cpu_utilization_percent: 100.00000000000001,
                ram_utilization_percent: f64::NAN,
                cpu_power_w: -0.0,
                ram_energy_kwh: f64::INFINITY,
                ..Default::default()
            },
            ..Default::default()
        };
        let b = u.body("r");
        assert_eq!(b["cpu_utilization_percent"], json!(100.0));
        assert_eq!(b["ram_utilization_percent"], json!(0.0));
        assert_eq!(b["ram_energy"], json!(0.0));
        assert!(b.as_object().unwrap().values().all(|v| !v.is_null()));
    }

    #[test]
    fn body_has_codecarbon_fields() {
        let (delta, _) = EmissionsSnapshot { duration_s: 2.0, emissions_kg: 4.0, ..Default::default() }.since(&Default::default());
        let u = EmissionUpload { duration_s: 3, delta, ..Default::default() };
        let b = u.body("run-1");
        assert_eq!(b["duration"], json!(3));
        assert_eq!(b["run_id"], json!("run-1"));
        assert_eq!(b["emissions_sum"], json!(4.0));
        assert_eq!(b["emissions_rate"], json!(2.0));
        for k in ["cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed", "wue", "timestamp"] {
            assert!(b.get(k).is_some(), "{k}");
        }
    }
}

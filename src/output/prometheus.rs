//! The `prometheus` output: CodeCarbon's push to a Prometheus Pushgateway (docs/outputs.md), through
//! the non-blocking upload queue.
//!
//! - CodeCarbon's gauges (`codecarbon_duration`, `codecarbon_emissions`, … set to the delta since
//!   the previous push) and its counter `codecarbon_energy_total` (the cumulative energy, kWh),
//!   with its 14 labels, filled (CodeCarbon leaves all but `project_name` empty).
//! - What CodeCarbon lacks: cumulative counters of every total (`codecarbon_*_total`), and a
//!   grouping key per run (`run_id`, plus `job_id` and `rank` in a job), so that pushes of
//!   several ranks and runs never overwrite each other and `sum(codecarbon_energy_total)` adds
//!   each run's energy once. CodeCarbon pushes every run to the one group `job`, each push
//!   replacing the previous run's.
//! - Each push is a `PUT` of the whole group; at stop the group is deleted (CodeCarbon's
//!   `exit()`), unless `prometheus_delete_on_stop=false`.
//! - Basic auth from `PROMETHEUS_USERNAME` / `PROMETHEUS_PASSWORD`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use super::sink::{Record, Sink};
use super::uploader::{classify, Destination, Outcome, Uploader};
use crate::config::Config;
use crate::error::Error;
use crate::log::Logger;
use crate::record::identity::Identity;
use crate::record::run::RunInfo;
use crate::record::{EmissionsSnapshot, Prediction};

pub struct Pushgateway {
    /// `<prometheus_url>/metrics/job/<job>/<label>@base64/<value>…`
    group_url: String,
    authorization: Option<String>,
    request_timeout: Duration,
    name: String,
}

#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // a few queued jobs at most
pub enum PushJob {
    /// The totals now, the delta since the previous push, the labels of every metric line
    /// (`name="value"` pairs: [`labels`] of the run as known when the totals were taken, so a
    /// location found after start shows from then on), and the prediction, when the run reports
    /// progress or has a budget.
    Push { total: EmissionsSnapshot, delta: EmissionsSnapshot, labels: Arc<str>, prediction: Option<Prediction> },
    /// Remove the group (at stop).
    Delete,
}

/// CodeCarbon's job name: `<project_name>_<experiment_name>` with anything but `[A-Za-z0-9_-]`
/// replaced by `_`.
pub fn job_name(project_name: &str, experiment_name: &str) -> String {
    format!("{project_name}_{experiment_name}").chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A grouping-key path segment: the Pushgateway's `@base64` form, which takes any value
/// (an empty one is `=`).
fn path_value(v: &str) -> String {
    if v.is_empty() {
        "=".into()
    } else {
        base64(v.as_bytes(), URL_SAFE)
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// (name, help, value).
type Metric = (&'static str, &'static str, fn(&EmissionsSnapshot) -> f64);

/// CodeCarbon's gauges, valued from the delta.
const GAUGES: [Metric; 10] = [
    ("codecarbon_duration", "Duration of the interval since the previous push, s", |d| d.duration_s),
    ("codecarbon_emissions", "Emissions of the interval, kg CO2e", |d| d.emissions_kg),
    ("codecarbon_emissions_rate", "Emissions rate of the interval, kg CO2e/s", |d| d.emissions_rate_kg_per_s),
    ("codecarbon_cpu_power", "Mean CPU power of the run, W", |d| d.cpu_power_w),
    ("codecarbon_gpu_power", "Mean GPU power of the run, W", |d| d.gpu_power_w),
    ("codecarbon_ram_power", "Mean RAM power of the run, W", |d| d.ram_power_w),
    ("codecarbon_cpu_energy", "CPU energy of the interval, kWh", |d| d.cpu_energy_kwh),
    ("codecarbon_gpu_energy", "GPU energy of the interval, kWh", |d| d.gpu_energy_kwh),
    ("codecarbon_ram_energy", "RAM energy of the interval, kWh", |d| d.ram_energy_kwh),
    ("codecarbon_energy_consumed", "Energy of the interval, kWh", |d| d.energy_consumed_kwh),
];

/// Cumulative counters of the run's totals: `sum()` over runs and ranks counts each once.
const COUNTERS: [Metric; 7] = [
    ("codecarbon_energy_total", "Energy consumed since the run started, kWh (CodeCarbon's counter)", |t| t.energy_consumed_kwh),
    ("codecarbon_cpu_energy_kwh_total", "CPU energy since the run started, kWh", |t| t.cpu_energy_kwh),
    ("codecarbon_gpu_energy_kwh_total", "GPU energy since the run started, kWh", |t| t.gpu_energy_kwh),
    ("codecarbon_ram_energy_kwh_total", "RAM energy since the run started, kWh", |t| t.ram_energy_kwh),
    ("codecarbon_emissions_kg_total", "Emissions since the run started, kg CO2e", |t| t.emissions_kg),
    ("codecarbon_water_liters_total", "Water consumed since the run started, L", |t| t.water_consumed_l),
    ("codecarbon_duration_seconds_total", "Duration of the run, s", |t| t.duration_s),
];

/// Where to push and how to name it.
pub struct PushgatewaySettings {
    pub url: String,
    pub job: String,
    /// Grouping labels after `job` (run_id, and job_id/rank in a job).
    pub grouping: Vec<(String, String)>,
    pub basic_auth: Option<(String, String)>,
    pub request_timeout: Duration,
}

/// CodeCarbon's labels of every metric line, from the run's description, as `name="value"` pairs.
pub fn labels(run: &RunInfo) -> Arc<str> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let labels: Vec<(&str, String)> = vec![
            ("project_name", run.project_name.clone()),
            ("country_name", opt(&run.location.country_name)),
            ("country_iso_code", opt(&run.location.country_iso_code)),
            ("region", opt(&run.location.region)),
            ("cloud_provider", opt(&run.location.cloud_provider)),
            ("cloud_region", opt(&run.location.cloud_region)),
            ("os", run.os.clone()),
            ("codecarbon_version", run.version.clone()),
            ("cpu_model", run.cpu_model.clone()),
            ("cpu_count", run.cpu_count.to_string()),
            ("gpu_model", run.gpu_model.clone()),
            ("gpu_count", run.gpu_count.to_string()),
            ("tracking_mode", run.tracking_mode.clone()),
            ("ram_total_size", format!("{}", run.ram_total_size_gib)),
        ];
        labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect::<Vec<_>>().join(",").into()
}

impl Pushgateway {
    pub fn new(s: PushgatewaySettings) -> Pushgateway {
        let mut group_url = format!("{}/metrics/job@base64/{}", s.url, path_value(&s.job));
        for (k, v) in &s.grouping {
            let _ = write!(group_url, "/{k}@base64/{}", path_value(v));
        }
        let authorization = s.basic_auth.map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes(), STANDARD)));
        Pushgateway { name: format!("{} (job {})", s.url, s.job), group_url, authorization, request_timeout: s.request_timeout }
    }

    /// The Prometheus text exposition of one push.
    pub fn body(&self, labels: &str, total: &EmissionsSnapshot, delta: &EmissionsSnapshot, prediction: Option<&Prediction>) -> String {
        let mut out = String::with_capacity(4096);
        let num = |x: f64| if x.is_finite() { x } else { 0.0 };
        for (name, help, value) in GAUGES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{{labels}}} {:?}", num(value(delta)));
        }
        for (name, help, value) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{{labels}}} {:?}", num(value(total)));
        }
        for g in prediction.map(Prediction::gauges).unwrap_or_default() {
            let _ = writeln!(out, "# HELP {n} {}\n# TYPE {n} gauge\n{n}{{{}}} {:?}", g.help, labels, g.value, n = g.name);
        }
        out
    }
}

impl Destination for Pushgateway {
    type Job = PushJob;

    fn merge(queued: &mut PushJob, later: PushJob) {
        match (&mut *queued, later) {
            (PushJob::Push { total, delta, labels, prediction }, PushJob::Push { total: t, delta: d, labels: l, prediction: p }) => {
                *total = t;
                *prediction = p;
                delta.merge(&d);
                *labels = l;
            }
            (q, later) => *q = later,
        }
    }

    fn send(&self, job: &PushJob, _cancelled: &dyn Fn() -> bool) -> Outcome {
        let auth: Vec<(&str, &str)> = self.authorization.iter().map(|a| ("Authorization", a.as_str())).collect();
        match job {
            PushJob::Push { total, delta, labels, prediction } => {
                let body = self.body(labels, total, delta, prediction.as_ref());
                let res = crate::http::send("PUT", &self.group_url, &auth, Some(("text/plain; version=0.0.4", body.as_bytes())), self.request_timeout);
                classify(res, "PUT pushgateway")
            }
            PushJob::Delete => classify(crate::http::send("DELETE", &self.group_url, &auth, None, self.request_timeout), "DELETE pushgateway group"),
        }
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// The Pushgateway as a sink: each report's delta since the previous push, with the labels of
/// the run's description at the time; its group deleted at stop unless
/// `prometheus_delete_on_stop=false`.
pub struct PrometheusSink {
    uploader: Uploader<Pushgateway>,
    /// The labels of the run description they were made from (rebuilt when the tracker
    /// replaces it, e.g. once the location is found).
    labels: (Arc<RunInfo>, Arc<str>),
    /// The total of the previous push (CodeCarbon's gauges are deltas).
    pushed: EmissionsSnapshot,
    delete_on_stop: bool,
}

impl PrometheusSink {
    /// With `save_to_prometheus`; a resumed run's deltas start from its totals so far.
    pub fn open(
        c: &Config,
        run: &Arc<RunInfo>,
        id: &Identity,
        resumed_total: Option<EmissionsSnapshot>,
        request_timeout: Duration,
        log: &Logger,
    ) -> Option<Box<dyn Sink>> {
        if !c.save_to_prometheus {
            return None;
        }
        let mut grouping = vec![("run_id".to_string(), run.run_id.clone())];
        if let Some(j) = &id.job {
            grouping.push(("job_id".into(), j.id.clone()));
            grouping.push(("rank".into(), j.rank.to_string()));
            if let Some(l) = j.local_rank {
                grouping.push(("local_rank".into(), l.to_string()));
            }
        }
        grouping.push(("instance".into(), id.hostname.clone()));
        let settings = PushgatewaySettings {
            url: c.prometheus_url.clone(),
            job: job_name(&c.project_name, &c.experiment_name),
            grouping,
            basic_auth: super::env_var("PROMETHEUS_USERNAME").map(|u| (u, super::env_var("PROMETHEUS_PASSWORD").unwrap_or_default())),
            request_timeout,
        };
        Some(Box::new(PrometheusSink {
            uploader: Uploader::new(Pushgateway::new(settings), log.clone()),
            labels: (run.clone(), labels(run)),
            pushed: resumed_total.unwrap_or_default(),
            delete_on_stop: c.prometheus_delete_on_stop,
        }))
    }
}

impl Sink for PrometheusSink {
    fn on_report(&mut self, record: &Record<'_>, _log: &Logger) -> crate::error::Result<()> {
        let row = record.row;
        let (delta, _) = row.numbers.since(&self.pushed);
        self.pushed = row.numbers;
        if !Arc::ptr_eq(&self.labels.0, &row.run) {
            self.labels = (row.run.clone(), labels(&row.run));
        }
        self.uploader.push(PushJob::Push { total: row.numbers, delta, labels: self.labels.1.clone(), prediction: record.prediction });
        Ok(())
    }

    fn wants_prediction(&self) -> bool {
        true
    }

    /// Queues the group's deletion, then waits.
    fn finish(self: Box<Self>, left: &dyn Fn() -> Duration) -> Vec<Error> {
        if self.delete_on_stop {
            self.uploader.push(PushJob::Delete);
        }
        self.uploader.finish(left()).err().into_iter().collect()
    }

    /// No deletion of the group, no wait.
    fn abandon(self: Box<Self>) {
        let _ = self.uploader.finish(Duration::ZERO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_forms() {
        assert_eq!(base64(b"user:pa ss", STANDARD), "dXNlcjpwYSBzcw==");
        assert_eq!(base64(b"a/b?", URL_SAFE), "YS9iPw==");
        assert_eq!(path_value(""), "=");
        assert_eq!(job_name("my proj", "base"), "my_proj_base");
    }

    #[test]
    fn exposition_has_codecarbon_names_and_totals() {
        let run = RunInfo { project_name: "p\"q".into(), cpu_count: 2, ..Default::default() };
        let gw = Pushgateway::new(PushgatewaySettings {
            url: "http://127.0.0.1:9".into(),
            job: "p_base".into(),
            grouping: vec![("run_id".into(), "r1".into()), ("rank".into(), "3".into())],
            basic_auth: None,
            request_timeout: Duration::from_secs(1),
        });
        let labels = labels(&run);
        assert_eq!(gw.group_url, "http://127.0.0.1:9/metrics/job@base64/cF9iYXNl/run_id@base64/cjE=/rank@base64/Mw==");
        let total = EmissionsSnapshot { energy_consumed_kwh: 0.5, duration_s: 10.0, ..Default::default() };
        let delta = EmissionsSnapshot { energy_consumed_kwh: 0.25, duration_s: 4.0, ..Default::default() };
        let body = gw.body(&labels, &total, &delta, None);
        assert!(!body.contains("codecarbon_prediction_state"));
        let prediction = Prediction { progress: 0.25, ..Prediction::unknown() };
        let with = gw.body(&labels, &total, &delta, Some(&prediction));
        assert!(with.contains("# HELP codecarbon_progress Steps done / total steps"), "{with}");
        assert!(with.lines().any(|l| l.starts_with("codecarbon_progress{project_name=") && l.ends_with("} 0.25")), "{with}");
        assert!(with.lines().any(|l| l.starts_with("codecarbon_budget_state{") && l.ends_with("} 0.0")), "{with}");
        assert!(body.contains("# TYPE codecarbon_energy_total counter\ncodecarbon_energy_total{project_name=\"p\\\"q\","), "{body}");
        assert!(body.contains("cpu_count=\"2\""));
        assert!(body.lines().any(|l| l.starts_with("codecarbon_energy_total{") && l.ends_with("} 0.5")));
        assert!(body.lines().any(|l| l.starts_with("codecarbon_energy_consumed{") && l.ends_with("} 0.25")));
        assert!(body.lines().any(|l| l.starts_with("codecarbon_duration{") && l.ends_with("} 4.0")));
        let mut q = PushJob::Push { total, delta, labels: labels.clone(), prediction: None };
        let located = super::labels(&RunInfo { location: crate::record::location::Location { country_iso_code: Some("FRA".into()), ..Default::default() }, ..run.clone() });
        Pushgateway::merge(&mut q, PushJob::Push { total: EmissionsSnapshot { energy_consumed_kwh: 0.75, ..total }, delta, labels: located, prediction: Some(prediction) });
        let PushJob::Push { total: t, delta: d, labels: l, prediction: p } = q else { panic!() };
        assert_eq!((t.energy_consumed_kwh, d.energy_consumed_kwh), (0.75, 0.5));
        assert!(l.contains("country_iso_code=\"FRA\""), "the later push's labels: {l}");
        assert_eq!(p.map(|p| p.progress), Some(0.25), "the newer prediction");
    }
}

//! OpenTelemetry metrics over OTLP/HTTP (the JSON encoding of `ExportMetricsServiceRequest`,
//! `POST <endpoint>/v1/metrics`), through the non-blocking upload queue: CodeCarbon's
//! `logfire` output, and a plain `otlp` one.
//!
//! Each push carries the run's cumulative totals: counters (monotonic sums, cumulative
//! temporality, from the run's start) for energy, emissions and duration; gauges for the mean
//! powers and the emissions rate. Resource attributes name the service (the project), the run,
//! the host and, in a job, the job and rank. A newer push supersedes a queued one.

use std::time::Duration;

use serde_json::{json, Value};

use std::sync::Arc;

use super::sink::{Record, Sink};
use super::uploader::{classify, Destination, Outcome, Uploader};
use crate::config::{Config, DEFAULT_LOGFIRE_ENDPOINT};
use crate::error::Error;
use crate::log::Logger;
use crate::record::identity::Identity;
use crate::record::run::RunInfo;
use crate::record::{EmissionsSnapshot, Prediction};

pub struct OtlpHttp {
    /// Ends with `/v1/metrics`.
    pub url: String,
    /// Extra headers (Logfire's `Authorization`).
    pub headers: Vec<(String, String)>,
    /// (key, value): strings, or integers when `Int`.
    pub resource: Vec<(String, Attr)>,
    pub start_unix_nano: u64,
    pub request_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Str(String),
    Int(i64),
}

/// One push: the totals, when they were taken, and the resource attributes that depend on what
/// the run learned by then ([`location_attributes`]: a location found after start shows from
/// then on).
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpJob {
    pub total: EmissionsSnapshot,
    pub time_unix_nano: u64,
    /// When the run reports progress or has a budget: its numbers as gauges.
    pub prediction: Option<Prediction>,
    pub location: Arc<Vec<(String, Attr)>>,
}

/// The run's location as resource attributes: `codecarbon.country_name`,
/// `codecarbon.country_iso_code`, `codecarbon.region`, and OpenTelemetry's `cloud.provider` and
/// `cloud.region`; those not known are left out.
pub fn location_attributes(run: &RunInfo) -> Arc<Vec<(String, Attr)>> {
    let fields = [
        ("codecarbon.country_name", &run.location.country_name),
        ("codecarbon.country_iso_code", &run.location.country_iso_code),
        ("codecarbon.region", &run.location.region),
        ("cloud.provider", &run.location.cloud_provider),
        ("cloud.region", &run.location.cloud_region),
    ];
    Arc::new(fields.iter().filter_map(|(k, v)| Some((k.to_string(), Attr::Str(v.as_ref().filter(|v| !v.is_empty())?.clone())))).collect())
}

/// `<endpoint>/v1/metrics` unless the endpoint already names that path.
pub fn metrics_url(endpoint: &str) -> String {
    if endpoint.ends_with("/v1/metrics") {
        endpoint.to_string()
    } else {
        format!("{endpoint}/v1/metrics")
    }
}

pub fn unix_nano_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// (name, unit, value of the totals).
type Metric = (&'static str, &'static str, fn(&EmissionsSnapshot) -> f64);

const COUNTERS: [Metric; 6] = [
    ("codecarbon_duration", "s", |t| t.duration_s),
    ("codecarbon_emissions", "kg", |t| t.emissions_kg),
    ("codecarbon_energy_consumed", "kWh", |t| t.energy_consumed_kwh),
    ("codecarbon_cpu_energy", "kWh", |t| t.cpu_energy_kwh),
    ("codecarbon_gpu_energy", "kWh", |t| t.gpu_energy_kwh),
    ("codecarbon_ram_energy", "kWh", |t| t.ram_energy_kwh),
];

const GAUGES: [Metric; 4] = [
    ("codecarbon_emissions_rate", "kg/s", |t| t.emissions_rate_kg_per_s),
    ("codecarbon_cpu_power", "W", |t| t.cpu_power_w),
    ("codecarbon_gpu_power", "W", |t| t.gpu_power_w),
    ("codecarbon_ram_power", "W", |t| t.ram_power_w),
];

/// OTLP/JSON: int64 fields are decimal strings; `aggregationTemporality` 2 = cumulative.
const CUMULATIVE: i32 = 2;

impl OtlpHttp {
    pub fn body(&self, job: &OtlpJob) -> Value {
        let num = |x: f64| if x.is_finite() { x } else { 0.0 };
        let point = |x: f64| {
            json!({"startTimeUnixNano": self.start_unix_nano.to_string(), "timeUnixNano": job.time_unix_nano.to_string(), "asDouble": num(x)})
        };
        let mut metrics = Vec::new();
        for (name, unit, value) in COUNTERS {
            metrics.push(json!({
                "name": name, "unit": unit,
                "sum": {"aggregationTemporality": CUMULATIVE, "isMonotonic": true, "dataPoints": [point(value(&job.total))]},
            }));
        }
        for (name, unit, value) in GAUGES {
            metrics.push(json!({"name": name, "unit": unit, "gauge": {"dataPoints": [point(value(&job.total))]}}));
        }
        for g in job.prediction.as_ref().map(Prediction::gauges).unwrap_or_default() {
            metrics.push(json!({"name": g.name, "unit": g.unit, "description": g.help, "gauge": {"dataPoints": [point(g.value)]}}));
        }
        let attributes: Vec<Value> = self
            .resource
            .iter()
            .chain(job.location.iter())
            .map(|(k, v)| match v {
                Attr::Str(s) => json!({"key": k, "value": {"stringValue": s}}),
                Attr::Int(i) => json!({"key": k, "value": {"intValue": i.to_string()}}),
            })
            .collect();
        json!({"resourceMetrics": [{
            "resource": {"attributes": attributes},
            "scopeMetrics": [{"scope": {"name": "carbon-tracker", "version": crate::record::run::LIBRARY_VERSION}, "metrics": metrics}],
        }]})
    }
}

impl Destination for OtlpHttp {
    type Job = OtlpJob;

    fn merge(queued: &mut OtlpJob, later: OtlpJob) {
        *queued = later; // cumulative: the newer totals hold the older ones
    }

    fn send(&self, job: &OtlpJob, _cancelled: &dyn Fn() -> bool) -> Outcome {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let body = self.body(job).to_string();
        classify(crate::http::send("POST", &self.url, &headers, Some(("application/json", body.as_bytes())), self.request_timeout), "POST OTLP metrics")
    }

    fn name(&self) -> String {
        self.url.clone()
    }
}

/// OTLP/HTTP (and CodeCarbon's `logfire`) as a sink: each report's totals, with the location
/// attributes of the run's description at the time.
pub struct OtlpSink {
    uploader: Uploader<OtlpHttp>,
    /// The location attributes of the run description they were made from.
    location: (Arc<RunInfo>, Arc<Vec<(String, Attr)>>),
}

impl OtlpSink {
    /// With `save_to_otlp` or `save_to_logfire`: to `otlp_endpoint`, else Logfire's (logfire
    /// alone) or `OTEL_EXPORTER_OTLP_ENDPOINT`'s, else the local collector's.
    pub fn open(c: &Config, run: &Arc<RunInfo>, id: &Identity, request_timeout: Duration, log: &Logger) -> Option<Box<dyn Sink>> {
        if !(c.save_to_otlp || c.save_to_logfire) {
            return None;
        }
        let endpoint = c.otlp_endpoint.clone().unwrap_or_else(|| {
            if c.save_to_logfire && !c.save_to_otlp {
                DEFAULT_LOGFIRE_ENDPOINT.into()
            } else {
                super::env_var("OTEL_EXPORTER_OTLP_ENDPOINT").map_or_else(|| "http://localhost:4318".into(), |e| e.trim_end_matches('/').to_string())
            }
        });
        let mut headers = Vec::new();
        if c.save_to_logfire {
            match super::env_var("LOGFIRE_TOKEN") {
                Some(t) => headers.push(("Authorization".to_string(), t)),
                None if c.otlp_endpoint.is_none() => log.warning("logfire output without LOGFIRE_TOKEN: Logfire will refuse the metrics"),
                None => {}
            }
        }
        let dest = OtlpHttp { url: metrics_url(&endpoint), headers, resource: resource(c, run, id), start_unix_nano: unix_nano_now(), request_timeout };
        Some(Box::new(OtlpSink { uploader: Uploader::new(dest, log.clone()), location: (run.clone(), location_attributes(run)) }))
    }
}

/// The resource attributes: the service (project), the run, the host and the job.
fn resource(c: &Config, run: &RunInfo, id: &Identity) -> Vec<(String, Attr)> {
    let mut resource = vec![
        ("service.name".to_string(), Attr::Str(c.project_name.clone())),
        ("service.version".to_string(), Attr::Str(run.version.clone())),
        ("service.instance.id".to_string(), Attr::Str(run.run_id.clone())),
        ("codecarbon.run_id".to_string(), Attr::Str(run.run_id.clone())),
        ("codecarbon.experiment_id".to_string(), Attr::Str(run.experiment_id.clone())),
        ("codecarbon.experiment_name".to_string(), Attr::Str(c.experiment_name.clone())),
        ("codecarbon.tracking_mode".to_string(), Attr::Str(run.tracking_mode.clone())),
        ("host.name".to_string(), Attr::Str(id.hostname.clone())),
    ];
    if let Some(j) = &id.job {
        resource.push(("job.id".into(), Attr::Str(j.id.clone())));
        resource.push(("job.rank".into(), Attr::Int(j.rank.into())));
        if let Some(l) = j.local_rank {
            resource.push(("job.local_rank".into(), Attr::Int(l.into())));
        }
        if let Some(w) = j.world_size {
            resource.push(("job.world_size".into(), Attr::Int(w.into())));
        }
    }
    resource
}

impl Sink for OtlpSink {
    fn on_report(&mut self, record: &Record<'_>, _log: &Logger) -> crate::error::Result<()> {
        let row = record.row;
        if !Arc::ptr_eq(&self.location.0, &row.run) {
            self.location = (row.run.clone(), location_attributes(&row.run));
        }
        self.uploader.push(OtlpJob { total: row.numbers, time_unix_nano: unix_nano_now(), location: self.location.1.clone(), prediction: record.prediction });
        Ok(())
    }

    fn wants_prediction(&self) -> bool {
        true
    }

    fn finish(self: Box<Self>, left: &dyn Fn() -> Duration) -> Vec<Error> {
        self.uploader.finish(left()).err().into_iter().collect()
    }

    fn abandon(self: Box<Self>) {
        let _ = self.uploader.finish(Duration::ZERO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape() {
        let o = OtlpHttp {
            url: metrics_url("http://127.0.0.1:4318"),
            headers: vec![],
            resource: vec![("service.name".into(), Attr::Str("p".into())), ("job.rank".into(), Attr::Int(3))],
            start_unix_nano: 1,
            request_timeout: Duration::from_secs(1),
        };
        assert_eq!(o.url, "http://127.0.0.1:4318/v1/metrics");
        assert_eq!(metrics_url("http://h/v1/metrics"), "http://h/v1/metrics");
        let run = RunInfo { location: crate::record::location::Location { country_name: Some("France".into()), country_iso_code: Some("FRA".into()), region: Some(String::new()), ..Default::default() }, ..Default::default() };
        let prediction = Prediction { predicted_energy_kwh: 4.0, ..Prediction::unknown() };
        let total = EmissionsSnapshot { energy_consumed_kwh: 2.5, cpu_power_w: 7.0, ..Default::default() };
        let b = o.body(&OtlpJob { total, time_unix_nano: 5, location: location_attributes(&run), prediction: Some(prediction) });
        let rm = &b["resourceMetrics"][0];
        assert_eq!(rm["resource"]["attributes"][1], json!({"key": "job.rank", "value": {"intValue": "3"}}));
        assert_eq!(rm["resource"]["attributes"][3], json!({"key": "codecarbon.country_iso_code", "value": {"stringValue": "FRA"}}));
        assert_eq!(rm["resource"]["attributes"].as_array().unwrap().len(), 4, "unknown fields left out");
        let metrics = rm["scopeMetrics"][0]["metrics"].as_array().unwrap();
        let energy = metrics.iter().find(|m| m["name"] == "codecarbon_energy_consumed").unwrap();
        assert_eq!(energy["sum"]["dataPoints"][0]["asDouble"], json!(2.5));
        assert_eq!(energy["sum"]["isMonotonic"], json!(true));
        let power = metrics.iter().find(|m| m["name"] == "codecarbon_cpu_power").unwrap();
        assert_eq!(power["gauge"]["dataPoints"][0]["asDouble"], json!(7.0));
        let predicted = metrics.iter().find(|m| m["name"] == "codecarbon_predicted_energy_kwh").unwrap();
        assert_eq!((&predicted["unit"], &predicted["gauge"]["dataPoints"][0]["asDouble"]), (&json!("kWh"), &json!(4.0)));
        assert!(!metrics.iter().any(|m| m["name"] == "codecarbon_progress"), "NaN: left out");
    }
}

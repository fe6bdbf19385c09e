//! The outputs that feed monitoring systems: the Prometheus Pushgateway, OpenTelemetry
//! (OTLP/HTTP, also CodeCarbon's `logfire`) and the log. Built at start from the config, the
//! run and the job; fed each total (flush, stop) under the tracker's lock, where they only
//! queue; drained in the background; finished at stop within `api_timeout_s`.

use std::sync::Arc;
use std::time::Duration;

use super::job::Job;
use crate::config::{Config, DEFAULT_LOGFIRE_ENDPOINT};
use crate::error::Error;
use crate::hardware::host;
use crate::log::Logger;
use crate::output::otlp::{self, Attr, OtlpHttp, OtlpJob};
use crate::output::prometheus::{self, PushJob, Pushgateway, PushgatewaySettings};
use crate::output::uploader::Uploader;
use crate::output::sink::{Record, Sink};
use crate::output::EmissionsData;
use crate::record::run::RunInfo;
use crate::record::{EmissionsSnapshot, Prediction};

struct Prometheus {
    uploader: Uploader<Pushgateway>,
    /// The labels of the run description they were made from (rebuilt when the tracker
    /// replaces it, e.g. once the location is found).
    labels: (Arc<RunInfo>, Arc<str>),
    /// The total of the previous push (CodeCarbon's gauges are deltas).
    pushed: EmissionsSnapshot,
    delete_on_stop: bool,
}

struct Otlp {
    uploader: Uploader<OtlpHttp>,
    /// The location attributes of the run description they were made from.
    location: (Arc<RunInfo>, Arc<Vec<(String, Attr)>>),
}

pub struct MetricsOutputs {
    prometheus: Option<Prometheus>,
    otlp: Option<Otlp>,
    logger: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl MetricsOutputs {
    pub fn start(c: &Config, run: &Arc<RunInfo>, job: Option<&Job>, request_timeout: Duration, log: &Logger) -> MetricsOutputs {
        let prometheus = c.save_to_prometheus.then(|| {
            let mut grouping = vec![("run_id".to_string(), run.run_id.clone())];
            if let Some(j) = job {
                grouping.push(("job_id".into(), j.id.clone()));
                grouping.push(("rank".into(), j.rank.to_string()));
                if let Some(l) = j.local_rank {
                    grouping.push(("local_rank".into(), l.to_string()));
                }
            }
            grouping.push(("instance".into(), host::name()));
            let settings = PushgatewaySettings {
                url: c.prometheus_url.clone(),
                job: prometheus::job_name(&c.project_name, &c.experiment_name),
                grouping,
                basic_auth: env("PROMETHEUS_USERNAME").map(|u| (u, env("PROMETHEUS_PASSWORD").unwrap_or_default())),
                request_timeout,
            };
            Prometheus {
                uploader: Uploader::new(Pushgateway::new(settings), log.clone()),
                labels: (run.clone(), prometheus::labels(run)),
                pushed: EmissionsSnapshot::default(),
                delete_on_stop: c.prometheus_delete_on_stop,
            }
        });
        let otlp = (c.save_to_otlp || c.save_to_logfire).then(|| {
            let endpoint = c.otlp_endpoint.clone().unwrap_or_else(|| {
                if c.save_to_logfire && !c.save_to_otlp {
                    DEFAULT_LOGFIRE_ENDPOINT.into()
                } else {
                    env("OTEL_EXPORTER_OTLP_ENDPOINT").map_or_else(|| "http://localhost:4318".into(), |e| e.trim_end_matches('/').to_string())
                }
            });
            let mut headers = Vec::new();
            if c.save_to_logfire {
                match env("LOGFIRE_TOKEN") {
                    Some(t) => headers.push(("Authorization".to_string(), t)),
                    None if c.otlp_endpoint.is_none() => log.warning("logfire output without LOGFIRE_TOKEN: Logfire will refuse the metrics"),
                    None => {}
                }
            }
            let mut resource = vec![
                ("service.name".to_string(), Attr::Str(c.project_name.clone())),
                ("service.version".to_string(), Attr::Str(run.version.clone())),
                ("service.instance.id".to_string(), Attr::Str(run.run_id.clone())),
                ("codecarbon.run_id".to_string(), Attr::Str(run.run_id.clone())),
                ("codecarbon.experiment_id".to_string(), Attr::Str(run.experiment_id.clone())),
                ("codecarbon.experiment_name".to_string(), Attr::Str(c.experiment_name.clone())),
                ("codecarbon.tracking_mode".to_string(), Attr::Str(run.tracking_mode.clone())),
                ("host.name".to_string(), Attr::Str(host::name())),
            ];
            if let Some(j) = job {
                resource.push(("job.id".into(), Attr::Str(j.id.clone())));
                resource.push(("job.rank".into(), Attr::Int(j.rank.into())));
                if let Some(l) = j.local_rank {
                    resource.push(("job.local_rank".into(), Attr::Int(l.into())));
                }
                if let Some(w) = j.world_size {
                    resource.push(("job.world_size".into(), Attr::Int(w.into())));
                }
            }
            let dest = OtlpHttp { url: otlp::metrics_url(&endpoint), headers, resource, start_unix_nano: otlp::unix_nano_now(), request_timeout };
            Otlp { uploader: Uploader::new(dest, log.clone()), location: (run.clone(), otlp::location_attributes(run)) }
        });
        MetricsOutputs { prometheus, otlp, logger: c.save_to_logger }
    }

    /// A resumed run (`restart_after_stop`): the next Prometheus deltas start from `total`.
    pub fn continue_from(&mut self, total: EmissionsSnapshot) {
        if let Some(p) = &mut self.prometheus {
            p.pushed = total;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.prometheus.is_none() && self.otlp.is_none() && !self.logger
    }

    /// Whether an output carries predictions (Prometheus, OTLP).
    pub fn takes_prediction(&self) -> bool {
        self.prometheus.is_some() || self.otlp.is_some()
    }

    /// Queues `row`'s totals, and the run's prediction if any, to every output (never waits for
    /// the network).
    pub fn push(&mut self, row: &EmissionsData, prediction: Option<Prediction>, log: &Logger) {
        if let Some(p) = &mut self.prometheus {
            let (delta, _) = row.numbers.since(&p.pushed);
            p.pushed = row.numbers;
            if !Arc::ptr_eq(&p.labels.0, &row.run) {
                p.labels = (row.run.clone(), prometheus::labels(&row.run));
            }
            p.uploader.push(PushJob::Push { total: row.numbers, delta, labels: p.labels.1.clone(), prediction });
        }
        if let Some(o) = &mut self.otlp {
            if !Arc::ptr_eq(&o.location.0, &row.run) {
                o.location = (row.run.clone(), otlp::location_attributes(&row.run));
            }
            o.uploader.push(OtlpJob { total: row.numbers, time_unix_nano: otlp::unix_nano_now(), location: o.location.1.clone(), prediction });
        }
        if self.logger {
            crate::output::logger::log_total(row, log);
        }
    }

    /// A tracker released without stop: what is still queued is given up at once (no deletion
    /// of the Pushgateway group, no wait).
    pub fn abandon(self) {
        if let Some(p) = self.prometheus {
            let _ = p.uploader.finish(Duration::ZERO);
        }
        if let Some(o) = self.otlp {
            let _ = o.uploader.finish(Duration::ZERO);
        }
    }

    /// At stop: queues the Pushgateway group's deletion, then waits for each output until
    /// `left()` runs out.
    pub fn finish(self, left: &dyn Fn() -> Duration) -> Vec<Error> {
        let mut errors = Vec::new();
        if let Some(p) = self.prometheus {
            if p.delete_on_stop {
                p.uploader.push(PushJob::Delete);
            }
            errors.extend(p.uploader.finish(left()).err());
        }
        if let Some(o) = self.otlp {
            errors.extend(o.uploader.finish(left()).err());
        }
        errors
    }
}

/// The monitoring outputs take each report as the file outputs do.
impl Sink for MetricsOutputs {
    fn on_report(&mut self, record: &Record<'_>, log: &Logger) -> crate::error::Result<()> {
        self.push(record.row, record.prediction, log);
        Ok(())
    }

    fn wants_prediction(&self) -> bool {
        self.takes_prediction()
    }

    fn finish(self: Box<Self>, left: &dyn Fn() -> Duration) -> Vec<Error> {
        MetricsOutputs::finish(*self, left)
    }

    fn abandon(self: Box<Self>) {
        MetricsOutputs::abandon(*self)
    }
}

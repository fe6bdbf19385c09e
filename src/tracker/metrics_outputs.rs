//! The outputs that feed monitoring systems: the Prometheus Pushgateway, OpenTelemetry
//! (OTLP/HTTP, also CodeCarbon's `logfire`) and the log. Built at start from the config, the
//! run and the job; fed each total (flush, stop) under the tracker's lock, where they only
//! queue; drained in the background; finished at stop within `api_timeout_s`.

use std::time::Duration;

use super::job::Job;
use crate::config::{Config, DEFAULT_LOGFIRE_ENDPOINT};
use crate::error::Error;
use crate::log::Logger;
use crate::output::otlp::{self, Attr, OtlpHttp, OtlpJob};
use crate::output::prometheus::{self, PushJob, Pushgateway, PushgatewaySettings};
use crate::output::uploader::Uploader;
use crate::output::EmissionsData;
use crate::record::run::RunInfo;
use crate::record::EmissionsSnapshot;

/// The host name (`gethostname`).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

struct Prometheus {
    uploader: Uploader<Pushgateway>,
    /// The total of the previous push (CodeCarbon's gauges are deltas).
    pushed: EmissionsSnapshot,
    delete_on_stop: bool,
}

pub struct MetricsOutputs {
    prometheus: Option<Prometheus>,
    otlp: Option<Uploader<OtlpHttp>>,
    logger: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl MetricsOutputs {
    pub fn start(c: &Config, run: &RunInfo, job: Option<&Job>, request_timeout: Duration, log: &Logger) -> MetricsOutputs {
        let prometheus = c.save_to_prometheus.then(|| {
            let mut grouping = vec![("run_id".to_string(), run.run_id.clone())];
            if let Some(j) = job {
                grouping.push(("job_id".into(), j.id.clone()));
                grouping.push(("rank".into(), j.rank.to_string()));
                if let Some(l) = j.local_rank {
                    grouping.push(("local_rank".into(), l.to_string()));
                }
            }
            grouping.push(("instance".into(), host_name()));
            let settings = PushgatewaySettings {
                url: c.prometheus_url.clone(),
                job: prometheus::job_name(&c.project_name, &c.experiment_name),
                grouping,
                basic_auth: env("PROMETHEUS_USERNAME").map(|u| (u, env("PROMETHEUS_PASSWORD").unwrap_or_default())),
                request_timeout,
            };
            Prometheus {
                uploader: Uploader::new(Pushgateway::new(settings, run), log.clone()),
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
                ("host.name".to_string(), Attr::Str(host_name())),
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
            Uploader::new(dest, log.clone())
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

    /// Queues `row`'s totals to every output (never waits for the network).
    pub fn push(&mut self, row: &EmissionsData, log: &Logger) {
        if let Some(p) = &mut self.prometheus {
            let (delta, _) = row.numbers.since(&p.pushed);
            p.pushed = row.numbers;
            p.uploader.push(PushJob::Push { total: row.numbers, delta });
        }
        if let Some(o) = &self.otlp {
            o.push(OtlpJob { total: row.numbers, time_unix_nano: otlp::unix_nano_now() });
        }
        if self.logger {
            crate::output::logger::log_total(row, log);
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
            errors.extend(o.finish(left()).err());
        }
        errors
    }
}

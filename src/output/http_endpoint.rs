//! `emissions_endpoint`: CodeCarbon's HTTPOutput, a POST of the cumulative totals (all CSV
//! columns plus `user`) on flush and stop, through the same non-blocking upload queue. A newer
//! total supersedes a queued one, so a full queue keeps the latest.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::sink::{Record, Sink};
use super::uploader::{classify, Destination, Outcome, Uploader};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::log::Logger;

pub struct HttpEndpoint {
    pub url: String,
    pub request_timeout: Duration,
}

impl Destination for HttpEndpoint {
    type Job = Value;

    fn merge(queued: &mut Value, later: Value) {
        *queued = later;
    }

    fn send(&self, job: &Value, _cancelled: &dyn Fn() -> bool) -> Outcome {
        classify(crate::http::post_json(&self.url, &[], job, self.request_timeout), "POST emissions_endpoint")
    }

    fn name(&self) -> String {
        self.url.clone()
    }
}

/// The endpoint as a sink: each report's totals, with `user`, queued for a POST. A resumed run
/// (`restart_after_stop`) goes on with the same queue.
pub struct EndpointSink(Arc<Uploader<HttpEndpoint>>);

impl EndpointSink {
    pub fn open(c: &Config, request_timeout: Duration, log: &Logger) -> Option<Box<dyn Sink>> {
        let url = c.emissions_endpoint.clone()?;
        Some(Box::new(EndpointSink(Arc::new(Uploader::new(HttpEndpoint { url, request_timeout }, log.clone())))))
    }
}

impl Sink for EndpointSink {
    fn carry_over(&self) -> Option<Box<dyn Sink>> {
        Some(Box::new(EndpointSink(self.0.clone())))
    }

    fn on_report(&mut self, record: &Record<'_>, _log: &Logger) -> Result<()> {
        let mut body = record.row.to_json();
        body["user"] = serde_json::json!(user_name());
        self.0.push(body);
        Ok(())
    }

    fn finish(self: Box<Self>, left: &dyn Fn() -> Duration) -> Vec<Error> {
        self.0.finish(left()).err().into_iter().collect()
    }

    fn abandon(self: Box<Self>) {
        let _ = self.0.finish(Duration::ZERO);
    }
}

/// `getpass.getuser()`: the login name from the environment.
pub fn user_name() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

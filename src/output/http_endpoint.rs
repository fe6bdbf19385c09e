//! `emissions_endpoint`: CodeCarbon's HTTPOutput, a POST of the cumulative totals (all CSV
//! columns plus `user`) on flush and stop, through the same non-blocking upload queue. A newer
//! total supersedes a queued one, so a full queue keeps the latest.

use std::time::Duration;

use serde_json::Value;

use super::uploader::{classify, Destination, Outcome};

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

/// `getpass.getuser()`: the login name from the environment.
pub fn user_name() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

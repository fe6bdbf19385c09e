//! Small blocking HTTP client over ureq, used only from the background runtime's blocking pool.
//!
//! Safety switch for test suites, in builds with the `test-hooks` feature only (`cargo test`
//! turns it on): with `CARBON_TRACKER_LOOPBACK_ONLY=1` in the environment,
//! any request to a host other than 127.0.0.0/8, `localhost` or `[::1]` is refused before a
//! socket is opened (this repository's `.cargo/config.toml` sets it for `cargo test`).

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

#[cfg(any(test, feature = "test-hooks"))]
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

#[cfg(any(test, feature = "test-hooks"))]
pub fn is_loopback_url(url: &str) -> bool {
    let host = host_of(url);
    host == "localhost" || host == "::1" || host.parse::<std::net::Ipv4Addr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

#[cfg(not(any(test, feature = "test-hooks")))]
fn guard(_url: &str) -> Result<(), String> {
    Ok(())
}

/// Test builds only: `CARBON_TRACKER_LOOPBACK_ONLY=1` refuses every non-loopback host.
#[cfg(any(test, feature = "test-hooks"))]
fn guard(url: &str) -> Result<(), String> {
    if std::env::var_os("CARBON_TRACKER_LOOPBACK_ONLY").is_some_and(|v| v == "1") && !is_loopback_url(url) {
        return Err(format!("refused {url}: CARBON_TRACKER_LOOPBACK_ONLY=1 allows loopback addresses only"));
    }
    Ok(())
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(Duration::from_secs(2))))
        .http_status_as_error(false)
        .user_agent(concat!("carbon-tracker/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Response, String> {
    let mut r = r.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Ok(Response { status, body })
}

/// GET with extra headers. `Err` is a transport failure (refused, timeout, DNS); HTTP error
/// statuses come back as `Ok` with their status.
pub fn get(url: &str, headers: &[(&str, &str)], timeout: Duration) -> Result<Response, String> {
    guard(url)?;
    let mut req = agent(timeout).get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    crate::background::outside_fork_gate(|| finish(req.call()))
}

/// POST of a JSON body (`Content-Type: application/json`).
pub fn post_json(url: &str, headers: &[(&str, &str)], body: &Value, timeout: Duration) -> Result<Response, String> {
    guard(url)?;
    let mut req = agent(timeout).post(url).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    crate::background::outside_fork_gate(|| finish(req.send(body.to_string())))
}

/// A request with any method and an optional `(content type, body)`, for the Pushgateway
/// (PUT, DELETE) and OTLP/HTTP.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<(&str, &[u8])>, timeout: Duration) -> Result<Response, String> {
    guard(url)?;
    let builder = ureq::http::Request::builder().method(method).uri(url);
    let builder = headers.iter().fold(builder, |b, (k, v)| b.header(*k, *v));
    let agent = agent(timeout);
    crate::background::outside_fork_gate(|| match body {
        Some((content_type, bytes)) => {
            let req = builder.header("Content-Type", content_type).body(bytes.to_vec()).map_err(|e| e.to_string())?;
            finish(agent.run(req))
        }
        None => {
            let req = builder.body(()).map_err(|e| e.to_string())?;
            finish(agent.run(req))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for u in ["http://127.0.0.1:8080/x", "http://localhost/", "http://[::1]:9/a", "http://user@127.3.4.5/"] {
            assert!(is_loopback_url(u), "{u}");
        }
        for u in ["https://api.codecarbon.io", "http://169.254.169.254/latest", "http://10.0.0.1/", "http://localhost.evil.com/"] {
            assert!(!is_loopback_url(u), "{u}");
        }
    }

    #[test]
    fn the_test_suite_runs_with_the_loopback_guard() {
        // Set by .cargo/config.toml: a request to a real host fails before any socket is opened.
        assert_eq!(std::env::var("CARBON_TRACKER_LOOPBACK_ONLY").as_deref(), Ok("1"));
        let e = get("https://get.geojs.io/v1/ip/geo.json", &[], Duration::from_secs(1)).unwrap_err();
        assert!(e.contains("CARBON_TRACKER_LOOPBACK_ONLY"), "{e}");
    }

    #[test]
    fn connection_refused_is_a_transport_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert!(get(&format!("http://127.0.0.1:{port}/"), &[], Duration::from_secs(1)).is_err());
    }
}

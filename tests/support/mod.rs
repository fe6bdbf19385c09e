//! A fake of the CodeCarbon API (and of the geo and cloud-metadata services) on 127.0.0.1,
//! recording every request. It validates like carbonserver does (observed on the real server):
//! JSON content type and an `x-api-token` (else 403); `POST /emissions`: integer `duration` > 0,
//! every energy/power/emissions field present and >= 0, utilisation 0-100 (else 422).
#![allow(dead_code)]

pub mod child;
pub mod own_process;
pub use child::{default_signals, ChildTimeout, CommandTimeout};
pub use own_process::{in_own_process, test_name};

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub raw_body: String,
    pub at: Instant,
    /// The status the server answered (decided before any delay).
    pub status: u16,
}

/// How the server answers; can change while it runs.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Held before answering (the request is recorded first).
    pub delay: Duration,
    /// Answer this status to the next N `/emissions` (e.g. 500), then behave.
    pub fail_emissions: Vec<u16>,
    /// The same for `/runs`.
    pub fail_runs: Vec<u16>,
    /// Fixed answers for GET paths (geo, cloud metadata): status and body.
    pub get_routes: HashMap<String, (u16, String)>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour { delay: Duration::ZERO, fail_emissions: vec![], fail_runs: vec![], get_routes: HashMap::new() }
    }
}

pub struct FakeServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
    pub behaviour: Arc<Mutex<Behaviour>>,
    /// Requests fully answered.
    pub answered: Arc<Mutex<usize>>,
}

/// A port that nothing listens on (for "server down").
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl FakeServer {
    pub fn start() -> FakeServer {
        Self::start_on(0)
    }

    pub fn start_on(port: u16) -> FakeServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let answered = Arc::new(Mutex::new(0));
        let (r, b, a) = (requests.clone(), behaviour.clone(), answered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, b, a) = (r.clone(), b.clone(), a.clone());
                std::thread::spawn(move || serve(stream, r, b, a));
            }
        });
        FakeServer { port, requests, behaviour, answered }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }

    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.behaviour.lock().unwrap())
    }

    /// Waits until `n` requests were received (or panics after 10 s).
    pub fn wait_for(&self, n: usize) {
        let end = Instant::now() + Duration::from_secs(10);
        while self.requests.lock().unwrap().len() < n {
            assert!(Instant::now() < end, "only {:?} after 10 s", self.paths());
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn serve(
    stream: TcpStream,
    requests: Arc<Mutex<Vec<Request>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    answered: Arc<Mutex<usize>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    let parsed = serde_json::from_str(&raw_body).unwrap_or(Value::Null);
    let mut req = Request { method, path, headers, body: parsed, raw_body, at: Instant::now(), status: 0 };
    let (delay, reply) = {
        let mut b = behaviour.lock().unwrap();
        (b.delay, respond(&req, &mut b))
    };
    req.status = reply.0;
    requests.lock().unwrap().push(req);
    std::thread::sleep(delay);
    let (status, body) = reply;
    let text = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = stream;
    let _ = s.write_all(text.as_bytes());
    *answered.lock().unwrap() += 1;
}

fn respond(req: &Request, b: &mut Behaviour) -> (u16, String) {
    if req.method == "GET" {
        let route = req.path.split('?').next().unwrap_or("");
        return b.get_routes.get(route).cloned().unwrap_or((404, "{\"detail\":\"Not Found\"}".into()));
    }
    if req.path == "/endpoint" {
        return (201, "{}".into());
    }
    // A Pushgateway's group and an OTLP collector: recorded, accepted.
    if req.path.starts_with("/metrics/") || req.path == "/v1/metrics" {
        return (200, "{}".into());
    }
    if req.headers.get("content-type").map(String::as_str) != Some("application/json") {
        return (415, "{\"detail\":\"Unsupported Media Type\"}".into());
    }
    if !req.headers.contains_key("x-api-token") {
        return (403, "{\"detail\":\"Not allowed\"}".into());
    }
    match req.path.as_str() {
        "/runs" => {
            if !b.fail_runs.is_empty() {
                let s = b.fail_runs.remove(0);
                return (s, "{\"detail\":\"injected failure\"}".into());
            }
            if req.body.get("experiment_id").is_none() || req.body.get("timestamp").is_none() {
                return (422, "{\"detail\":\"missing experiment_id or timestamp\"}".into());
            }
            (201, json!({"id": "api-run-0001", "experiment_id": req.body["experiment_id"]}).to_string())
        }
        "/emissions" => {
            if !b.fail_emissions.is_empty() {
                let s = b.fail_emissions.remove(0);
                return (s, "{\"detail\":\"injected failure\"}".into());
            }
            if let Some(problem) = invalid_emission(&req.body) {
                return (422, json!({ "detail": problem }).to_string());
            }
            (201, "\"emission-id\"".into())
        }
        _ => (404, "{\"detail\":\"Not Found\"}".into()),
    }
}

fn invalid_emission(b: &Value) -> Option<String> {
    match b.get("duration") {
        Some(Value::Number(n)) if n.as_u64().is_some_and(|d| d > 0) => {}
        other => return Some(format!("duration must be an integer > 0, got {other:?}")),
    }
    for k in ["timestamp", "run_id"] {
        if b.get(k).and_then(Value::as_str).is_none() {
            return Some(format!("{k} required"));
        }
    }
    for k in [
        "emissions_sum",
        "emissions_rate",
        "cpu_power",
        "gpu_power",
        "ram_power",
        "cpu_energy",
        "gpu_energy",
        "ram_energy",
        "energy_consumed",
    ] {
        match b.get(k).and_then(Value::as_f64) {
            Some(x) if x >= 0.0 => {}
            other => return Some(format!("{k} must be >= 0, got {other:?}")),
        }
    }
    for k in ["cpu_utilization_percent", "gpu_utilization_percent", "ram_utilization_percent"] {
        match b.get(k).and_then(Value::as_f64) {
            Some(x) if (0.0..=100.0).contains(&x) => {}
            other => return Some(format!("{k} must be 0-100, got {other:?}")),
        }
    }
    None
}

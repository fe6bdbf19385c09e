//! Beyond one machine, against the real components, all on loopback:
//! - a Prometheus Pushgateway (Debian `prometheus-pushgateway`) receiving the `prometheus`
//!   output, and a Prometheus server (Debian `prometheus`) scraping it, whose PromQL `sum` over a
//!   4-rank job equals the sum of the ranks' totals;
//! - an OTLP/HTTP receiver decoding with the official OpenTelemetry protocol definitions
//!   (tests/otlp/receiver.py, PyPI `opentelemetry-proto` in `target/otlp-venv` or `$CT_OTLP_PYTHON`);
//! - `mpirun -np 4` (Debian `openmpi-bin` + `libopenmpi-dev`) of tests/c/mpi_ranks.c: the ranks
//!   count the node once, name their ranks, and share one emissions.csv; the same with SLURM's
//!   variables; and of the Fortran tests/fortran/mpi_ranks.f90 (mpif90, regions in its time
//!   steps), reported as one job by `carbon-tracker report DIR`.
//!
//! Each test whose component is not installed says so and passes (`.ci/run` installs them all);
//! set `CT_REQUIRE_CLUSTER_TOOLS=1` to make a missing component a failure instead.
//! Waiting is polling for a condition, never a timed assert.

use crate::support;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::CommandTimeout;

use carbon_tracker::{ErrorKind, Tracker};

use crate::tools;
use tools::{find_program, require};

// ---- helpers ----

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(url: &str) -> Option<String> {
    match carbon_tracker::http::get(url, &[], Duration::from_secs(5)) {
        Ok(r) if r.status == 200 => Some(r.body),
        _ => None,
    }
}

/// Polls `probe` until it gives a value; panics with `what` after a minute.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < give_up, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts the Debian package `name`'s server on a free loopback port with `args` (the listen
/// address is added), its log in `dir`; waits until it answers `/-/ready`. `None`: not installed.
fn start_daemon(dir: &Path, name: &str, args: &[String]) -> Option<(Daemon, String)> {
    let bin = require(name, name)?;
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(bin)
        .args(args)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let d = Daemon(child);
    wait_for(&format!("{name} to be ready"), || get(&format!("{url}/-/ready")));
    Some((d, url))
}

fn start_pushgateway(dir: &Path) -> Option<(Daemon, String)> {
    start_daemon(dir, "prometheus-pushgateway", &[])
}

fn start_prometheus(dir: &Path, pushgateway: &str) -> Option<(Daemon, String)> {
    let config = dir.join("prometheus.yml");
    let target = pushgateway.trim_start_matches("http://");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let args =
        [format!("--config.file={}", config.display()), format!("--storage.tsdb.path={}", dir.join("tsdb").display())];
    start_daemon(dir, "prometheus", &args)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The value of a PromQL instant query with one result, if it has one.
fn promql(prometheus: &str, query: &str) -> Option<f64> {
    let body = get(&format!("{prometheus}/api/v1/query?query={}", percent_encode(query)))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = v["data"]["result"].as_array()?;
    if result.len() != 1 {
        return None;
    }
    result[0]["value"][1].as_str()?.parse().ok()
}

/// `(labels, value)` of every sample of `metric` in a Prometheus text exposition.
fn samples(text: &str, metric: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once(' ')?;
            Some((labels.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels.find(&format!(",{name}=\"")).or_else(|| labels.find(&format!("{{{name}=\"")))? + name.len() + 3;
    Some(&labels[start..start + labels[start..].find('"')?])
}

fn tracker(options: &str) -> Tracker {
    Tracker::new(carbon_tracker::Options::parse(options).unwrap()).unwrap()
}

fn rel_diff(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

// ---- Prometheus ----

#[test]
fn pushgateway_gets_codecarbon_metrics_and_the_group_is_deleted_at_stop() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_gw, url)) = start_pushgateway(dir.path()) else { return };
    let t = tracker(&format!(
        "country_iso_code=FRA;force_cpu_power=10;force_ram_power=1;save_to_file=false;save_to_prometheus=true;\
         prometheus_url={url};project_name=demo;experiment_name=exp 1;job_id=j-7;rank=2;local_rank=0;job_count_node_once=false"
    ));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let flushed = t.flush().unwrap();
    let run_id = t.run_id().to_string();
    let (text, labels, value) = wait_for("the push to reach the pushgateway", || {
        let text = get(&format!("{url}/metrics"))?;
        let (labels, value) =
            samples(&text, "codecarbon_energy_total").into_iter().find(|(l, _)| l.contains(&run_id))?;
        Some((text.clone(), labels, value))
    });
    println!(
        "pushgateway after flush:\n{}",
        text.lines().filter(|l| l.starts_with("codecarbon_")).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(value, flushed.energy_consumed_kwh);
    for (name, want) in [
        ("job", "demo_exp_1"),
        ("job_id", "j-7"),
        ("rank", "2"),
        ("local_rank", "0"),
        ("run_id", run_id.as_str()),
        ("project_name", "demo"),
        ("country_iso_code", "FRA"),
    ] {
        assert_eq!(label(&labels, name), Some(want), "{name} in {labels}");
    }
    // CodeCarbon's gauges (deltas) and our cumulative counters are all there.
    for m in [
        "codecarbon_duration",
        "codecarbon_emissions",
        "codecarbon_cpu_power",
        "codecarbon_energy_consumed",
        "codecarbon_emissions_kg_total",
        "codecarbon_cpu_energy_kwh_total",
    ] {
        assert_eq!(samples(&text, m).iter().filter(|(l, _)| l.contains(&run_id)).count(), 1, "{m}");
    }
    t.stop().unwrap();
    // stop waited for its queue: the final push and the deletion are done.
    let after = get(&format!("{url}/metrics")).unwrap();
    assert!(!after.contains(&run_id), "the group is deleted at stop (prometheus_delete_on_stop=true)");
}

/// The child of the basic-auth test: credentials come from its environment, as in CodeCarbon.
#[test]
fn prometheus_auth_child() {
    let Ok(url) = std::env::var("CT_AUTH_GATEWAY") else { return };
    let t = tracker(&format!(
        "country_iso_code=FRA;force_cpu_power=10;force_ram_power=1;save_to_file=false;save_to_prometheus=true;\
         prometheus_url={url};prometheus_delete_on_stop=false;api_timeout_s=3"
    ));
    t.start().unwrap();
    let errors = t.stop().err().map(|r| r.errors().to_vec()).unwrap_or_default();
    println!(
        "run_id={} errors={}",
        t.run_id(),
        errors.iter().map(|e| e.message.replace(' ', "_")).collect::<Vec<_>>().join("|")
    );
}

#[test]
fn pushgateway_basic_auth_from_prometheus_username_and_password() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = require("prometheus-pushgateway", "prometheus-pushgateway") else { return };
    // The gateway's web config wants a bcrypt hash (Python's crypt, through the C library's).
    let hash = Command::new("python3")
        .args(["-W", "ignore", "-c", "import crypt; print(crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH)))"])
        .try_output_timeout()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|h| h.starts_with("$2"));
    let Some(hash) = hash else {
        eprintln!("SKIPPED: no bcrypt hasher (python3's crypt module) to configure the gateway's basic auth");
        return;
    };
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  pusher: '{hash}'\n")).unwrap();
    let port = free_port();
    let _gw = Daemon(
        Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.config.file={}", web.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let auth = ("Authorization", "Basic cHVzaGVyOnMzY3JldA=="); // pusher:s3cret
    wait_for("the pushgateway to be ready", || {
        carbon_tracker::http::get(&format!("{url}/-/ready"), &[auth], Duration::from_secs(5))
            .ok()
            .filter(|r| r.status == 200)
    });
    let run_child = |user: Option<&str>| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            support::test_name(module_path!(), "prometheus_auth_child").as_str(),
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("CT_AUTH_GATEWAY", &url);
        cmd.env_remove("PROMETHEUS_USERNAME").env_remove("PROMETHEUS_PASSWORD");
        if let Some(u) = user {
            cmd.env("PROMETHEUS_USERNAME", u).env("PROMETHEUS_PASSWORD", "s3cret");
        }
        let out = cmd.output_timeout();
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let line = stdout
            .lines()
            .find_map(|l| l.find("run_id=").map(|i| l[i..].to_string()))
            .unwrap_or_else(|| panic!("{stdout}"));
        let kv: std::collections::HashMap<String, String> = line
            .split_whitespace()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (kv["run_id"].clone(), kv["errors"].clone())
    };
    let (with_auth, errors) = run_child(Some("pusher"));
    assert_eq!(errors, "", "pushed with the credentials");
    let (without, errors) = run_child(None);
    assert!(errors.contains("401"), "refused without them, and reported at stop: {errors}");
    let metrics = carbon_tracker::http::get(&format!("{url}/metrics"), &[auth], Duration::from_secs(5)).unwrap().body;
    assert!(metrics.contains(&with_auth) && !metrics.contains(&without));
}

#[test]
fn unreachable_pushgateway_and_collector_delay_nothing_and_are_reported_at_stop() {
    let port = free_port(); // nothing listens there
    let t = tracker(&format!(
        "country_iso_code=FRA;force_cpu_power=10;force_ram_power=1;save_to_file=false;save_to_prometheus=true;\
         prometheus_url=http://127.0.0.1:{port};save_to_otlp=true;otlp_endpoint=http://127.0.0.1:{port};api_timeout_s=0.5"
    ));
    t.start().unwrap();
    for _ in 0..5 {
        t.flush().unwrap(); // queued, not sent on this thread
    }
    let r = t.stop().unwrap_err();
    assert!(r.emissions().unwrap().energy_consumed_kwh > 0.0);
    let network: Vec<_> = r.errors().iter().filter(|e| e.kind == ErrorKind::Network).collect();
    assert_eq!(network.len(), 2, "{r:?}");
    assert!(network.iter().any(|e| e.message.contains(&format!("127.0.0.1:{port} (job"))), "{r:?}");
    assert!(network.iter().any(|e| e.message.contains("/v1/metrics")), "{r:?}");
}

#[test]
fn malformed_urls_are_option_errors_at_new() {
    for bad in [
        "prometheus_url=localhost:9091",
        "prometheus_url=http://:9091",
        "otlp_endpoint=http://h:99999",
        "otlp_endpoint=grpc://h:4317",
    ] {
        let e = Tracker::new(carbon_tracker::Options::parse(bad).unwrap())
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(e.kind, ErrorKind::InvalidOption, "{bad}");
        assert!(e.message.contains(bad.split('=').next().unwrap()), "{}", e.message);
    }
    assert!(Tracker::new(
        carbon_tracker::Options::parse("output_methods=prometheus,logger,otlp;prometheus_url=http://127.0.0.1:9091")
            .unwrap()
    )
    .is_ok());
}

// ---- OpenTelemetry ----

fn otlp_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("CT_OTLP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/otlp-venv/bin/python"));
    let ok = candidate.is_file()
        && Command::new(&candidate)
            .args(["-c", "import opentelemetry.proto.collector.metrics.v1.metrics_service_pb2"])
            .stderr(Stdio::null())
            .try_status_timeout()
            .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CT_REQUIRE_CLUSTER_TOOLS").is_none(),
            "no Python with opentelemetry-proto at {}",
            candidate.display()
        );
        eprintln!(
            "SKIPPED: no Python with opentelemetry-proto at {} (.ci/run makes it: python3 -m venv target/otlp-venv && target/otlp-venv/bin/pip install opentelemetry-proto)",
            candidate.display()
        );
    }
    ok.then_some(candidate)
}

/// tests/otlp/receiver.py on a free port: the receiver, its endpoint, and the file it writes
/// each decoded request to (one JSON line each).
fn start_otlp_receiver(dir: &Path) -> Option<(Daemon, String, PathBuf)> {
    let python = otlp_python()?;
    let out = dir.join("received.jsonl");
    let mut child = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/receiver.py"))
        .arg(&out)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    Some((Daemon(child), format!("http://127.0.0.1:{}", first.trim()), out))
}

#[test]
fn otlp_metrics_decode_with_the_official_protocol_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_receiver, endpoint, out)) = start_otlp_receiver(dir.path()) else { return };
    let t = tracker(&format!(
        "country_iso_code=FRA;force_cpu_power=10;force_ram_power=1;save_to_file=false;output_methods=otlp;otlp_endpoint={endpoint};\
         project_name=otel-demo;job_id=job-42;rank=1;local_rank=1;job_count_node_once=false"
    ));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    t.flush().unwrap();
    let r = t.stop().unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let requests: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(requests.len(), 2, "flush and stop");
    let last = &requests[1]["resourceMetrics"][0];
    let attrs: std::collections::HashMap<String, serde_json::Value> = last["resource"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["key"].as_str().unwrap().to_string(), a["value"].clone()))
        .collect();
    println!("OTLP resource attributes, decoded: {}", serde_json::to_string(&last["resource"]["attributes"]).unwrap());
    assert_eq!(attrs["service.name"]["stringValue"], "otel-demo");
    assert_eq!(attrs["codecarbon.run_id"]["stringValue"], t.run_id());
    assert_eq!(attrs["job.id"]["stringValue"], "job-42");
    assert_eq!(attrs["job.rank"]["intValue"], "1");
    assert_eq!(attrs["job.local_rank"]["intValue"], "1");
    assert!(attrs["host.name"]["stringValue"].as_str().is_some_and(|h| !h.is_empty()));
    let metrics = last["scopeMetrics"][0]["metrics"].as_array().unwrap();
    let find = |name: &str| metrics.iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("{name} missing"));
    for (name, value) in [
        ("codecarbon_energy_consumed", r.energy_consumed_kwh),
        ("codecarbon_emissions", r.emissions_kg),
        ("codecarbon_duration", r.duration_s),
    ] {
        let m = find(name);
        assert_eq!(m["sum"]["isMonotonic"], true, "{name}");
        assert_eq!(m["sum"]["aggregationTemporality"], "AGGREGATION_TEMPORALITY_CUMULATIVE", "{name}");
        assert_eq!(m["sum"]["dataPoints"][0]["asDouble"].as_f64().unwrap(), value, "{name}");
    }
    for name in ["codecarbon_cpu_power", "codecarbon_gpu_power", "codecarbon_ram_power", "codecarbon_emissions_rate"] {
        assert!(find(name)["gauge"]["dataPoints"][0].get("asDouble").is_some() || r.gpu_power_w == 0.0, "{name}");
    }
    let cpu_w = find("codecarbon_cpu_power")["gauge"]["dataPoints"][0]["asDouble"].as_f64().unwrap();
    assert_eq!(cpu_w, r.cpu_power_w);
    println!("OTLP codecarbon_energy_consumed (cumulative) = {} kWh", r.energy_consumed_kwh);
}

// ---- logger ----

/// The child of the logger test: a tracker with the logger output, its totals on stdout.
#[test]
fn logger_output_child() {
    if std::env::var_os("CT_LOGGER_CHILD").is_none() {
        return;
    }
    let t = tracker("country_iso_code=FRA;force_cpu_power=10;force_ram_power=1;save_to_file=false;output_methods=logger;log_level=error");
    t.start().unwrap();
    let f = t.flush().unwrap();
    let s = t.stop().unwrap();
    println!("run_id={} flush={:?} stop={:?}", t.run_id(), f.energy_consumed_kwh, s.energy_consumed_kwh);
}

#[test]
fn logger_output_writes_each_total_as_one_json_line_at_info() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            support::test_name(module_path!(), "logger_output_child").as_str(),
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("CT_LOGGER_CHILD", "1")
        .output_timeout();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.find("run_id=").map(|i| &l[i..])).unwrap_or_else(|| panic!("{stdout}"));
    let kv: std::collections::HashMap<&str, &str> = line.split_whitespace().filter_map(|p| p.split_once('=')).collect();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rows: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with("[carbon_tracker INFO @ "))
        .filter_map(|l| serde_json::from_str(&l[l.find("] ").unwrap() + 2..]).ok())
        .collect();
    assert_eq!(rows.len(), 2, "one line per total, even with log_level=error:\n{stderr}");
    for (row, key) in rows.iter().zip(["flush", "stop"]) {
        assert_eq!(row["run_id"], kv["run_id"]);
        assert_eq!(row["energy_consumed"].as_f64().unwrap(), kv[key].parse::<f64>().unwrap());
        assert_eq!(row.as_object().unwrap().len(), carbon_tracker::output::emissions_data::COLUMNS.len());
    }
}

// ---- mpirun ----

struct RankLine {
    rank: u32,
    fields: std::collections::HashMap<String, String>,
}

impl RankLine {
    fn num(&self, k: &str) -> f64 {
        self.fields[k].parse().unwrap_or_else(|_| panic!("{k}={}", self.fields[k]))
    }
}

/// One mpirun job at a time (C or Fortran): 4 ranks busy on top of another job's 4 would stretch
/// the barriers the comparison with the reference allows for.
static ONE_MPI_JOB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs tests/c/mpi_ranks.c under `mpirun -np 4` (through `wrapper` when given); returns the
/// ranks' lines and the reference line.
fn run_mpi_job(dir: &Path, options: &str, wrapper: Option<&str>) -> Option<(Vec<RankLine>, RankLine)> {
    let _one = ONE_MPI_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let mpirun = require("mpirun", "openmpi-bin")?;
    let mpicc = require("mpicc", "libopenmpi-dev")?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let exe = dir.join("mpi_ranks");
    let status = Command::new(mpicc)
        .args(["-std=c99", "-Wall", "-Werror", "-I"])
        .arg(root.join("include"))
        .arg(root.join("tests/c/mpi_ranks.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-lcarbon_tracker")
        .status_timeout();
    assert!(status.success(), "mpicc failed");
    let reference = format!("{options};job_count_node_once=false;save_to_file=false;save_to_prometheus=false");
    let mut cmd = Command::new(mpirun);
    cmd.args(["-np", "4", "--allow-run-as-root", "--oversubscribe"]);
    if let Some(w) = wrapper {
        cmd.args(["sh", "-c", w, "sh"]);
    }
    let out = cmd.arg(&exe).arg(options).arg(&reference).arg("2").output_timeout();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "mpirun failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let parse = |l: &str| {
        l.split_whitespace()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect()
    };
    let mut ranks: Vec<RankLine> = stdout
        .lines()
        .filter(|l| l.starts_with("rank="))
        .map(|l| {
            let fields: std::collections::HashMap<String, String> = parse(l);
            RankLine { rank: fields["rank"].parse().unwrap(), fields }
        })
        .collect();
    ranks.sort_by_key(|r| r.rank);
    let reference = stdout
        .lines()
        .find(|l| l.starts_with("reference "))
        .map(|l| RankLine { rank: u32::MAX, fields: parse(l) })
        .expect("reference line");
    Some((ranks, reference))
}

fn print_table(title: &str, ranks: &[RankLine], reference: &RankLine) {
    println!("{title}");
    println!("rank | local_rank | job_id | counts node | duration s | CPU kWh | RAM kWh | energy kWh");
    for r in ranks {
        println!(
            "{} | {} | {} | {} | {:.3} | {:.4e} | {:.4e} | {:.6e}",
            r.fields["job_rank"],
            r.fields["local_rank"],
            r.fields["job_id"],
            r.fields["counts_node"],
            r.num("duration_s"),
            r.num("cpu_kwh"),
            r.num("ram_kwh"),
            r.num("energy_kwh")
        );
    }
    let sum: f64 = ranks.iter().map(|r| r.num("energy_kwh")).sum();
    println!("sum of ranks | {sum:.6e} kWh; whole machine over the job (reference tracker) | {:.6e} kWh over {:.3} s; difference {:+.2} %",
        reference.num("energy_kwh"), reference.num("duration_s"), (sum / reference.num("energy_kwh") - 1.0) * 100.0);
}

/// What every launcher's run must show: ranks named, one counter, the node counted once,
/// one CSV with one header and every rank's row.
fn check_job(dir: &Path, ranks: &[RankLine], reference: &RankLine, job_id: Option<&str>) {
    assert_eq!(ranks.iter().map(|r| r.rank).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    for r in ranks {
        assert_eq!(r.fields["job_rank"], r.rank.to_string(), "the tracker names its rank");
        assert_eq!(r.fields["local_rank"], r.rank.to_string(), "one node: local rank = rank");
    }
    let ids: std::collections::HashSet<&str> = ranks.iter().map(|r| r.fields["job_id"].as_str()).collect();
    assert_eq!(ids.len(), 1, "one job id: {ids:?}");
    if let Some(id) = job_id {
        assert!(ids.contains(id), "{ids:?}");
    }
    // Taken while every rank runs (between two barriers): exactly one holds the counter's lock.
    assert_eq!(ranks.iter().filter(|r| r.fields["counts_node"] == "true").count(), 1, "one rank counts the node");
    let sum: f64 = ranks.iter().map(|r| r.num("energy_kwh")).sum();
    let longest_s = ranks.iter().map(|r| r.num("duration_s")).fold(0.0, f64::max);
    assert_node_counted_once(sum, reference.num("energy_kwh"), reference.num("duration_s"), longest_s);
    // Not 4 times the machine, as without the coordination.
    let text = std::fs::read_to_string(dir.join("emissions.csv")).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("timestamp,")).count(), 1, "{text}");
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4, "{text}");
    let mut csv_energies: Vec<f64> = rows.iter().map(|r| r[13].parse().unwrap()).collect();
    let mut rank_energies: Vec<f64> = ranks.iter().map(|r| r.num("energy_kwh")).collect();
    csv_energies.sort_by(f64::total_cmp);
    rank_energies.sort_by(f64::total_cmp);
    assert_eq!(csv_energies, rank_energies, "every rank's final row is in the shared CSV");
    // The user's private coordination directory stays, empty.
    assert!(
        !std::fs::read_dir(dir).unwrap().flatten().any(|e| e
            .file_name()
            .to_string_lossy()
            .starts_with("carbon-tracker-")
            && std::fs::read_dir(e.path()).map_or(true, |mut d| d.next().is_some())),
        "the last rank removes the coordination files"
    );
}

const JOB_OPTIONS: &str = "country_iso_code=FRA;force_cpu_power=40;force_ram_power=10;measure_power_secs=0.5";
/// The most the machine can draw under JOB_OPTIONS: the CPU at full load (its TDP) and the RAM.
const JOB_MAX_POWER_W: f64 = 40.0 + 10.0;

/// The node counted once: the ranks' energies add up to the machine's over the job. The
/// reference tracker (rank 0, outside the coordination) runs from before the first rank's start
/// to after the last one's stop (barriers between), so the ranks' sum is at most the reference,
/// and at least the reference minus what the machine drew while the reference ran alone: at
/// most JOB_MAX_POWER_W over the reference's duration less the longest rank's. On a loaded
/// machine that time is longer (late barriers), and the allowance with it; otherwise it is a
/// few ms. 5 % either side for the load model's sampling (each process samples the load on its
/// own). A node counted by no rank, or by several, is far outside.
fn assert_node_counted_once(sum_kwh: f64, reference_kwh: f64, reference_s: f64, longest_rank_s: f64) {
    let alone_s = (reference_s - longest_rank_s).max(0.0);
    let alone_kwh = JOB_MAX_POWER_W * alone_s / 3.6e6;
    println!(
        "ranks sum {sum_kwh:e} kWh; the machine (reference) {reference_kwh:e} kWh, of which at most {alone_kwh:e} kWh in the {:.1} ms it ran alone",
        alone_s * 1e3
    );
    assert!(alone_kwh < 0.5 * reference_kwh, "the reference ran alone {alone_s} s of {reference_s} s: too long to compare (a machine this loaded cannot tell)");
    assert!(
        sum_kwh <= reference_kwh * 1.05 && sum_kwh >= (reference_kwh - alone_kwh) * 0.95,
        "ranks sum {sum_kwh} kWh, the machine {reference_kwh} kWh over {reference_s} s (ranks up to {longest_rank_s} s): not counted once"
    );
}

#[test]
fn mpirun_four_ranks_count_the_node_once_and_prometheus_sums_them() {
    let dir = tempfile::tempdir().unwrap();
    if find_program("mpirun").is_none() || find_program("mpicc").is_none() {
        require("mpirun", "openmpi-bin");
        require("mpicc", "libopenmpi-dev");
        return;
    }
    let gateway = start_pushgateway(dir.path());
    let d = dir.path().join("job");
    std::fs::create_dir(&d).unwrap();
    let mut options = format!("{JOB_OPTIONS};output_dir={0};job_coordination_dir={0};project_name=mpi", d.display());
    if let Some((_, url)) = &gateway {
        options.push_str(&format!(";save_to_prometheus=true;prometheus_url={url};prometheus_delete_on_stop=false"));
    }
    let Some((ranks, reference)) = run_mpi_job(&d, &options, None) else { return };
    print_table("mpirun -np 4 (Open MPI variables):", &ranks, &reference);
    check_job(&d, &ranks, &reference, None);
    let Some((_gw, url)) = gateway else { return };
    // Each rank's group on the gateway names its rank and holds its total.
    let text = get(&format!("{url}/metrics")).unwrap();
    let energy = samples(&text, "codecarbon_energy_total");
    println!("pushgateway, codecarbon_energy_total of the job's ranks:");
    for (labels, value) in &energy {
        println!(
            "  rank={} job_id={} run_id={} -> {value:e} kWh",
            label(labels, "rank").unwrap_or("?"),
            label(labels, "job_id").unwrap_or("?"),
            label(labels, "run_id").unwrap_or("?")
        );
    }
    assert_eq!(energy.len(), 4, "{text}");
    for r in &ranks {
        let (_, v) =
            energy.iter().find(|(l, _)| label(l, "rank") == Some(&r.rank.to_string())).expect("a group per rank");
        assert_eq!(*v, r.num("energy_kwh"), "rank {}", r.rank);
    }
    // PromQL over the scraped gateway: the sum of the ranks' totals.
    let expected: f64 = ranks.iter().map(|r| r.num("energy_kwh")).sum();
    let Some((_prom, prom)) = start_prometheus(dir.path(), &url) else { return };
    let query = "sum(codecarbon_energy_total{job=\"mpi_base\"})";
    let got = wait_for("prometheus to scrape the 4 ranks' final totals", || {
        (promql(&prom, "count(codecarbon_energy_total{job=\"mpi_base\"})")? == 4.0).then_some(())?;
        promql(&prom, query).filter(|v| rel_diff(*v, expected) < 1e-12)
    });
    println!("PromQL {query} = {got:e} kWh; sum of the ranks' totals = {expected:e} kWh");
}

#[test]
fn mpirun_in_a_slurm_batch_job_ranks_by_mpirun_and_names_the_slurm_job() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("job");
    std::fs::create_dir(&d).unwrap();
    let options = format!("{JOB_OPTIONS};output_dir={0};job_coordination_dir={0};project_name=slurm", d.display());
    // What the ranks of `mpirun -np 4` inside `sbatch -n 4` were seen to inherit under a real
    // SLURM 22.05 (tests/vectors/launchers/sbatch_n4_mpirun.json): the step of mpirun's daemon,
    // SLURM_PROCID=0 and one task on the node in every rank.
    let wrapper = "SLURM_JOB_ID=4242 SLURM_JOBID=4242 SLURM_STEP_ID=0 SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NODEID=0 \
                   SLURM_NTASKS=1 SLURM_TASKS_PER_NODE=1 SLURM_STEP_TASKS_PER_NODE=1 exec \"$@\"";
    let Some((ranks, reference)) = run_mpi_job(&d, &options, Some(wrapper)) else { return };
    print_table("mpirun -np 4 in a SLURM batch job:", &ranks, &reference);
    check_job(&d, &ranks, &reference, None);
    let id = &ranks[0].fields["job_id"];
    assert!(id.starts_with("4242-") && id.len() > 5, "the SLURM job and mpirun's launch: {id}");
}

#[test]
fn mpirun_with_the_coordination_off_counts_the_machine_in_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("job");
    std::fs::create_dir(&d).unwrap();
    let options = format!(
        "{JOB_OPTIONS};output_dir={0};job_coordination_dir={0};project_name=off;job_count_node_once=false",
        d.display()
    );
    let Some((ranks, reference)) = run_mpi_job(&d, &options, None) else { return };
    print_table("mpirun -np 4 with job_count_node_once=false:", &ranks, &reference);
    let sum: f64 = ranks.iter().map(|r| r.num("energy_kwh")).sum();
    // Each rank measured the whole machine, as CodeCarbon does.
    assert!(sum > 3.5 * reference.num("energy_kwh"), "{sum} vs {}", reference.num("energy_kwh"));
    assert!(ranks.iter().all(|r| r.fields["counts_node"] == "null"));
}

// ---- mpirun of a Fortran program ----

#[test]
fn mpirun_fortran_ranks_with_regions_count_the_node_once_and_report_as_one_job() {
    let (Some(_), Some(mpif90)) = (require("mpirun", "openmpi-bin"), require("mpif90", "libopenmpi-dev + gfortran"))
    else {
        return;
    };
    let _one = ONE_MPI_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let exe = tools::build_fortran(&mpif90, "tests/fortran/mpi_ranks.f90", dir.path());
    let out = dir.path().join("job");
    std::fs::create_dir(&out).unwrap();
    let options = format!(
        "{JOB_OPTIONS};output_dir={0};job_coordination_dir={0};project_name=fortran-mpi;log_level=error",
        out.display()
    );
    let reference = format!("{JOB_OPTIONS};job_count_node_once=false;save_to_file=false;log_level=error");
    let o = Command::new("mpirun")
        .args(["-np", "4", "--allow-run-as-root", "--oversubscribe"])
        .arg(&exe)
        .arg(&options)
        .arg(&reference)
        .arg("1.5")
        .output_timeout();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "mpirun failed:\n{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    println!("{stdout}");
    let parse = |l: &str| -> std::collections::HashMap<String, String> {
        l.split_whitespace().filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let ranks: Vec<_> = stdout.lines().filter(|l| l.starts_with("rank=")).map(parse).collect();
    assert_eq!(ranks.len(), 4, "{stdout}");
    // Fortran writes the `=` then a blank before the number: the value is in the next field.
    let num = |line: &str, key: &str| -> f64 {
        let mut it = line.split_whitespace();
        while let Some(w) = it.next() {
            if let Some(v) = w.strip_prefix(&format!("{key}=")) {
                return if v.is_empty() { it.next().unwrap().parse().unwrap() } else { v.parse().unwrap() };
            }
        }
        panic!("{key} not in {line}")
    };
    let rank_lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("rank=")).collect();
    assert_eq!(ranks.iter().filter(|r| r["counts_node"] == "T").count(), 1, "one rank counts the node");
    let sum: f64 = rank_lines.iter().map(|l| num(l, "energy_kwh")).sum();
    let reference = stdout.lines().find(|l| l.starts_with("reference ")).expect("reference line");
    let machine = num(reference, "energy_kwh");
    println!(
        "sum of the 4 Fortran ranks {sum:e} kWh; the machine over the job (reference) {machine:e} kWh; {:+.2} %",
        (sum / machine - 1.0) * 100.0
    );
    let longest_s = rank_lines.iter().map(|l| num(l, "duration_s")).fold(0.0, f64::max);
    assert_node_counted_once(sum, machine, num(reference, "duration_s"), longest_s);
    let steps = num(rank_lines[0], "steps") as u64;

    // One report for the job.
    let report = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_carbon-tracker")).arg("report").arg(&out).args(extra).output_timeout();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    println!("{}", report(&[]));
    let v: serde_json::Value = serde_json::from_str(&report(&["--json"])).unwrap();
    let job = &v["jobs"][0];
    assert_eq!(v["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(job["ranks"].as_array().unwrap().len(), 4);
    assert_eq!(job["nodes"].as_array().unwrap().len(), 1, "one node");
    assert!(rel_diff(job["energy_consumed_kwh"].as_f64().unwrap(), sum) < 1e-12, "the report's total is the ranks'");
    for r in job["regions"].as_array().unwrap() {
        assert_eq!((r["calls"].as_u64(), r["runs"].as_u64()), (Some(4 * steps), Some(4)), "{r}");
    }
}

// ---- predictions and budgets in the monitoring outputs ----

/// Four progress reports 20 ms apart (0 to 30 % of 10 steps): enough for a prediction.
fn report_progress(t: &Tracker) {
    for k in 0..=3 {
        t.set_progress(k as f64, 10.0).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pushgateway_gets_the_prediction_and_the_budget_state() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_gw, url)) = start_pushgateway(dir.path()) else { return };
    let t = tracker(&format!(
        "country_iso_code=FRA;force_cpu_power=10;force_ram_power=1;save_to_file=false;save_to_prometheus=true;\
         prometheus_url={url};project_name=predicted;energy_budget_kwh=1e-12;prometheus_delete_on_stop=false"
    ));
    t.start().unwrap();
    report_progress(&t);
    let flushed = t.flush().unwrap();
    let run_id = t.run_id().to_string();
    // The gateway checks the exposition: an invalid one would not be there at all.
    let text = wait_for("the push with the prediction", || {
        let text = get(&format!("{url}/metrics"))?;
        samples(&text, "codecarbon_predicted_energy_kwh").iter().any(|(l, _)| l.contains(&run_id)).then_some(text)
    });
    let value = |m: &str| samples(&text, m).into_iter().find(|(l, _)| l.contains(&run_id)).map(|(_, v)| v);
    println!(
        "prediction at the pushgateway:\n{}",
        text.lines()
            .filter(|l| l.contains("predict") || l.contains("budget") || l.contains("progress"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(value("codecarbon_progress"), Some(0.3));
    assert_eq!(value("codecarbon_prediction_state"), Some(2.0));
    assert_eq!(value("codecarbon_budget_state"), Some(3.0), "exceeded");
    assert_eq!(value("codecarbon_energy_budget_kwh"), Some(1e-12));
    assert_eq!(value("codecarbon_prediction_confidence"), Some(0.9));
    for m in [
        "codecarbon_predicted_duration_s",
        "codecarbon_predicted_energy_low_kwh",
        "codecarbon_predicted_emissions_high_kg",
        "codecarbon_time_left_s",
    ] {
        assert!(value(m).is_some_and(|v| v >= 0.0), "{m}");
    }
    assert!(value("codecarbon_predicted_energy_kwh").unwrap() >= flushed.energy_consumed_kwh);
    assert_eq!(value("codecarbon_emissions_budget_kg"), None, "no emissions budget: not sent");
    t.stop().unwrap();
}

#[test]
fn otlp_gets_the_prediction_as_gauges() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_receiver, endpoint, out)) = start_otlp_receiver(dir.path()) else { return };
    let t = tracker(&format!(
        "country_iso_code=FRA;force_cpu_power=10;force_ram_power=1;save_to_file=false;output_methods=otlp;otlp_endpoint={endpoint};\
         emissions_budget_kg=1000"
    ));
    t.start().unwrap();
    report_progress(&t);
    t.flush().unwrap();
    t.stop().unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let metrics = first["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].as_array().unwrap();
    let gauge = |name: &str| {
        let m = metrics.iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("{name} missing"));
        (m["unit"].as_str().unwrap_or("").to_string(), m["gauge"]["dataPoints"][0]["asDouble"].as_f64().unwrap())
    };
    assert_eq!(gauge("codecarbon_progress"), ("1".to_string(), 0.3));
    assert_eq!(gauge("codecarbon_budget_state").1, 1.0, "below");
    assert_eq!(gauge("codecarbon_emissions_budget_kg"), ("kg".to_string(), 1000.0));
    let (unit, kwh) = gauge("codecarbon_predicted_energy_kwh");
    assert_eq!(unit, "kWh");
    assert!(kwh > 0.0 && gauge("codecarbon_predicted_energy_high_kwh").1 >= kwh);
    assert_eq!(gauge("codecarbon_predicted_duration_s").0, "s");
}

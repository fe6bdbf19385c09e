//! The online path against a fake CodeCarbon API on loopback (tests/support). No request may
//! go anywhere else: the suite runs with CARBON_TRACKER_LOOPBACK_ONLY=1 (.cargo/config.toml).

use crate::support;
use support::CommandTimeout;

use std::time::{Duration, Instant};

use carbon_tracker::config::{options, Config, Origin, Sources};
use carbon_tracker::{EmissionsSnapshot, ErrorKind, Tracker};
use support::{free_port, FakeServer};

const KEY: &str = "cpt_secret-token-123";
/// CodeCarbon's world average, gCO2e/kWh (when no place is known).
const WORLD_G_PER_KWH: f64 = 475.0;

fn tracker(options_str: &str) -> Tracker {
    let sources = Sources { layers: vec![(Origin::Options, options::parse(options_str).unwrap())] };
    Tracker::with_config(Config::from_sources(&sources).unwrap())
}

fn api_tracker(url: &str, dir: &std::path::Path, extra: &str) -> Tracker {
    tracker(&format!(
        "save_to_api=true;api_endpoint={url};api_key={KEY};experiment_id=11111111-2222-3333-4444-555555555555;\
         country_iso_code=FRA;output_dir={};force_ram_power=10;api_call_interval=-1;{extra}",
        dir.display()
    ))
}

fn sum(server: &FakeServer, field: &str) -> f64 {
    // Only the uploads the server accepted count (it sums the rows of a run).
    server
        .requests()
        .iter()
        .filter(|r| r.path == "/emissions" && r.status == 201)
        .map(|r| r.body[field].as_f64().unwrap())
        .sum()
}

fn assert_deltas_sum_to(server: &FakeServer, s: &EmissionsSnapshot) {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-15);
    assert!(
        close(sum(server, "emissions_sum"), s.emissions_kg),
        "{} vs {}",
        sum(server, "emissions_sum"),
        s.emissions_kg
    );
    assert!(close(sum(server, "energy_consumed"), s.energy_consumed_kwh));
    assert!(close(sum(server, "ram_energy"), s.ram_energy_kwh));
    assert!(close(sum(server, "cpu_energy"), s.cpu_energy_kwh));
    let duration = sum(server, "duration");
    assert!((duration - s.duration_s).abs() <= 1.0, "server duration {duration} vs {}", s.duration_s);
}

/// `d` of work on the tracker's clock, without waiting for it: the test-hooks clock moves on.
/// It is the process's clock, so a test that calls this runs in a process of its own
/// (`support::in_own_process`).
fn work_for(d: Duration) {
    carbon_tracker::clock::advance_for_tests(d);
}

/// A tracker whose API is a closed port of loopback (returned): started, a little over a second
/// of work, one flush.
fn flushed_against_a_closed_port(dir: &std::path::Path, extra: &str) -> (u16, Tracker) {
    let port = free_port();
    let t = api_tracker(&format!("http://127.0.0.1:{port}"), dir, extra);
    t.start().unwrap();
    work_for(Duration::from_millis(1100));
    t.flush().unwrap();
    (port, t)
}

/// start, a little over a second of work, one flush, stop: two deltas of at least 1 s.
fn flush_once_then_stop(t: &Tracker) -> Result<EmissionsSnapshot, carbon_tracker::ReportError> {
    t.start().unwrap();
    work_for(Duration::from_millis(1100));
    t.flush().unwrap();
    t.stop()
}

#[test]
fn lazy_run_then_deltas_that_sum_to_the_totals() {
    support::in_own_process(module_path!(), "lazy_run_then_deltas_that_sum_to_the_totals", || {
        let server = FakeServer::start();
        let dir = tempfile::tempdir().unwrap();
        let t = api_tracker(&server.url(), dir.path(), "measure_power_secs=0.1");
        t.start().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(server.requests().is_empty(), "no request on new/start: {:?}", server.paths());

        t.flush().unwrap(); // 0.3 s: under a second, merged into the next upload
        work_for(Duration::from_millis(1000));
        t.flush().unwrap(); // 1.3 s: /runs then /emissions
        server.wait_for(2);
        work_for(Duration::from_millis(400));
        let report = t.stop().unwrap(); // 1.7 s: the final 0.4 s goes out too

        assert_eq!(server.paths(), ["POST /runs", "POST /emissions", "POST /emissions"]);
        let reqs = server.requests();
        for r in &reqs {
            eprintln!("{:?} {} {} {}", r.at.duration_since(reqs[0].at), r.method, r.path, r.raw_body);
        }
        assert_eq!(reqs[0].body["experiment_id"], "11111111-2222-3333-4444-555555555555");
        for r in &reqs {
            assert_eq!(r.headers["x-api-token"], KEY);
            assert_eq!(r.headers["content-type"], "application/json");
        }
        for r in &reqs[1..] {
            assert_eq!(r.body["run_id"], "api-run-0001");
            assert!(r.body["duration"].as_u64().unwrap() >= 1);
        }
        assert_deltas_sum_to(&server, &report); // includes the server's duration within 1 s

        // The key is in no output file; the CSV's run_id is the tracker's own.
        let csv = std::fs::read_to_string(dir.path().join("emissions.csv")).unwrap();
        assert!(!csv.contains(KEY));
        assert!(csv.contains(t.run_id()));
        assert!(!format!("{:?}", t.config()).contains(KEY));
    });
}

#[test]
fn nothing_is_sent_by_a_tracker_that_never_flushes() {
    let server = FakeServer::start();
    let dir = tempfile::tempdir().unwrap();
    drop(api_tracker(&server.url(), dir.path(), "")); // never started
    let t = api_tracker(&server.url(), dir.path(), "measure_power_secs=0.05");
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(500)); // ten background measurements, api_call_interval=-1
    assert!(server.requests().is_empty(), "{:?}", server.paths());
    t.stop().unwrap();
    assert_eq!(server.paths(), ["POST /runs", "POST /emissions"]);
}

#[test]
fn background_ticks_upload_every_api_call_interval() {
    support::in_own_process(module_path!(), "background_ticks_upload_every_api_call_interval", || {
        let server = FakeServer::start();
        let dir = tempfile::tempdir().unwrap();
        let t = api_tracker(&server.url(), dir.path(), "measure_power_secs=0.1;api_call_interval=2");
        t.start().unwrap();
        // A delta under a second is not sent: 1.2 s of work on the clock, then two ticks (0.2 s).
        work_for(Duration::from_millis(1200));
        server.wait_for(2); // /runs + the first /emissions at the second tick, without any flush
        let report = t.stop().unwrap();
        let paths = server.paths();
        assert_eq!(paths[0], "POST /runs");
        assert!(paths[1..].iter().all(|p| p == "POST /emissions"));
        assert_deltas_sum_to(&server, &report);
    });
}

#[test]
fn server_down_at_start_then_up_gets_everything_in_order() {
    support::in_own_process(module_path!(), "server_down_at_start_then_up_gets_everything_in_order", || {
        let dir = tempfile::tempdir().unwrap();
        // The upload fails: connection refused, retried in the background.
        let (port, t) = flushed_against_a_closed_port(dir.path(), "api_timeout_s=15");
        work_for(Duration::from_millis(1100));
        t.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let server = FakeServer::start_on(port);
        std::thread::sleep(Duration::from_millis(1000));
        let report = t.stop().unwrap();
        let paths = server.paths();
        assert_eq!(paths[0], "POST /runs", "{paths:?}");
        assert_eq!(paths.len(), 4, "{paths:?}");
        // In order: each delta's timestamp (taken when it was queued) follows the previous one.
        let stamps: Vec<String> =
            server.requests()[1..].iter().map(|r| r.body["timestamp"].as_str().unwrap().to_string()).collect();
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
        assert_deltas_sum_to(&server, &report);
    });
}

#[test]
fn slow_server_never_stalls_flush() {
    support::in_own_process(module_path!(), "slow_server_never_stalls_flush", || {
        let server = FakeServer::start();
        server.set(|b| b.delay = Duration::from_secs(2));
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let t = api_tracker(&server.url(), dir.path(), "api_timeout_s=10");
        t.start().unwrap();
        let start_took = started.elapsed();
        work_for(Duration::from_millis(1100));
        let before = Instant::now();
        t.flush().unwrap();
        let flush_took = before.elapsed();
        server.wait_for(1);
        // The server holds the request; flush has long returned.
        assert_eq!(*server.answered.lock().unwrap(), 0);
        assert!(flush_took < Duration::from_millis(500), "flush took {flush_took:?}");
        assert!(start_took < Duration::from_millis(500), "start took {start_took:?}");
        t.stop().unwrap();
        assert_eq!(server.paths().len(), 3);
        eprintln!("slow server (2 s): start {start_took:?}, flush {flush_took:?}");
    });
}

#[test]
fn server_errors_are_retried_until_delivered() {
    support::in_own_process(module_path!(), "server_errors_are_retried_until_delivered", || {
        let server = FakeServer::start();
        server.set(|b| b.fail_emissions = vec![500, 503, 429]);
        let dir = tempfile::tempdir().unwrap();
        let t = api_tracker(&server.url(), dir.path(), "api_timeout_s=10");
        let report = flush_once_then_stop(&t).unwrap();
        let emissions = server.requests().into_iter().filter(|r| r.path == "/emissions").count();
        assert!(emissions >= 4, "3 failures then successes: {:?}", server.paths());
        assert_deltas_sum_to(&server, &report);
    });
}

#[test]
fn server_that_never_comes_back_bounds_stop() {
    support::in_own_process(module_path!(), "server_that_never_comes_back_bounds_stop", || {
        let dir = tempfile::tempdir().unwrap();
        let (_, t) = flushed_against_a_closed_port(dir.path(), "api_timeout_s=0.5");
        let before = Instant::now();
        let report = t.stop().unwrap_err();
        let took = before.elapsed();
        assert!(took >= Duration::from_millis(450) && took < Duration::from_millis(1500), "stop took {took:?}");
        assert_eq!(report.errors().len(), 1);
        let e = &report.errors()[0];
        assert_eq!(e.kind, ErrorKind::Network);
        assert!(e.message.contains("upload(s)") && e.message.contains("not delivered"), "{}", e.message);
        // The measurement itself is intact, and in the error.
        assert!(report.emissions().unwrap().energy_consumed_kwh > 0.0);
        assert!(std::fs::read_to_string(dir.path().join("emissions.csv")).unwrap().lines().count() == 3);
    });
}

#[test]
fn client_errors_are_reported_with_the_server_message_not_retried() {
    support::in_own_process(module_path!(), "client_errors_are_reported_with_the_server_message_not_retried", || {
        let server = FakeServer::start();
        server.set(|b| b.fail_emissions = vec![422]);
        let dir = tempfile::tempdir().unwrap();
        let t = api_tracker(&server.url(), dir.path(), "api_timeout_s=5");
        let report = flush_once_then_stop(&t).unwrap_err();
        assert_eq!(report.errors().len(), 1, "{report:?}");
        assert!(report.errors()[0].message.contains("422") && report.errors()[0].message.contains("injected failure"));
        assert_eq!(server.paths(), ["POST /runs", "POST /emissions", "POST /emissions"]);
    });
}

#[test]
fn missing_api_key_is_refused_by_the_server_and_reported() {
    let server = FakeServer::start();
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&format!(
        "save_to_api=true;api_endpoint={};country_iso_code=FRA;output_dir={};api_timeout_s=3",
        server.url(),
        dir.path().display()
    ));
    t.start().unwrap();
    let report = t.stop().unwrap_err();
    assert_eq!(report.errors().len(), 1);
    assert!(report.errors()[0].message.contains("403"), "{}", report.errors()[0].message);
}

#[test]
fn emissions_endpoint_gets_the_totals() {
    let server = FakeServer::start();
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&format!(
        "emissions_endpoint={}/endpoint;country_iso_code=FRA;output_dir={};project_name=ep",
        server.url(),
        dir.path().display()
    ));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    t.flush().unwrap();
    let report = t.stop().unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let last = &reqs[1].body;
    assert_eq!(last["project_name"], "ep");
    assert_eq!(last["run_id"], t.run_id());
    assert_eq!(last["country_iso_code"], "FRA");
    assert!(last["user"].is_string());
    assert_eq!(last["emissions"].as_f64().unwrap(), report.emissions_kg);
}

// ---- location lookup and live intensity ----

fn geo_server(geojs: Option<&str>, ipinfo: Option<&str>, gcp_zone: Option<&str>) -> FakeServer {
    let server = FakeServer::start();
    server.set(|b| {
        if let Some(body) = geojs {
            b.get_routes.insert("/geo".into(), (200, body.into()));
        }
        if let Some(body) = ipinfo {
            b.get_routes.insert("/ipinfo".into(), (200, body.into()));
        }
        if let Some(zone) = gcp_zone {
            b.get_routes.insert("/computeMetadata/v1/instance/".into(), (200, format!("{{\"zone\":\"{zone}\"}}")));
        }
    });
    server
}

fn located_tracker(server: &FakeServer, dir: &std::path::Path, extra: &str) -> Tracker {
    let u = server.url();
    tracker(&format!(
        "geo_api_url={u}/geo;geo_backup_api_url={u}/ipinfo;cloud_metadata_url={u};output_dir={};force_ram_power=10;{extra}",
        dir.display()
    ))
}

fn csv_rows(dir: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("emissions.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let cols: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    rdr.records().map(|r| cols.iter().cloned().zip(r.unwrap().iter().map(str::to_string)).collect()).collect()
}

/// Waits for the background lookup of `t`'s endpoints (it never blocks start or flush).
fn wait_for_lookup(t: &Tracker) {
    let end = Instant::now() + Duration::from_secs(10);
    while carbon_tracker::emissions::location::get(t.config()).is_none() {
        assert!(Instant::now() < end, "lookup did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn geojs_location_gives_the_us_state_intensity() {
    let geojs = r#"{"region":"Illinois","country_code3":"USA","country":"United States","country_code":"US","latitude":"41.88","longitude":"-87.63"}"#;
    let server = geo_server(Some(geojs), None, None);
    let dir = tempfile::tempdir().unwrap();
    let t = located_tracker(&server, dir.path(), "");
    t.start().unwrap();
    wait_for_lookup(&t);
    std::thread::sleep(Duration::from_millis(60));
    let s = t.stop().unwrap();
    let illinois = carbon_tracker::emissions::tables::USA_LBS_PER_MWH["illinois"] * 0.45359237;
    assert!((s.carbon_intensity_g_per_kwh - illinois).abs() < 1e-9, "{}", s.carbon_intensity_g_per_kwh);
    let row = &csv_rows(dir.path())[0];
    assert_eq!((row["country_iso_code"].as_str(), row["region"].as_str()), ("USA", "illinois"));
    assert_eq!((row["latitude"].as_str(), row["longitude"].as_str()), ("41.88", "-87.63"));
    assert_eq!(row["on_cloud"], "N");
    let paths = server.paths();
    assert!(paths.contains(&"GET /geo".to_string()) && !paths.contains(&"GET /ipinfo".to_string()), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("GET /computeMetadata")), "cloud probes run: {paths:?}");
}

#[test]
fn wait_for_location_says_what_became_of_the_lookup_and_takes_its_answer_in() {
    use carbon_tracker::LocationLookup;
    let dir = tempfile::tempdir().unwrap();
    let given = tracker(&format!("country_iso_code=FRA;output_dir={}", dir.path().display()));
    assert_eq!(given.wait_for_location(Duration::ZERO), LocationLookup::NotNeeded, "a country is given");

    let geojs = r#"{"region":"Illinois","country_code3":"USA","country":"United States","country_code":"US","latitude":"41.88","longitude":"-87.63"}"#;
    let server = geo_server(Some(geojs), None, None);
    server.set(|b| b.delay = Duration::from_millis(300));
    let t = located_tracker(&server, dir.path(), "cloud_detection=false");
    assert_eq!(t.wait_for_location(Duration::from_millis(50)), LocationLookup::Pending, "not started: no lookup yet");
    t.start().unwrap();
    assert_eq!(t.peek().unwrap().carbon_intensity_g_per_kwh, WORLD_G_PER_KWH, "until it answers");
    assert_eq!(t.wait_for_location(Duration::from_secs(10)), LocationLookup::Found);
    // Taken in at once (a measurement, nothing written): the numbers from now on use the place.
    let illinois = carbon_tracker::emissions::tables::USA_LBS_PER_MWH["illinois"] * 0.45359237;
    assert!((t.peek().unwrap().carbon_intensity_g_per_kwh - illinois).abs() < 1e-9);
    assert_eq!(csv_rows(dir.path()).len(), 0, "nothing written");
    t.stop().unwrap();

    let nothing = geo_server(None, None, None);
    let dir = tempfile::tempdir().unwrap();
    let t = located_tracker(&nothing, dir.path(), "cloud_detection=false");
    t.start().unwrap();
    match t.wait_for_location(Duration::from_secs(10)) {
        LocationLookup::Failed(why) => assert!(why.contains("HTTP 404"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.stop().unwrap().carbon_intensity_g_per_kwh, WORLD_G_PER_KWH);
}

#[test]
fn wait_for_location_without_a_deadline_neither_panics_nor_waits_before_start() {
    use carbon_tracker::LocationLookup;
    // A lookup that answers after 300 ms (found).
    let geojs = r#"{"region":"Illinois","country_code3":"USA","country":"United States","country_code":"US","latitude":"41.88","longitude":"-87.63"}"#;
    let server = geo_server(Some(geojs), None, None);
    server.set(|b| b.delay = Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let t = located_tracker(&server, dir.path(), "cloud_detection=false");
    // Before start no lookup runs: Pending at once, not after the timeout (forever, here).
    let t0 = Instant::now();
    assert_eq!(t.wait_for_location(Duration::MAX), LocationLookup::Pending);
    assert_eq!(t.wait_for_location(Duration::from_secs(30)), LocationLookup::Pending);
    assert!(t0.elapsed() < Duration::from_secs(10), "waited {:?} for a lookup nobody began", t0.elapsed());
    t.start().unwrap();
    // `Duration::MAX` (no deadline) waits until the lookup answers; it overflowed the clock.
    assert_eq!(t.wait_for_location(Duration::MAX), LocationLookup::Found);
    t.stop().unwrap();
}

#[test]
fn ipinfo_is_the_fallback_and_a_double_failure_is_the_world_average() {
    let server = geo_server(None, Some(r#"{"region":"Quebec","country":"CA","loc":"46.8,-71.2"}"#), None);
    let dir = tempfile::tempdir().unwrap();
    let t = located_tracker(&server, dir.path(), "cloud_detection=false");
    t.start().unwrap();
    wait_for_lookup(&t);
    std::thread::sleep(Duration::from_millis(60));
    let s = t.stop().unwrap();
    assert!((s.carbon_intensity_g_per_kwh - 3.937).abs() < 0.001, "quebec: {}", s.carbon_intensity_g_per_kwh);
    assert!(
        server.paths().iter().all(|p| !p.contains("computeMetadata") && !p.contains("latest")),
        "cloud_detection=false"
    );

    let nothing = geo_server(None, None, None);
    let dir = tempfile::tempdir().unwrap();
    let t = located_tracker(&nothing, dir.path(), "cloud_detection=false");
    t.start().unwrap();
    wait_for_lookup(&t);
    std::thread::sleep(Duration::from_millis(60));
    let s = t.stop().unwrap();
    assert_eq!(s.carbon_intensity_g_per_kwh, 475.0);
    let row = &csv_rows(dir.path())[0];
    assert_eq!((row["country_iso_code"].as_str(), row["country_name"].as_str()), ("", ""), "not a silent Canada");
}

#[test]
fn gcp_metadata_gives_the_cloud_region_intensity() {
    let geojs = r#"{"region":"Wallonia","country_code3":"BEL","country":"Belgium","country_code":"BE","latitude":"50.4","longitude":"3.8"}"#;
    let server = geo_server(Some(geojs), None, Some("projects/1/zones/europe-west1-b"));
    let dir = tempfile::tempdir().unwrap();
    let t = located_tracker(&server, dir.path(), "");
    t.start().unwrap();
    wait_for_lookup(&t);
    std::thread::sleep(Duration::from_millis(60));
    let s = t.stop().unwrap();
    assert_eq!(s.carbon_intensity_g_per_kwh, 122.0);
    let row = &csv_rows(dir.path())[0];
    assert_eq!(
        (row["cloud_provider"].as_str(), row["cloud_region"].as_str(), row["on_cloud"].as_str()),
        ("gcp", "europe-west1", "Y")
    );
    let gcp = server.requests().into_iter().find(|r| r.path.starts_with("/computeMetadata")).unwrap();
    assert_eq!(gcp.headers["metadata-flavor"], "Google");
}

#[test]
fn run_payload_carries_rounded_coordinates_once_located() {
    let geojs = r#"{"region":"Ile-de-France","country_code3":"FRA","country":"France","country_code":"FR","latitude":48.8566,"longitude":2.3522}"#;
    let server = geo_server(Some(geojs), None, None);
    let dir = tempfile::tempdir().unwrap();
    let t = located_tracker(
        &server,
        dir.path(),
        &format!(
            "save_to_api=true;api_endpoint={};api_key={KEY};api_call_interval=-1;cloud_detection=false",
            server.url()
        ),
    );
    t.start().unwrap();
    wait_for_lookup(&t);
    std::thread::sleep(Duration::from_millis(60));
    let s = t.stop().unwrap();
    let run = server.requests().into_iter().find(|r| r.path == "/runs").unwrap();
    assert_eq!((run.body["latitude"].as_f64(), run.body["longitude"].as_f64()), (Some(48.9), Some(2.4)));
    assert!((s.carbon_intensity_g_per_kwh - 56.039).abs() < 1e-12);
}

#[test]
fn offline_and_given_countries_make_no_request() {
    let server = geo_server(Some("{}"), Some("{}"), Some("zone-a"));
    let dir = tempfile::tempdir().unwrap();
    for extra in [
        "offline=true",
        "location_lookup=false",
        "country_iso_code=DEU",
        "force_carbon_intensity_g_co2e_kwh=100",
        "cloud_provider=gcp;cloud_region=us-central1",
    ] {
        let t = located_tracker(&server, dir.path(), extra);
        t.start().unwrap();
        t.flush().unwrap();
        t.stop().unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.requests().is_empty(), "{:?}", server.paths());
}

#[test]
fn electricity_maps_live_intensity_with_static_fallback() {
    let server = FakeServer::start();
    server.set(|b| {
        b.get_routes.insert("/em".into(), (200, r#"{"zone":"FR","carbonIntensity":42}"#.into()));
    });
    let dir = tempfile::tempdir().unwrap();
    let opts = |token: &str, path: &str| {
        format!(
            "country_iso_code=FRA;electricitymaps_api_token={token};electricitymaps_api_url={}/{path};output_dir={}",
            server.url(),
            dir.path().display()
        )
    };
    let t = tracker(&opts("tok-1", "em"));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let first = t.flush().unwrap(); // starts the fetch, tables meanwhile
    assert_eq!(first.carbon_intensity_g_per_kwh, 56.039);
    server.wait_for(1);
    std::thread::sleep(Duration::from_millis(100));
    let second = t.stop().unwrap();
    assert_eq!(second.carbon_intensity_g_per_kwh, 42.0);
    let req = &server.requests()[0];
    assert_eq!(req.path, "/em?countryCode=FR");
    assert_eq!(req.headers["auth-token"], "tok-1");

    // A failing service: the static value stays.
    let t = tracker(&opts("tok-2", "missing"));
    t.start().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    t.flush().unwrap();
    server.wait_for(2);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(t.stop().unwrap().carbon_intensity_g_per_kwh, 56.039);
}

/// Runs a full online lifecycle at `log_level=debug` in a child process (this same test binary)
/// and checks that the API key appears in none of its log lines.
#[test]
fn api_key_never_reaches_the_log() {
    if std::env::var_os("CT_LOG_CHILD").is_some() {
        let server = FakeServer::start();
        server.set(|b| b.fail_emissions = vec![500, 422]); // warnings and errors get logged too
        let dir = tempfile::tempdir().unwrap();
        let t = api_tracker(&server.url(), dir.path(), "log_level=debug;api_timeout_s=3");
        t.start().unwrap();
        work_for(Duration::from_millis(1100));
        t.flush().unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        let _ = t.stop();
        eprintln!("child done: {} requests", server.requests().len());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            support::test_name(module_path!(), "api_key_never_reaches_the_log").as_str(),
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CT_LOG_CHILD", "1")
        .output_timeout();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("child done") && stderr.contains("[carbon_tracker DEBUG"), "{stderr}");
    assert!(stderr.contains("422"), "the rejected upload was logged: {stderr}");
    assert!(!stderr.contains(KEY) && !String::from_utf8_lossy(&out.stdout).contains(KEY));
}

#[test]
fn failing_destinations_do_not_starve_healthy_ones() {
    support::in_own_process(module_path!(), "failing_destinations_do_not_starve_healthy_ones", || {
        // Eight trackers uploading to a dead port keep retrying; a ninth, healthy one is not held up.
        let dead = format!("http://127.0.0.1:{}", free_port());
        let dir = tempfile::tempdir().unwrap();
        let dead_trackers: Vec<Tracker> = (0..8).map(|_| api_tracker(&dead, dir.path(), "api_timeout_s=0.2")).collect();
        for t in &dead_trackers {
            t.start().unwrap();
        }
        work_for(Duration::from_millis(1100));
        for t in &dead_trackers {
            t.flush().unwrap();
        }
        let server = FakeServer::start();
        let healthy = api_tracker(&server.url(), dir.path(), "api_timeout_s=5");
        healthy.start().unwrap();
        work_for(Duration::from_millis(1100));
        healthy.flush().unwrap();
        healthy.stop().unwrap();
        assert_eq!(server.paths(), ["POST /runs", "POST /emissions", "POST /emissions"]);
        for t in &dead_trackers {
            assert_eq!(t.stop().unwrap_err().errors().len(), 1);
        }
    });
}

#[test]
fn runs_creation_is_retried_before_any_emission() {
    support::in_own_process(module_path!(), "runs_creation_is_retried_before_any_emission", || {
        let server = FakeServer::start();
        server.set(|b| b.fail_runs = vec![503, 500]);
        let dir = tempfile::tempdir().unwrap();
        let t = api_tracker(&server.url(), dir.path(), "api_timeout_s=10");
        let report = flush_once_then_stop(&t).unwrap();
        assert_eq!(server.paths(), ["POST /runs", "POST /runs", "POST /runs", "POST /emissions", "POST /emissions"]);
        assert_deltas_sum_to(&server, &report);
    });
}

#[test]
fn stop_returns_on_time_while_a_request_is_in_flight() {
    let server = FakeServer::start();
    server.set(|b| b.delay = Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let t = api_tracker(&server.url(), dir.path(), "api_timeout_s=0.5");
    t.start().unwrap();
    let before = Instant::now();
    let report = t.stop().unwrap_err();
    let took = before.elapsed();
    assert!(took < Duration::from_millis(1500), "stop took {took:?}");
    assert_eq!(report.errors().len(), 1, "{report:?}");
    assert!(report.errors()[0].message.contains("not delivered"));
}

#[test]
fn monitoring_labels_and_attributes_carry_the_location_once_it_is_found() {
    let geojs = r#"{"region":"Bavaria","country_code3":"DEU","country":"Germany","country_code":"DE","latitude":"48.1","longitude":"11.6"}"#;
    let server = geo_server(Some(geojs), None, None);
    server.set(|b| b.delay = Duration::from_millis(700)); // found after the first flush
    let monitoring = FakeServer::start(); // the Pushgateway and the OTLP collector
    let dir = tempfile::tempdir().unwrap();
    let m = monitoring.url();
    let t = located_tracker(&server, dir.path(), &format!("save_to_prometheus=true;prometheus_url={m};save_to_otlp=true;otlp_endpoint={m};prometheus_delete_on_stop=false"));
    t.start().unwrap();
    t.flush().unwrap();
    wait_for_lookup(&t);
    std::thread::sleep(Duration::from_millis(60));
    t.flush().unwrap();
    t.stop().unwrap();
    let requests = monitoring.requests();
    let pushes: Vec<&str> = requests.iter().filter(|r| r.method == "PUT").map(|r| r.raw_body.as_str()).collect();
    let otlp: Vec<&serde_json::Value> = requests.iter().filter(|r| r.path == "/v1/metrics").map(|r| &r.body).collect();
    assert_eq!((pushes.len(), otlp.len()), (3, 3), "{:?}", monitoring.paths());
    let attribute = |body: &serde_json::Value, key: &str| {
        body["resourceMetrics"][0]["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"]["stringValue"].clone())
    };
    // Before the lookup: the world average, no country; after: the country, as the CSV says.
    assert!(pushes[0].contains("country_iso_code=\"\""), "{}", pushes[0]);
    assert_eq!(attribute(otlp[0], "codecarbon.country_iso_code"), None);
    for (push, body) in pushes[1..].iter().zip(&otlp[1..]) {
        assert!(
            push.contains("country_iso_code=\"DEU\"")
                && push.contains("country_name=\"Germany\"")
                && push.contains("region=\"bavaria\""),
            "{push}"
        );
        assert_eq!(attribute(body, "codecarbon.country_iso_code"), Some(serde_json::json!("DEU")));
        assert_eq!(attribute(body, "codecarbon.country_name"), Some(serde_json::json!("Germany")));
    }
    let rows = csv_rows(dir.path());
    assert_eq!((rows[0]["country_iso_code"].as_str(), rows[2]["country_iso_code"].as_str()), ("", "DEU"));
    assert_eq!(rows[2]["region"], "bavaria");
}

#[test]
fn geo_is_looked_up_once_per_process_and_never_blocks_start() {
    let geojs = r#"{"region":"","country_code3":"DEU","country":"Germany","country_code":"DE","latitude":"52.5","longitude":"13.4"}"#;
    let server = geo_server(Some(geojs), None, None);
    server.set(|b| b.delay = Duration::from_millis(1500)); // slow geo and metadata services
    let dir = tempfile::tempdir().unwrap();
    let first = located_tracker(&server, dir.path(), "");
    let before = Instant::now();
    first.start().unwrap();
    let start_took = before.elapsed();
    assert!(start_took < Duration::from_millis(500), "start waited for the network: {start_took:?}");
    let second = located_tracker(&server, dir.path(), "");
    second.start().unwrap();
    wait_for_lookup(&first);
    let lookup_took = before.elapsed();
    // Geo (1.5 s) and the three metadata probes (1 s timeout each, in parallel) overlap.
    assert!(lookup_took < Duration::from_millis(2500), "lookup took {lookup_took:?}");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(first.stop().unwrap().carbon_intensity_g_per_kwh, 380.95);
    assert_eq!(second.stop().unwrap().carbon_intensity_g_per_kwh, 380.95);
    let geo_calls = server.paths().iter().filter(|p| *p == "GET /geo").count();
    assert_eq!(geo_calls, 1, "{:?}", server.paths());
    eprintln!("slow geo (1.5 s): start {start_took:?}, lookup done after {lookup_took:?}");
}

#[test]
fn restart_after_stop_resumes_the_run_and_its_api_uploads() {
    support::in_own_process(module_path!(), "restart_after_stop_resumes_the_run_and_its_api_uploads", || {
        // CodeCarbon's start after stop measures again; with restart_after_stop the run goes on:
        // same run, one API run, deltas that sum to the final totals, the stopped time not counted.
        let server = FakeServer::start();
        let dir = tempfile::tempdir().unwrap();
        let t = api_tracker(&server.url(), dir.path(), "restart_after_stop=true");
        let first = flush_once_then_stop(&t).unwrap();
        work_for(Duration::from_millis(500)); // stopped: not measured
        t.start().unwrap();
        work_for(Duration::from_millis(1100));
        let s = t.stop().unwrap();
        assert!(s.energy_consumed_kwh > first.energy_consumed_kwh && s.emissions_kg > first.emissions_kg);
        // RAM at a forced 10 W: its energy is 10 W over the measured time, the two windows.
        let ram_s = s.ram_energy_kwh * 3.6e6 / 10.0;
        assert!((ram_s - s.duration_s).abs() < 0.05, "RAM {ram_s} s vs duration {} s", s.duration_s);
        assert!(
            s.duration_s > first.duration_s + 1.0 && s.duration_s < first.duration_s + 1.45,
            "{} then {}",
            first.duration_s,
            s.duration_s
        );
        assert_eq!(server.paths().iter().filter(|p| *p == "POST /runs").count(), 1, "{:?}", server.paths());
        assert_deltas_sum_to(&server, &s);
        let rows = csv_rows(dir.path());
        assert_eq!(rows.len(), 3, "flush, stop, stop");
        assert!(rows.iter().all(|r| r["run_id"] == t.run_id()));
        assert_eq!(rows[2]["energy_consumed"].parse::<f64>().unwrap(), s.energy_consumed_kwh);
        // Without the option, start after stop stays an error.
        let strict = api_tracker(&server.url(), dir.path(), "save_to_api=false");
        strict.start().unwrap();
        strict.stop().unwrap();
        assert_eq!(strict.start().unwrap_err().kind, ErrorKind::InvalidState);
    });
}

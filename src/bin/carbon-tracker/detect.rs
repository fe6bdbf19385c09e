//! `carbon-tracker detect`: what the library detects and which source or model gives each
//! number, from `Tracker::describe()` (the same document as `ct_tracker_json`).
//!
//! The carbon intensity is only resolved when a tracker starts, so a second tracker with every
//! output off is started and stopped to read it; nothing is written or sent. When the location
//! must be looked up on the network, that lookup is waited for (at most 6 s), and its failure is
//! shown (`intensity.location_lookup_error`). `run_id` and `state` are left out (no run happens).

use carbon_tracker::{LocationLookup, Tracker};
use serde_json::Value;

use crate::format;
use crate::lib_options::LibOptions;

pub fn run(mut lib: LibOptions, json: bool) -> i32 {
    lib.apply_cli_defaults(false);
    let doc = match describe(&lib) {
        Ok(d) => d,
        Err(e) => {
            say!("carbon-tracker: {e}");
            return 2;
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&doc).expect("a JSON value serializes"));
    } else {
        print!("{}", text(&doc));
    }
    0
}

fn describe(lib: &LibOptions) -> Result<Value, carbon_tracker::Error> {
    let configured = Tracker::new(lib.to_options())?;
    let mut doc = configured.describe();
    let mut quiet = lib.clone();
    for (k, v) in [("save_to_file", "false"), ("save_to_api", "false"), ("emissions_endpoint", "")] {
        quiet.push(k, v);
    }
    let probe = Tracker::new(quiet.to_options())?;
    probe.start()?;
    // The network lookup of the location runs in the background (2 s timeouts per service): wait
    // for it rather than print the world average that applies only until then.
    let lookup_failed = match probe.wait_for_location(std::time::Duration::from_secs(6)) {
        LocationLookup::Failed(why) => Some(why),
        LocationLookup::Pending => Some("no answer within 6 s".to_string()),
        _ => None,
    };
    let running = probe.describe();
    let _ = probe.stop();
    doc["intensity"] = running["intensity"].clone();
    if let Some(why) = lookup_failed {
        doc["intensity"]["location_lookup_error"] = why.into();
    }
    // A tracker that never runs: its run_id and state mean nothing here.
    if let Some(o) = doc.as_object_mut() {
        o.remove("run_id");
        o.remove("state");
    }
    Ok(doc)
}

/// A JSON number as written by hand: 65 for 65.0, 8.04, 0.000123.
fn n(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => format::sig3(x),
        None => "?".into(),
    }
}

fn text(d: &Value) -> String {
    let s = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| "?".into());
    let mut out = format!(
        "carbon-tracker {}  ({}; tracking_mode={}, measure_power_secs={})\n\n",
        s(&d["version"]),
        s(&d["os"]),
        s(&d["tracking_mode"]),
        n(&d["measure_power_secs"])
    );
    out += &cpu_text(&d["cpu"]);
    let ram = &d["ram"];
    out += &format!(
        "RAM        {:.2} GiB, {} W  (source: {})\n",
        ram["total_gib"].as_f64().unwrap_or(0.0),
        n(&ram["power_w"]),
        s(&ram["source"])
    );
    let gpus = d["gpus"].as_array().cloned().unwrap_or_default();
    if gpus.is_empty() {
        out += "GPU        none (no NVIDIA GPU through NVML)\n";
    }
    for g in &gpus {
        out += &format!("GPU {}      {} ({})  source: {}\n", g["index"], s(&g["name"]), s(&g["uuid"]), s(&g["source"]));
    }
    let i = &d["intensity"];
    if i.is_object() {
        let place: Vec<String> = ["country_name", "country_iso_code", "region", "cloud_provider", "cloud_region"]
            .iter()
            .filter_map(|k| i[*k].as_str().map(str::to_string))
            .collect();
        out += &format!(
            "Intensity  {} gCO2e/kWh  (source: {}; location: {})\n",
            n(&i["g_per_kwh"]),
            s(&i["source"]),
            if place.is_empty() { "unknown".into() } else { place.join(", ") }
        );
        if let Some(why) = i["location_lookup_error"].as_str() {
            out +=
                &format!("           the location lookup failed: {why}; give --country-iso-code (or a cloud region)\n");
        }
    }
    let o = &d["outputs"];
    let mut outputs = Vec::new();
    if let Some(c) = o["csv"].as_str() {
        outputs.push(format!("csv {c}"));
    }
    if let Some(a) = o["api"].as_str() {
        outputs.push(format!("api {a}"));
    }
    if let Some(e) = o["emissions_endpoint"].as_str() {
        outputs.push(format!("endpoint {e}"));
    }
    out += &format!("Outputs    {}\n", if outputs.is_empty() { "none".into() } else { outputs.join(", ") });
    out += "\nHow each number is obtained:\n";
    for m in d["methods"].as_array().into_iter().flatten() {
        out += &format!("  - {}\n", s(m));
    }
    out
}
/// The CPU lines of [`text`]: model, threads, sockets, the power source and the TDP match.
fn cpu_text(cpu: &Value) -> String {
    let s = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| "?".into());
    let mut out =
        format!("CPU        {}, {} thread(s), {} socket(s)\n", s(&cpu["model_name"]), cpu["threads"], cpu["sockets"]);
    let src = &cpu["source"];
    out += &match s(&src["model"]).as_str() {
        "intel_rapl" => {
            let zones: Vec<String> = src["zones"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|z| format!("{} ({})", s(&z["name"]), s(&z["path"])))
                .collect();
            format!("           source: RAPL energy counters: {}\n", zones.join(", "))
        }
        m => format!("           source: {m} model, TDP {} W: {}\n", n(&src["tdp_w"]), s(&src["formula"])),
    };
    match cpu["tdp_match"].as_object() {
        Some(m) => {
            out +=
                &format!("           TDP table match: {} ({} W)\n", m["name"].as_str().unwrap_or("?"), n(&m["tdp_w"]))
        }
        None => out += "           TDP table match: none\n",
    }
    out
}

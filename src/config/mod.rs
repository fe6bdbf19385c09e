//! Configuration: CodeCarbon's keys, resolved with its precedence (spec 1.1):
//! options string > `CODECARBON_*` environment > `./.codecarbon.config` > `~/.codecarbon.config` > defaults.
//!
//! Resolving reads the two config files and the environment, nothing else (no probing).

mod ini;
pub mod options;
mod values;

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::log::{Level, Logger};
use values::*;

pub const DEFAULT_EXPERIMENT_ID: &str = "5b0fa12a-3dd7-45bb-9766-cc326314d9f1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvWriteMode {
    /// A row per flush/stop.
    Append,
    /// The row of this run is replaced in place.
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackingMode {
    /// The whole machine's CPU, GPU and RAM.
    Machine,
    /// This process and its descendants: their share of CPU time and memory.
    Process,
}

impl TrackingMode {
    pub fn name(self) -> &'static str {
        match self {
            TrackingMode::Machine => "machine",
            TrackingMode::Process => "process",
        }
    }
}

/// A value that must never reach a log line, a CSV or a `Debug` print (the API key).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

pub const DEFAULT_API_ENDPOINT: &str = "https://api.codecarbon.io";
pub const DEFAULT_GEO_API_URL: &str = "https://get.geojs.io/v1/ip/geo.json";
pub const DEFAULT_GEO_BACKUP_API_URL: &str = "https://ipinfo.io/json";
pub const DEFAULT_CLOUD_METADATA_URL: &str = "http://169.254.169.254";
pub const DEFAULT_ELECTRICITYMAPS_API_URL: &str = "https://api.electricitymaps.com/v3/carbon-intensity/latest";

/// The resolved configuration of one tracker.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub project_name: String,
    pub experiment_id: String,
    pub experiment_name: String,
    pub output_dir: PathBuf,
    pub output_file: String,
    pub save_to_file: bool,
    pub on_csv_write: CsvWriteMode,
    pub measure_power_secs: f64,
    pub country_iso_code: Option<String>,
    pub country_2letter_iso_code: Option<String>,
    pub region: Option<String>,
    pub cloud_provider: Option<String>,
    pub cloud_region: Option<String>,
    pub force_cpu_power_w: Option<f64>,
    pub force_ram_power_w: Option<f64>,
    pub force_carbon_intensity_g_per_kwh: Option<f64>,
    pub force_mode_cpu_load: bool,
    pub pue: f64,
    pub wue_l_per_kwh: f64,
    pub tracking_mode: TrackingMode,
    pub logger: Logger,
    pub rapl_dir: PathBuf,
    pub rapl_include_dram: bool,
    pub rapl_prefer_psys: bool,
    pub offline: bool,
    /// Upload to the CodeCarbon API (`save_to_api`, or `api` in `output_methods`).
    pub save_to_api: bool,
    pub api_endpoint: String,
    pub api_key: Option<Secret>,
    /// Upload every N background measurements; -1: only on flush/stop.
    pub api_call_interval: i64,
    /// How long `stop` waits for pending uploads.
    pub api_timeout_s: f64,
    /// CodeCarbon's HTTPOutput: POST of the totals on flush/stop.
    pub emissions_endpoint: Option<String>,
    /// Probe the AWS/Azure/GCP metadata services when the location is not given.
    pub cloud_detection: bool,
    pub geo_api_url: String,
    pub geo_backup_api_url: String,
    pub cloud_metadata_url: String,
    pub electricitymaps_api_token: Option<Secret>,
    pub electricitymaps_api_url: String,
    /// GPUs to track: NVML indices or UUID prefixes; `None`: `CUDA_VISIBLE_DEVICES`, else all.
    pub gpu_ids: Option<Vec<String>>,
    /// Things worth a log line once the tracker has its logger (e.g. ignored keys in a file).
    pub notes: Vec<(Level, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            project_name: "codecarbon".into(),
            experiment_id: DEFAULT_EXPERIMENT_ID.into(),
            experiment_name: "base".into(),
            output_dir: PathBuf::from("."),
            output_file: "emissions.csv".into(),
            save_to_file: true,
            on_csv_write: CsvWriteMode::Append,
            measure_power_secs: 15.0,
            country_iso_code: None,
            country_2letter_iso_code: None,
            region: None,
            cloud_provider: None,
            cloud_region: None,
            force_cpu_power_w: None,
            force_ram_power_w: None,
            force_carbon_intensity_g_per_kwh: None,
            force_mode_cpu_load: false,
            pue: 1.0,
            wue_l_per_kwh: 0.0,
            tracking_mode: TrackingMode::Machine,
            logger: Logger::default(),
            rapl_dir: PathBuf::from("/sys/class/powercap"),
            rapl_include_dram: false,
            rapl_prefer_psys: false,
            offline: false,
            save_to_api: false,
            api_endpoint: DEFAULT_API_ENDPOINT.into(),
            api_key: None,
            api_call_interval: 8,
            api_timeout_s: 5.0,
            emissions_endpoint: None,
            cloud_detection: true,
            geo_api_url: DEFAULT_GEO_API_URL.into(),
            geo_backup_api_url: DEFAULT_GEO_BACKUP_API_URL.into(),
            cloud_metadata_url: DEFAULT_CLOUD_METADATA_URL.into(),
            electricitymaps_api_token: None,
            electricitymaps_api_url: DEFAULT_ELECTRICITYMAPS_API_URL.into(),
            gpu_ids: None,
            notes: Vec::new(),
        }
    }
}

/// Every key this version implements, for messages and docs.
pub const KEYS: &[&str] = &[
    "project_name",
    "experiment_id",
    "experiment_name",
    "output_dir",
    "output_file",
    "save_to_file",
    "on_csv_write",
    "measure_power_secs",
    "country_iso_code",
    "country_2letter_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "force_cpu_power",
    "force_ram_power",
    "force_carbon_intensity_g_co2e_kwh",
    "force_mode_cpu_load",
    "pue",
    "wue",
    "tracking_mode",
    "log_level",
    "logger_preamble",
    "rapl_dir",
    "rapl_include_dram",
    "rapl_prefer_psys",
    "offline",
    "save_to_api",
    "output_methods",
    "api_endpoint",
    "api_key",
    "api_call_interval",
    "api_timeout_s",
    "emissions_endpoint",
    "cloud_detection",
    "geo_api_url",
    "geo_backup_api_url",
    "cloud_metadata_url",
    "electricitymaps_api_token",
    "co2_signal_api_token",
    "electricitymaps_api_url",
    "gpu_ids",
];

/// CodeCarbon keys this version knows but does not implement yet: an error in the options
/// string (so nobody believes they work), a warning when they come from a file or the environment.
pub const NOT_YET_IMPLEMENTED: &[&str] = &[
    "save_to_logger",
    "save_to_prometheus",
    "save_to_logfire",
    "prometheus_url",
    "allow_multiple_runs",
];

/// Where a key=value came from; lower sources are applied first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    HomeFile(PathBuf),
    CwdFile(PathBuf),
    Env,
    Options,
}

impl Origin {
    fn prefix(&self, key: &str) -> String {
        match self {
            Origin::HomeFile(p) | Origin::CwdFile(p) => format!("{} [codecarbon] ", p.display()),
            Origin::Env => format!("environment CODECARBON_{}: ", key.to_ascii_uppercase()),
            Origin::Options => "options: ".into(),
        }
    }
}

/// All the raw inputs of a resolution, so tests can supply their own.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// In precedence order, lowest first.
    pub layers: Vec<(Origin, Vec<(String, String)>)>,
}

impl Sources {
    /// The real sources of this process: `~/.codecarbon.config`, `./.codecarbon.config`,
    /// the `CODECARBON_*` environment and the options string.
    pub fn from_process(options: Option<&str>) -> Result<Sources> {
        let mut layers = Vec::new();
        if let Some(home) = std::env::var_os("HOME") {
            let p = PathBuf::from(home).join(".codecarbon.config");
            if let Some(pairs) = read_config_file(&p)? {
                layers.push((Origin::HomeFile(p), pairs));
            }
        }
        let p = PathBuf::from(".codecarbon.config");
        if let Some(pairs) = read_config_file(&p)? {
            layers.push((Origin::CwdFile(p), pairs));
        }
        layers.push((Origin::Env, env_pairs(std::env::vars_os())));
        layers.push((Origin::Options, options::parse(options.unwrap_or(""))?));
        Ok(Sources { layers })
    }
}

/// `CODECARBON_X=v` → `("x", v)` for every variable whose lower-cased name starts with `codecarbon_`.
pub fn env_pairs(vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in vars {
        let (Some(k), Some(v)) = (k.to_str(), v.to_str()) else { continue };
        let lower = k.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("codecarbon_") {
            if !rest.is_empty() {
                out.push((rest.to_string(), v.to_string()));
            }
        }
    }
    out.sort();
    out
}

/// The `[codecarbon]` section of an ini file, keys lower-cased; `None` if the file is absent.
pub fn read_config_file(path: &std::path::Path) -> Result<Option<Vec<(String, String)>>> {
    let text = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::option(format!("cannot read config file {}: {e}", path.display()))),
    };
    let text = String::from_utf8(text)
        .map_err(|_| Error::option(format!("config file {} is not valid UTF-8", path.display())))?;
    parse_config_text(&text).map(Some).map_err(|m| Error::option(format!("config file {}: {m}", path.display())))
}

fn parse_config_text(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    ini::section(text, "codecarbon")
}

impl Config {
    /// Resolve from this process's files, environment and `options`.
    pub fn resolve(options: Option<&str>) -> Result<Config> {
        Config::from_sources(&Sources::from_process(options)?)
    }

    pub fn from_sources(sources: &Sources) -> Result<Config> {
        // Only the value from the highest layer is parsed, so a bad value in a lower layer that
        // is overridden (say in ~/.codecarbon.config) does not fail the tracker.
        let mut winners: std::collections::BTreeMap<&str, (&Origin, &str)> = std::collections::BTreeMap::new();
        for (origin, pairs) in &sources.layers {
            for (key, value) in pairs {
                winners.insert(key.as_str(), (origin, value.as_str()));
            }
        }
        let mut c = Config::default();
        for (key, (origin, value)) in winners {
            c.apply(origin, key, value)?;
        }
        c.check()?;
        Ok(c)
    }

    fn apply(&mut self, origin: &Origin, key: &str, v: &str) -> Result<()> {
        let o = origin.prefix(key);
        let o = o.as_str();
        let opt_str = |v: &str| if v.trim().is_empty() { None } else { Some(v.trim().to_string()) };
        let opt_f64 = |min: f64, excl: bool| -> Result<Option<f64>> {
            if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("none") {
                Ok(None)
            } else {
                parse_f64(o, key, v, min, excl).map(Some)
            }
        };
        match key {
            "project_name" => self.project_name = v.to_string(),
            "experiment_id" => self.experiment_id = v.trim().to_string(),
            "experiment_name" => self.experiment_name = v.to_string(),
            "output_dir" => self.output_dir = PathBuf::from(non_empty(o, key, v)?),
            "output_file" => {
                let f = non_empty(o, key, v)?;
                if f.contains('/') {
                    return Err(Error::option(format!("{o}{key}={v}: expected a file name; put the directory in output_dir")));
                }
                self.output_file = f;
            }
            "save_to_file" => self.save_to_file = parse_bool(o, key, v)?,
            "on_csv_write" => {
                self.on_csv_write = match parse_choice(o, key, v, &["append", "update"])? {
                    "append" => CsvWriteMode::Append,
                    _ => CsvWriteMode::Update,
                }
            }
            "measure_power_secs" => {
                let s = parse_f64(o, key, v, 0.0, true)?;
                if !(0.01..=86_400.0).contains(&s) {
                    return Err(Error::option(format!("{o}{key}={v}: expected 0.01 to 86400 seconds")));
                }
                self.measure_power_secs = s;
            }
            "country_iso_code" => {
                self.country_iso_code = match opt_str(v) {
                    None => None,
                    Some(s) => Some(parse_iso3(o, key, &s)?),
                }
            }
            "country_2letter_iso_code" => {
                self.country_2letter_iso_code = match opt_str(v) {
                    None => None,
                    Some(s) => Some(parse_iso2(o, key, &s)?),
                }
            }
            "region" => self.region = opt_str(v).map(|s| s.to_lowercase()),
            "cloud_provider" => self.cloud_provider = opt_str(v).map(|s| s.to_ascii_lowercase()),
            "cloud_region" => self.cloud_region = opt_str(v).map(|s| s.to_ascii_lowercase()),
            "force_cpu_power" => self.force_cpu_power_w = opt_f64(0.0, true)?,
            "force_ram_power" => self.force_ram_power_w = opt_f64(0.0, false)?,
            "force_carbon_intensity_g_co2e_kwh" => self.force_carbon_intensity_g_per_kwh = opt_f64(0.0, false)?,
            "force_mode_cpu_load" => self.force_mode_cpu_load = parse_bool(o, key, v)?,
            "pue" => self.pue = parse_f64(o, key, v, 0.0, true)?,
            "wue" => self.wue_l_per_kwh = parse_f64(o, key, v, 0.0, false)?,
            "tracking_mode" => {
                self.tracking_mode = match parse_choice(o, key, v, &["machine", "process"])? {
                    "process" => TrackingMode::Process,
                    _ => TrackingMode::Machine,
                }
            }
            "log_level" => {
                self.logger.threshold = Level::parse(v).ok_or_else(|| {
                    Error::option(format!("{o}{key}={v}: expected one of debug, info, warning, error, critical"))
                })?
            }
            "logger_preamble" => self.logger.preamble = v.to_string(),
            "rapl_dir" => self.rapl_dir = PathBuf::from(non_empty(o, key, v)?),
            "rapl_include_dram" => self.rapl_include_dram = parse_bool(o, key, v)?,
            "rapl_prefer_psys" => self.rapl_prefer_psys = parse_bool(o, key, v)?,
            "offline" => self.offline = parse_bool(o, key, v)?,
            "save_to_api" => self.save_to_api = parse_bool(o, key, v)?,
            "output_methods" => {
                // CodeCarbon: when given, it replaces the save_to_* switches.
                let mut file = false;
                let mut api = false;
                for m in v.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                    match m.to_ascii_lowercase().as_str() {
                        "csv" | "file" => file = true,
                        "api" => api = true,
                        "logger" | "prometheus" | "logfire" | "boamps" => {
                            return Err(Error::option(format!(
                                "{o}{key}={v}: output method `{m}` is not implemented in this version (csv and api are)"
                            )))
                        }
                        _ => return Err(Error::option(format!("{o}{key}={v}: unknown output method `{m}`; expected csv, api"))),
                    }
                }
                self.save_to_file = file;
                self.save_to_api = api;
            }
            "api_endpoint" => self.api_endpoint = parse_url(o, key, v)?,
            "api_key" => self.api_key = opt_str(v).map(Secret),
            "api_call_interval" => {
                let n: i64 = v.trim().parse().map_err(|_| Error::option(format!("{o}{key}={v}: expected an integer")))?;
                if n != -1 && n < 1 {
                    return Err(Error::option(format!("{o}{key}={v}: expected -1 (only on flush/stop) or a count >= 1")));
                }
                self.api_call_interval = n;
            }
            "api_timeout_s" => self.api_timeout_s = parse_f64(o, key, v, 0.0, false)?,
            "emissions_endpoint" => {
                self.emissions_endpoint = match opt_str(v) {
                    None => None,
                    Some(u) => Some(parse_url(o, key, &u)?),
                }
            }
            "cloud_detection" => self.cloud_detection = parse_bool(o, key, v)?,
            "geo_api_url" => self.geo_api_url = parse_url(o, key, v)?,
            "geo_backup_api_url" => self.geo_backup_api_url = parse_url(o, key, v)?,
            "cloud_metadata_url" => self.cloud_metadata_url = parse_url(o, key, v)?,
            "electricitymaps_api_token" | "co2_signal_api_token" => self.electricitymaps_api_token = opt_str(v).map(Secret),
            "electricitymaps_api_url" => self.electricitymaps_api_url = parse_url(o, key, v)?,
            "gpu_ids" => self.gpu_ids = Some(crate::hardware::gpu::parse_ids(v)),
            _ if NOT_YET_IMPLEMENTED.contains(&key) => {
                let msg = format!("{o}{key}: this CodeCarbon option is not implemented in this version of carbon-tracker");
                if *origin == Origin::Options {
                    return Err(Error::option(msg));
                }
                self.notes.push((Level::Warning, format!("{msg}; ignored")));
            }
            _ => {
                if *origin == Origin::Options {
                    return Err(Error::option(format!(
                        "{o}unknown option `{key}`; known options: {}",
                        KEYS.join(", ")
                    )));
                }
                // Files and the environment may hold keys of other CodeCarbon versions.
                self.notes.push((Level::Debug, format!("{o}unknown key `{key}` ignored")));
            }
        }
        Ok(())
    }

    /// Checks across keys, after all layers are applied.
    fn check(&self) -> Result<()> {
        if self.cloud_region.is_some() != self.cloud_provider.is_some() {
            return Err(Error::option("cloud_provider and cloud_region must be given together"));
        }
        if self.offline {
            let online: Vec<&str> = [
                (self.save_to_api, "save_to_api (or api in output_methods)"),
                (self.emissions_endpoint.is_some(), "emissions_endpoint"),
                (self.electricitymaps_api_token.is_some(), "electricitymaps_api_token"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .collect();
            if !online.is_empty() {
                return Err(Error::option(format!(
                    "offline=true makes no network call, but {} asks for one; drop it or set offline=false",
                    online.join(" and ")
                )));
            }
        }
        Ok(())
    }

    /// Whether the location must be looked up on the network (geo and cloud detection): only
    /// online, and only when neither a country, a cloud region nor an intensity is given.
    pub fn needs_location_lookup(&self) -> bool {
        !self.offline
            && self.force_carbon_intensity_g_per_kwh.is_none()
            && self.country_iso_code.is_none()
            && self.cloud_provider.is_none()
    }

    /// The CSV file this tracker writes.
    pub fn output_path(&self) -> PathBuf {
        self.output_dir.join(&self.output_file)
    }
}

/// An http(s) URL without its trailing `/`.
fn parse_url(o: &str, key: &str, v: &str) -> Result<String> {
    let t = v.trim();
    if !(t.starts_with("http://") || t.starts_with("https://")) || t.len() < 10 {
        return Err(Error::option(format!("{o}{key}={v}: expected an http:// or https:// URL")));
    }
    Ok(t.trim_end_matches('/').to_string())
}

fn non_empty(o: &str, key: &str, v: &str) -> Result<String> {
    let t = v.trim();
    if t.is_empty() {
        Err(Error::option(format!("{o}{key}: expected a non-empty value")))
    } else {
        Ok(t.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn sources(home: &[(&str, &str)], cwd: &[(&str, &str)], env: &[(&str, &str)], opts: &str) -> Sources {
        Sources {
            layers: vec![
                (Origin::HomeFile("/home/u/.codecarbon.config".into()), pairs(home)),
                (Origin::CwdFile(".codecarbon.config".into()), pairs(cwd)),
                (Origin::Env, pairs(env)),
                (Origin::Options, options::parse(opts).unwrap()),
            ],
        }
    }

    #[test]
    fn defaults_match_codecarbon() {
        let c = Config::from_sources(&Sources::default()).unwrap();
        assert_eq!(c.project_name, "codecarbon");
        assert_eq!(c.experiment_id, DEFAULT_EXPERIMENT_ID);
        assert_eq!(c.measure_power_secs, 15.0);
        assert_eq!(c.output_path(), PathBuf::from("./emissions.csv"));
        assert!(c.save_to_file);
        assert_eq!(c.on_csv_write, CsvWriteMode::Append);
        assert_eq!(c.pue, 1.0);
        assert_eq!(c.logger.threshold, Level::Warning);
    }

    #[test]
    fn precedence_options_env_cwd_home_default() {
        let home = [("project_name", "home"), ("pue", "1.1"), ("wue", "0.5"), ("measure_power_secs", "7")];
        let cwd = [("project_name", "cwd"), ("pue", "1.2"), ("wue", "0.6")];
        let env = [("project_name", "env"), ("pue", "1.3")];
        let c = Config::from_sources(&sources(&home, &cwd, &env, "project_name=opt")).unwrap();
        assert_eq!(c.project_name, "opt");
        assert_eq!(c.pue, 1.3);
        assert_eq!(c.wue_l_per_kwh, 0.6);
        assert_eq!(c.measure_power_secs, 7.0);
        assert_eq!(c.output_file, "emissions.csv");
    }

    #[test]
    fn env_prefix_is_case_insensitive_and_stripped() {
        let vars = vec![
            ("CODECARBON_PROJECT_NAME".into(), "x".into()),
            ("codecarbon_Log_Level".into(), "debug".into()),
            ("OTHER".into(), "y".into()),
        ];
        assert_eq!(env_pairs(vars.into_iter()), pairs(&[("log_level", "debug"), ("project_name", "x")]));
    }

    #[test]
    fn ini_section_and_keys() {
        let text = "[codecarbon]\nProject_Name = from file\nmeasure_power_secs: 3\n[other]\npue=9\n";
        assert_eq!(
            parse_config_text(text).unwrap(),
            pairs(&[("measure_power_secs", "3"), ("project_name", "from file")])
        );
        assert_eq!(parse_config_text("[other]\nx=1\n").unwrap(), vec![]);
    }

    #[test]
    fn overridden_bad_values_in_lower_layers_do_not_fail() {
        let c = Config::from_sources(&sources(&[("pue", "high")], &[], &[("measure_power_secs", "fast")], "measure_power_secs=1;pue=1.2"))
            .unwrap();
        assert_eq!((c.measure_power_secs, c.pue), (1.0, 1.2));
    }

    #[test]
    fn config_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".codecarbon.config");
        assert_eq!(read_config_file(&p).unwrap(), None);
        std::fs::write(&p, "[codecarbon]\noutput_dir = C:\\new\\dir\nproject_name = 'q'\n").unwrap();
        assert_eq!(
            read_config_file(&p).unwrap(),
            Some(pairs(&[("output_dir", "C:\\new\\dir"), ("project_name", "'q'")]))
        );
        std::fs::write(&p, "[codecarbon]\ncountry_iso_code=DEU\n").unwrap();
        assert_eq!(read_config_file(&p).unwrap(), Some(pairs(&[("country_iso_code", "DEU")])));
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(read_config_file(&p).unwrap_err().message.contains("UTF-8"));
    }

    #[test]
    fn unknown_key_in_options_is_an_error_naming_it() {
        let e = Config::from_sources(&sources(&[], &[], &[], "projet_name=x")).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidOption);
        assert!(e.message.contains("`projet_name`") && e.message.contains("project_name"), "{}", e.message);
    }

    #[test]
    fn unknown_key_in_env_or_file_is_noted_not_fatal() {
        let c = Config::from_sources(&sources(&[("some_future_key", "1")], &[], &[("save_to_logger", "1")], "")).unwrap();
        assert_eq!(c.notes.len(), 2);
    }

    #[test]
    fn not_yet_implemented_key_in_options_is_an_error() {
        let e = Config::from_sources(&sources(&[], &[], &[], "allow_multiple_runs=false")).unwrap_err();
        assert!(e.message.contains("not implemented"), "{}", e.message);
    }

    #[test]
    fn online_options() {
        let c = Config::from_sources(&sources(
            &[],
            &[],
            &[("api_key", "secret-token")],
            "output_methods=csv,api;api_endpoint=http://127.0.0.1:9/;api_call_interval=-1;api_timeout_s=0.5",
        ))
        .unwrap();
        assert!(c.save_to_api && c.save_to_file);
        assert_eq!(c.api_endpoint, "http://127.0.0.1:9");
        assert_eq!(c.api_call_interval, -1);
        assert!(!format!("{c:?}").contains("secret-token"), "the key must not show in Debug");
        let c = Config::from_sources(&sources(&[], &[], &[], "output_methods=api")).unwrap();
        assert!(c.save_to_api && !c.save_to_file);
        assert!(c.needs_location_lookup());
        for bad in ["api_call_interval=0", "api_endpoint=ftp://x", "output_methods=csv,carrier-pigeon", "output_methods=prometheus"] {
            assert!(Config::from_sources(&sources(&[], &[], &[], bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn offline_with_network_outputs_is_an_error() {
        let e = Config::from_sources(&sources(&[], &[], &[], "offline=true;save_to_api=true")).unwrap_err();
        assert!(e.message.contains("offline=true") && e.message.contains("save_to_api"), "{}", e.message);
        let c = Config::from_sources(&sources(&[], &[], &[], "offline=true")).unwrap();
        assert!(!c.needs_location_lookup());
        let c = Config::from_sources(&sources(&[], &[], &[], "country_iso_code=FRA;save_to_api=true")).unwrap();
        assert!(!c.needs_location_lookup());
    }

    #[test]
    fn bad_values_name_key_and_source() {
        let e = Config::from_sources(&sources(&[], &[], &[("measure_power_secs", "fast")], "")).unwrap_err();
        assert!(e.message.contains("CODECARBON_MEASURE_POWER_SECS") && e.message.contains("number"), "{}", e.message);
        for bad in [
            "measure_power_secs=0",
            "measure_power_secs=1e20",
            "pue=0",
            "wue=-1",
            "force_cpu_power=-5",
            "on_csv_write=overwrite",
            "country_iso_code=France",
            "tracking_mode=gpu",
            "log_level=loud",
            "save_to_file=perhaps",
            "output_file=a/b.csv",
            "cloud_provider=gcp",
        ] {
            let e = Config::from_sources(&sources(&[], &[], &[], bad)).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidOption, "{bad}");
            let key = bad.split('=').next().unwrap();
            assert!(e.message.contains(key), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn typed_values() {
        let c = Config::from_sources(&sources(
            &[],
            &[],
            &[],
            "country_iso_code=fra;region=SE2;force_cpu_power=65;force_ram_power=none;on_csv_write=UPDATE;\
             save_to_file=no;cloud_provider=GCP;cloud_region=europe-west1;log_level=error;rapl_include_dram=1",
        ))
        .unwrap();
        assert_eq!(c.country_iso_code.as_deref(), Some("FRA"));
        assert_eq!(c.region.as_deref(), Some("se2"));
        assert_eq!(c.force_cpu_power_w, Some(65.0));
        assert_eq!(c.force_ram_power_w, None);
        assert_eq!(c.on_csv_write, CsvWriteMode::Update);
        assert!(!c.save_to_file && c.rapl_include_dram);
        assert_eq!(c.cloud_provider.as_deref(), Some("gcp"));
        assert_eq!(c.logger.threshold, Level::Error);
    }
}

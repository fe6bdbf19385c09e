//! Configuration: CodeCarbon's keys, resolved with its precedence (docs/options.md):
//! options string > `CODECARBON_*` environment > `./.codecarbon.config` > `~/.codecarbon.config` > defaults.
//!
//! Resolving reads the two config files and the environment, nothing else (no probing).

mod builder;
mod ini;
mod keys;
mod kinds;
pub mod options;
mod suggest;
mod values;

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::log::{Level, Logger};

#[allow(unused_imports)] // some are for the tests (feature test-hooks)
pub use keys::{
    Config, DEFAULT_API_ENDPOINT, DEFAULT_CLOUD_METADATA_URL, DEFAULT_LOGFIRE_ENDPOINT, DEFAULT_ELECTRICITYMAPS_API_URL, DEFAULT_EXPERIMENT_ID,
    DEFAULT_GEO_API_URL, DEFAULT_GEO_BACKUP_API_URL, KEYS, KEY_TABLE, KeyInfo, default_text,
};
pub use builder::Options;
pub use kinds::{CsvWriteMode, GpuShare, OnInvalidValue, OutputMethods, Secret, TrackingMode, ValueKind};
pub use values::parse_gpu_ids;

/// Something worth a log line once the tracker has its logger (e.g. an ignored key in a file).
pub type Note = (Level, String);

/// CodeCarbon keys this version knows but does not implement yet: an error in the options
/// string (so nobody believes they work), a warning when they come from a file or the environment.
pub const NOT_YET_IMPLEMENTED: &[&str] = &[
    "allow_multiple_runs",
];

/// Characters no key can hold: the options string could not carry it (`=` ends a key, `;` a
/// pair, `\` escapes, NUL ends the C string). The bindings refuse such a key in these words
/// before building the string, since it would change the other options.
pub const KEY_FORBIDDEN_CHARS: &[char] = &['=', ';', '\\', '\0'];

/// The message for a key holding one of [`KEY_FORBIDDEN_CHARS`] (after `options: `); every
/// binding says the same.
pub fn invalid_key(key: &str) -> String {
    format!("invalid key `{}`: a key cannot contain `=`, `;`, `\\` or a NUL byte", key.replace('\0', "\\0"))
}

/// The message for a value holding a NUL byte (after `options: `), which the options string of
/// the C ABI cannot carry: the bindings refuse it in these words rather than cut the string there.
pub fn nul_in_value(key: &str) -> String {
    format!("{key}: a value cannot contain a NUL byte")
}

/// `unknown option `projet_name`; did you mean `project_name`?`: one line, the nearest keys only.
pub fn unknown_key(key: &str) -> String {
    if key.contains(KEY_FORBIDDEN_CHARS) {
        return invalid_key(key);
    }
    if key.is_empty() {
        return "an option has an empty key".into(); // the string form says which part
    }
    let max_distance = (key.chars().count() / 5).max(2);
    let near: Vec<String> = suggest::nearest(key, KEYS.iter().copied(), max_distance, 3).iter().map(|k| format!("`{k}`")).collect();
    if near.is_empty() {
        format!("unknown option `{key}` (the options are CodeCarbon's config keys: see docs/options.md)")
    } else {
        format!("unknown option `{key}`; did you mean {}?", suggest::or_list(&near))
    }
}

/// Where a key=value came from; lower sources are applied first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A program's own defaults (`Options::default_value`), below everything else.
    Defaults,
    HomeFile(PathBuf),
    CwdFile(PathBuf),
    Env,
    Options,
}

impl Origin {
    fn prefix(&self, key: &str) -> String {
        match self {
            Origin::Defaults => "defaults: ".into(),
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
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn from_process(options: Option<&str>) -> Result<Sources> {
        Sources::from_process_with_notes(&Options::parse(options.unwrap_or(""))?).map(|(s, _)| s)
    }

    /// The same, and what is worth telling about it: a config file that exists but cannot be
    /// read (a directory, no permission) is skipped, as Python's configparser (CodeCarbon's)
    /// skips it, with a warning. The options' defaults go below the files.
    pub fn from_process_with_notes(options: &Options) -> Result<(Sources, Vec<Note>)> {
        let mut layers = Vec::new();
        if !options.defaults().is_empty() {
            layers.push((Origin::Defaults, options.defaults().to_vec()));
        }
        let mut notes = Vec::new();
        let mut file = |p: PathBuf, origin: fn(PathBuf) -> Origin| -> Result<()> {
            match read_config_file(&p) {
                Ok(Some(pairs)) => layers.push((origin(p), pairs)),
                Ok(None) => {}
                Err(Unreadable(why)) => {
                    notes.push((Level::Warning, format!("cannot read config file {}: {why}; skipped", p.display())))
                }
                Err(Invalid(e)) => return Err(e),
            }
            Ok(())
        };
        if let Some(home) = std::env::var_os("HOME") {
            file(PathBuf::from(home).join(".codecarbon.config"), Origin::HomeFile)?;
        }
        file(PathBuf::from(".codecarbon.config"), Origin::CwdFile)?;
        layers.push((Origin::Env, env_pairs(std::env::vars_os())));
        layers.push((Origin::Options, options.pairs().to_vec()));
        Ok((Sources { layers }, notes))
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

/// Why a config file gives no keys.
#[derive(Debug)]
pub enum FileError {
    /// It exists but cannot be read (a directory, no permission): skipped, as configparser does.
    Unreadable(std::io::Error),
    /// It was read but is not UTF-8 or not an ini file: an error, as in CodeCarbon.
    Invalid(Error),
}
use FileError::{Invalid, Unreadable};

/// The `[codecarbon]` section of an ini file, keys lower-cased; `None` if the file is absent.
pub fn read_config_file(path: &std::path::Path) -> std::result::Result<Option<Vec<(String, String)>>, FileError> {
    let text = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Unreadable(e)),
    };
    let text = String::from_utf8(text)
        .map_err(|_| Invalid(Error::option(format!("config file {} is not valid UTF-8", path.display()))))?;
    parse_config_text(&text).map(Some).map_err(|m| Invalid(Error::option(format!("config file {}: {m}", path.display()))))
}

fn parse_config_text(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    ini::section(text, "codecarbon")
}

impl Config {
    /// [`Config::from_sources_with_notes`] without the notes (tests).
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn from_sources(sources: &Sources) -> Result<Config> {
        Config::from_sources_with_notes(sources).map(|(c, _)| c)
    }

    /// The configuration and what is worth telling about how it was resolved.
    pub fn from_sources_with_notes(sources: &Sources) -> Result<(Config, Vec<Note>)> {
        // Only the value from the highest layer is parsed, so a bad value in a lower layer that
        // is overridden (say in ~/.codecarbon.config) does not fail the tracker.
        let mut winners: std::collections::BTreeMap<&str, (&Origin, &str)> = std::collections::BTreeMap::new();
        for (origin, pairs) in &sources.layers {
            for (key, value) in pairs {
                winners.insert(key.as_str(), (origin, value.as_str()));
            }
        }
        let mut c = Config::default();
        let mut notes = Vec::new();
        // Decides what a bad value below does, so it is read first (its own bad value fails).
        if let Some((origin, value)) = winners.get("on_invalid_value") {
            c.apply_key(&origin.prefix("on_invalid_value"), "on_invalid_value", value).expect("a key of the table")?;
        }
        let mut ignored_country = None;
        for (key, (origin, value)) in winners {
            let o = origin.prefix(key);
            let applied = if value.contains('\0') && KEYS.contains(&key) {
                Some(Err(Error::option(format!("{o}{}", nul_in_value(key)))))
            } else {
                c.apply_key(&o, key, value)
            };
            match applied {
                Some(Err(e)) if c.on_invalid_value == OnInvalidValue::Ignore => {
                    notes.push((Level::Error, format!("{}; ignored (on_invalid_value=ignore): the default applies", e.message)));
                    if key == "country_iso_code" {
                        ignored_country = Some(value.trim().to_string());
                    }
                }
                Some(result) => {
                    result?;
                    if key == "pue" {
                        c.pue_written_as_integer = *origin == Origin::Options && value.trim().parse::<i64>().is_ok();
                    }
                }
                None if NOT_YET_IMPLEMENTED.contains(&key) => {
                    let msg = format!("{o}{key}: this CodeCarbon option is not implemented in this version of carbon-tracker");
                    if *origin == Origin::Options {
                        return Err(Error::option(msg));
                    }
                    notes.push((Level::Warning, format!("{msg}; ignored")));
                }
                None if matches!(origin, Origin::Options | Origin::Defaults) => return Err(Error::option(format!("{o}{}", unknown_key(key)))),
                // Files and the environment may hold keys of other CodeCarbon versions.
                None => notes.push((Level::Debug, format!("{o}unknown key `{key}` ignored"))),
            }
        }
        c.settle(&mut notes)?;
        if let Some(code) = ignored_country.filter(|_| !c.needs_location_lookup()) {
            // What applies instead, in CodeCarbon's words (on_invalid_value=ignore is its behaviour).
            notes.push((Level::Warning, format!("We do not have data for {code}, using world average.")));
        }
        Ok((c, notes))
    }

    /// Keys that depend on others, and checks across keys, after all layers are applied.
    fn settle(&mut self, notes: &mut Vec<Note>) -> Result<()> {
        if let Some(m) = self.output_methods {
            self.save_to_file = m.file;
            self.save_to_api = m.api;
            self.save_to_prometheus = m.prometheus;
            self.save_to_logger = m.logger;
            self.save_to_logfire = m.logfire;
            self.save_to_otlp = m.otlp;
        }
        if self.co2_signal_api_token.is_some() {
            notes.push((Level::Warning, "co2_signal_api_token is deprecated: use electricitymaps_api_token instead".into()));
            if self.electricitymaps_api_token.is_none() {
                self.electricitymaps_api_token = self.co2_signal_api_token.clone();
            }
        }
        if self.cloud_region.is_some() != self.cloud_provider.is_some() {
            let msg = "cloud_provider and cloud_region must be given together";
            if self.on_invalid_value == OnInvalidValue::Error {
                return Err(Error::option(msg));
            }
            notes.push((Level::Error, format!("{msg}; both ignored (on_invalid_value=ignore)")));
            (self.cloud_provider, self.cloud_region) = (None, None);
        }
        if self.offline {
            let online: Vec<&str> = [
                (self.save_to_api, "save_to_api (or api in output_methods)"),
                (self.emissions_endpoint.is_some(), "emissions_endpoint"),
                (self.save_to_prometheus, "save_to_prometheus (or prometheus in output_methods)"),
                (self.save_to_logfire || self.save_to_otlp, "an OpenTelemetry output (logfire or otlp)"),
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

    /// The logger its `log_level` and `logger_preamble` ask for.
    pub fn logger(&self) -> Logger {
        Logger { threshold: self.log_level, preamble: self.logger_preamble.clone() }
    }

    /// Whether the location must be looked up on the network (geo and cloud detection): only
    /// online and when asked to, and only when neither a country, a cloud region nor an
    /// intensity is given.
    pub fn needs_location_lookup(&self) -> bool {
        !self.offline
            && self.location_lookup
            && self.force_carbon_intensity_g_per_kwh.is_none()
            && self.country_iso_code.is_none()
            && self.cloud_provider.is_none()
    }

    /// The CSV file this tracker writes.
    pub fn output_path(&self) -> PathBuf {
        self.output_dir.join(&self.output_file)
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
        assert_eq!(c.log_level, Level::Warning);
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
        assert_eq!(c.output_file, PathBuf::from("emissions.csv"));
    }

    #[test]
    fn a_programs_defaults_are_below_every_source() {
        let with_defaults = |home: &[(&str, &str)], env: &[(&str, &str)], opts: &str| {
            let mut s = sources(home, &[], env, opts);
            s.layers.insert(0, (Origin::Defaults, pairs(&[("measure_power_secs", "1"), ("tracking_mode", "process")])));
            Config::from_sources(&s).unwrap()
        };
        let c = with_defaults(&[], &[], "");
        assert_eq!((c.measure_power_secs, c.tracking_mode), (1.0, TrackingMode::Process));
        let c = with_defaults(&[("measure_power_secs", "7")], &[("tracking_mode", "machine")], "");
        assert_eq!((c.measure_power_secs, c.tracking_mode), (7.0, TrackingMode::Machine), "a file and the environment win");
        let c = with_defaults(&[], &[], "measure_power_secs=3");
        assert_eq!(c.measure_power_secs, 3.0, "the options win");
        // The process's sources put them first; a bad or unknown default is an error, as an option's.
        let (process, _) = Sources::from_process_with_notes(&Options::new().default_value("project_name", "d")).unwrap();
        assert_eq!(process.layers[0], (Origin::Defaults, pairs(&[("project_name", "d")])));
        let mut bad = Sources::default();
        bad.layers.push((Origin::Defaults, pairs(&[("projet_name", "d")])));
        assert_eq!(Config::from_sources(&bad).unwrap_err().message, "defaults: unknown option `projet_name`; did you mean `project_name`?");
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
        assert!(matches!(read_config_file(&p), Err(Invalid(e)) if e.message.contains("UTF-8")));
        // A directory cannot be read: skipped (configparser's rule), not an error.
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        assert!(matches!(read_config_file(&p), Err(Unreadable(_))));
    }

    #[test]
    fn output_file_is_a_path_joined_to_output_dir() {
        let path = |opts: &str| Config::from_sources(&sources(&[], &[], &[], opts)).unwrap().output_path();
        assert_eq!(path("output_dir=/data;output_file=run.csv"), PathBuf::from("/data/run.csv"));
        assert_eq!(path("output_dir=/data;output_file=sub/run.csv"), PathBuf::from("/data/sub/run.csv"));
        assert_eq!(path("output_dir=/data;output_file=/abs/run.csv"), PathBuf::from("/abs/run.csv"));
        assert_eq!(path("output_file=../up.csv"), PathBuf::from("./../up.csv"));
    }

    #[test]
    fn unknown_key_in_options_is_an_error_naming_it_and_the_nearest_keys() {
        let e = Config::from_sources(&sources(&[], &[], &[], "projet_name=x")).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidOption);
        assert_eq!(e.message, "options: unknown option `projet_name`; did you mean `project_name`?");
        let e = Config::from_sources(&sources(&[], &[], &[], "measure_power_sec=1")).unwrap_err();
        assert_eq!(e.message, "options: unknown option `measure_power_sec`; did you mean `measure_power_secs`?");
        let e = Config::from_sources(&sources(&[], &[], &[], "colour=blue")).unwrap_err();
        assert!(e.message.starts_with("options: unknown option `colour` (") && !e.message.contains("project_name"), "{}", e.message);
        // One line, short: never the list of every key.
        for key in ["x", "save_to_fil", "country", "force_cpu_power_w", "a_very_long_option_name_that_matches_nothing"] {
            let m = unknown_key(key);
            assert!(m.len() < 160 && !m.contains('\n'), "{m}");
        }
    }

    #[test]
    fn unknown_key_in_env_or_file_is_noted_not_fatal() {
        let (_, notes) = Config::from_sources_with_notes(&sources(&[("some_future_key", "1")], &[], &[("allow_multiple_runs", "1")], "")).unwrap();
        assert_eq!(notes.len(), 2);
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
        for bad in ["api_call_interval=0", "api_endpoint=ftp://x", "output_methods=csv,carrier-pigeon", "output_methods=boamps", "prometheus_url=http://", "otlp_endpoint=localhost:4318"] {
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
        // No lookup, but the network stays usable (CodeCarbon's offline tracker with an upload).
        let c = Config::from_sources(&sources(&[], &[], &[], "location_lookup=false;save_to_api=true;electricitymaps_api_token=t")).unwrap();
        assert!(!c.needs_location_lookup() && c.save_to_api);
    }

    #[test]
    fn bad_values_name_key_and_source() {
        let e = Config::from_sources(&sources(&[], &[], &[("measure_power_secs", "fast")], "")).unwrap_err();
        assert!(e.message.contains("CODECARBON_MEASURE_POWER_SECS") && e.message.contains("number"), "{}", e.message);
        for bad in [
            "measure_power_secs=0",
            "measure_power_secs=1e20",
            "api_timeout_s=1e20",
            "api_call_interval=2000000",
            "pue=1000",
            "wue=1e9",
            "force_cpu_power=1e12",
            "force_ram_power=-1",
            "force_carbon_intensity_g_co2e_kwh=1e9",
            "pue=0",
            "pue=0.5",
            "wue=-1",
            "force_cpu_power=-5",
            "on_csv_write=overwrite",
            "country_iso_code=France",
            "tracking_mode=gpu",
            "log_level=loud",
            "save_to_file=perhaps",
            "output_file=out/",
            "output_file=..",
            "output_file=a/.",
            "cloud_provider=gcp",
        ] {
            let e = Config::from_sources(&sources(&[], &[], &[], bad)).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::InvalidOption, "{bad}");
            let key = bad.split('=').next().unwrap();
            assert!(e.message.contains(key), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn co2_signal_api_token_is_the_deprecated_name_of_the_electricitymaps_token() {
        let (c, notes) = Config::from_sources_with_notes(&sources(&[("co2_signal_api_token", "old")], &[], &[], "")).unwrap();
        assert_eq!(c.electricitymaps_api_token, Some(Secret("old".into())));
        assert!(notes.iter().any(|(l, m)| *l == Level::Warning && m.contains("deprecated")), "{notes:?}");
        let c = Config::from_sources(&sources(&[("co2_signal_api_token", "old")], &[], &[], "electricitymaps_api_token=new")).unwrap();
        assert_eq!(c.electricitymaps_api_token, Some(Secret("new".into())));
    }

    #[test]
    fn invalid_values_ignored_on_request_with_a_note_each() {
        let bad = "force_carbon_intensity_g_co2e_kwh=-1;country_iso_code=France;cloud_provider=gcp;pue=2";
        assert!(Config::from_sources(&sources(&[], &[], &[], bad)).is_err());
        let (c, notes) = Config::from_sources_with_notes(&sources(
            &[("on_invalid_value", "ignore"), ("force_cpu_power", "toto")],
            &[],
            &[("measure_power_secs", "fast")],
            bad,
        ))
        .unwrap();
        assert_eq!((c.force_carbon_intensity_g_per_kwh, c.country_iso_code.as_deref(), c.cloud_provider.as_deref()), (None, None, None));
        assert_eq!((c.force_cpu_power_w, c.measure_power_secs, c.pue), (None, 15.0, 2.0));
        let errors: Vec<&String> = notes.iter().filter(|(l, _)| *l == Level::Error).map(|(_, m)| m).collect();
        assert_eq!(errors.len(), 5, "{errors:?}");
        for key in ["force_carbon_intensity_g_co2e_kwh=-1", "country_iso_code=France", "force_cpu_power=toto", "CODECARBON_MEASURE_POWER_SECS", "cloud_provider"] {
            assert!(errors.iter().any(|m| m.contains(key) && m.contains("ignored")), "{key}: {errors:?}");
        }
        // Unknown keys in the options, and a bad on_invalid_value itself, are still errors.
        assert!(Config::from_sources(&sources(&[], &[], &[], "on_invalid_value=ignore;projet_name=x")).is_err());
        assert!(Config::from_sources(&sources(&[], &[], &[], "on_invalid_value=maybe")).is_err());
    }

    #[test]
    fn every_numeric_key_has_a_range() {
        // A huge number must be refused by every key that takes a number: this list names the
        // keys whose value is text, a path, a URL, a secret or a list, where it is just text.
        let not_numbers = [
            "project_name", "experiment_id", "experiment_name", "output_dir", "output_file", "region", "logger_preamble",
            "rapl_dir", "api_key", "electricitymaps_api_token", "co2_signal_api_token", "gpu_ids", "cloud_provider", "cloud_region",
            "python_version", "job_id", "job_coordination_dir",
        ];
        for key in KEYS {
            let mut c = Config::default();
            let accepted = c.apply_key("", key, "1e300").expect("a key of the table").is_ok();
            assert_eq!(accepted, not_numbers.contains(key), "{key}");
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
        assert_eq!(c.log_level, Level::Error);
    }
}

//! [`Options`]: what a program gives a tracker, typed or as text. One typed setter per key of
//! the table (generated in `keys.rs`), [`Options::set`] for a key by name, [`Options::parse`] for
//! the string form of `ct_tracker_new`. Nothing is checked here: `Tracker::new` resolves the
//! options with the environment and the config files, and reports a bad key or value there, in
//! the same words as every binding.

use super::options;
use super::kinds::ValueKind;
use crate::error::Result;

/// A tracker's options: CodeCarbon's configuration keys (see the [`options`](crate::options)
/// module for the table). They take precedence over the `CODECARBON_*` environment, then
/// `./.codecarbon.config`, then `~/.codecarbon.config`; [`Options::default_value`] sets a value
/// below all of them.
///
/// ```
/// use carbon_tracker::Options;
///
/// let typed = Options::new().project_name("sim").country_iso_code("FRA").measure_power_secs(5);
/// let text: Options = "project_name=sim;country_iso_code=FRA;measure_power_secs=5.0".parse()?;
/// assert_eq!(typed, text);
/// # Ok::<(), carbon_tracker::Error>(())
/// ```
///
/// `Debug` never shows a secret (`api_key`, the tokens).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `(key, value)` in the order given; a later value of a key wins.
    pairs: Vec<(String, String)>,
    /// Set by [`Options::default_value`]: below the config files and the environment.
    defaults: Vec<(String, String)>,
}

impl Options {
    /// No options: every key from the environment, the config files or its default.
    pub fn new() -> Options {
        Options::default()
    }

    /// The string form, as `ct_tracker_new` takes it: `key=value` pairs separated by `;`, keys
    /// in any case, values trimmed; `\;` is a `;` inside a value and `\\` a `\`.
    ///
    /// An error ([`ErrorKind::InvalidOption`](crate::ErrorKind::InvalidOption)) only for text
    /// that is not of that form; keys and values are checked by `Tracker::new`.
    pub fn parse(text: &str) -> Result<Options> {
        Ok(Options { pairs: options::parse(text)?, defaults: Vec::new() })
    }

    /// Sets `key` (any case) to `value`, the value as the string form would give it: trimmed,
    /// as every binding's options are. For keys known only at run time; the typed setters are
    /// checked by the compiler.
    #[must_use = "Options is a builder: this returns the options with the value set"]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Options {
        self.pairs.push((key.into().trim().to_ascii_lowercase(), value.into().trim().to_string()));
        self
    }

    /// Sets `key` unless the environment (`CODECARBON_*`), a config file or these options set
    /// it: a program's own default for a key (the `carbon-tracker` command's `measure_power_secs`).
    #[must_use = "Options is a builder: this returns the options with the default set"]
    pub fn default_value(mut self, key: impl Into<String>, value: impl Into<String>) -> Options {
        self.defaults.push((key.into().trim().to_ascii_lowercase(), value.into().trim().to_string()));
        self
    }

    /// The value these options give `key` (the last one set), if any; defaults not included.
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = key.trim().to_ascii_lowercase();
        self.pairs.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    /// The `(key, value)` pairs set, in order (defaults not included).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The string form of these options (what [`Options::parse`] reads back), secrets included:
    /// for handing them to another process or binding. Defaults are not included.
    pub fn to_options_string(&self) -> String {
        self.pairs.iter().map(|(k, v)| format!("{k}={}", escape(v))).collect::<Vec<_>>().join(";")
    }

    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub(crate) fn defaults(&self) -> &[(String, String)] {
        &self.defaults
    }
}

impl std::str::FromStr for Options {
    type Err = crate::error::Error;

    /// [`Options::parse`].
    fn from_str(text: &str) -> Result<Options> {
        Options::parse(text)
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |k: &str| super::KEY_TABLE.iter().any(|i| i.key == k && i.kind == ValueKind::Secret);
        let shown = |pairs: &[(String, String)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.clone(), if secret(k) { "***".to_string() } else { v.clone() })).collect()
        };
        f.debug_struct("Options").field("pairs", &shown(&self.pairs)).field("defaults", &shown(&self.defaults)).finish()
    }
}

/// A value in the string form: `\` and `;` escaped as `\\` and `\;`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '\\' || c == ';' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, CsvWriteMode, Origin, OutputMethods, Secret, Sources};
    use crate::log::Level;

    fn resolved(o: &Options) -> Config {
        Config::from_sources(&Sources { layers: vec![(Origin::Options, o.pairs().to_vec())] }).unwrap()
    }

    #[test]
    fn typed_setters_resolve_as_the_string_form() {
        let typed = Options::new()
            .project_name("a;b\\c")
            .output_dir("/tmp/x")
            .save_to_file(false)
            .on_csv_write(CsvWriteMode::Update)
            .measure_power_secs(2)
            .country_iso_code("fra")
            .force_cpu_power_w(65)
            .pue(2.0)
            .log_level(Level::Error)
            .output_methods(OutputMethods { file: true, logger: true, ..Default::default() })
            .api_key("secret-token")
            .api_call_interval(-1)
            .rank(3)
            .gpu_ids(["0", "GPU-ab"])
            .on_invalid_value(crate::config::OnInvalidValue::Ignore);
        let text = typed.to_options_string();
        let parsed = Options::parse(&text).unwrap();
        assert_eq!(parsed, typed, "{text}");
        let c = resolved(&typed);
        assert_eq!(c.project_name, "a;b\\c");
        assert_eq!((c.on_csv_write, c.measure_power_secs, c.country_iso_code.as_deref()), (CsvWriteMode::Update, 2.0, Some("FRA")));
        assert_eq!((c.force_cpu_power_w, c.pue, c.log_level, c.api_call_interval, c.rank), (Some(65.0), 2.0, Level::Error, -1, Some(3)));
        assert!(c.save_to_file && c.save_to_logger, "output_methods replaces save_to_*");
        assert_eq!(c.api_key, Some(Secret("secret-token".into())));
        assert_eq!(c.gpu_ids, Some(vec!["0".to_string(), "GPU-ab".to_string()]));
        // A float from Rust is written as a float in the CSV (`pue=2` would be an integer).
        assert!(!c.pue_written_as_integer);
        assert!(resolved(&Options::new().set("PUE", "2")).pue_written_as_integer);
    }

    #[test]
    fn every_key_has_a_typed_setter_whose_value_resolves_to_the_same_config() {
        // Each setter writes its key (the doc line names it); a default value written by its
        // setter resolves to the default.
        let d = Config::default();
        let o = Options::new()
            .measure_power_secs(d.measure_power_secs)
            .output_file(d.output_file.clone())
            .tracking_mode(d.tracking_mode)
            .api_timeout_s(d.api_timeout_s);
        assert_eq!(resolved(&o), d);
        assert_eq!(o.get("measure_power_secs"), Some("15.0"));
        assert_eq!(o.iter().count(), 4);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let o = Options::new().api_key("tok-123").set("electricitymaps_api_token", "tok-456").default_value("api_key", "tok-789");
        let shown = format!("{o:?}");
        assert!(!shown.contains("tok-"), "{shown}");
        assert!(o.to_options_string().contains("tok-123"), "the string form carries the secret");
    }

    #[test]
    fn set_trims_values_as_the_string_form_does() {
        // The bindings pass values through the string form, which trims them: `set` does too.
        let o = Options::new().set(" Project_Name ", "  a b  ");
        assert_eq!(o, Options::parse(" Project_Name =  a b  ").unwrap());
        assert_eq!(resolved(&o).project_name, "a b");
    }

    #[test]
    fn values_with_nul_and_keys_the_string_form_cannot_carry_are_refused() {
        let err = |o: &Options| Config::from_sources(&Sources { layers: vec![(Origin::Options, o.pairs().to_vec())] }).unwrap_err();
        let e = err(&Options::new().set("project_name", "a\0b").set("experiment_name", "after"));
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidOption);
        assert_eq!(e.message, "options: project_name: a value cannot contain a NUL byte");
        let e = err(&Options::new().set("project_name=x;experiment_name", "v"));
        assert_eq!(e.message, "options: invalid key `project_name=x;experiment_name`: a key cannot contain `=`, `;`, `\\` or a NUL byte");
        assert_eq!(err(&Options::new().set(" ", "v")).message, "options: an option has an empty key");
        let e = err(&Options::new().set("project\0name", "v"));
        assert_eq!(e.message, "options: invalid key `project\\0name`: a key cannot contain `=`, `;`, `\\` or a NUL byte");
        // A bad value like any other under on_invalid_value=ignore: logged, the default applies.
        let o = Options::new().set("on_invalid_value", "ignore").set("project_name", "a\0b");
        let (c, notes) = Config::from_sources_with_notes(&Sources { layers: vec![(Origin::Options, o.pairs().to_vec())] }).unwrap();
        assert_eq!(c.project_name, "codecarbon");
        assert!(notes.iter().any(|(_, m)| m.starts_with("options: project_name: a value cannot contain a NUL byte; ignored")), "{notes:?}");
    }

    #[test]
    fn last_value_wins_and_keys_are_case_insensitive() {
        let o = Options::new().project_name("a").set(" Project_Name ", "b");
        assert_eq!(o.get("PROJECT_NAME"), Some("b"));
        assert_eq!(resolved(&o).project_name, "b");
    }
}

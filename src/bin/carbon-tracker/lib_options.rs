//! Every library option as a `--key value` flag, generated from the library's own list of keys
//! (`carbon_tracker::config::KEYS`), and the options string built from them.
//!
//! Flags are spelled with dashes (`--project-name`); the key itself (`--project_name`) is an
//! alias. Values are passed through unchanged: the library validates them and names the key.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

/// The library options given on the command line, in the library's key order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LibOptions {
    pub pairs: Vec<(String, String)>,
}

/// Defaults of the command that any other source overrides: the process tree, measured every
/// second (a monitored command is often short, and its live status should move).
pub const CLI_DEFAULTS: [(&str, &str); 2] = [("tracking_mode", "process"), ("measure_power_secs", "1")];

const HEADING: &str = "Library options (also CODECARBON_<KEY> variables and .codecarbon.config files)";

fn flag(key: &str) -> String {
    key.replace('_', "-")
}

/// Keys whose values are secrets: shown as `<SECRET>`, with a hint to prefer the environment.
fn is_secret(key: &str) -> bool {
    key.ends_with("api_key") || key.ends_with("_token")
}

impl Args for LibOptions {
    fn augment_args(mut cmd: Command) -> Command {
        for &key in carbon_tracker::config::KEYS {
            let mut arg = Arg::new(key)
                .long(flag(key))
                .value_name(if is_secret(key) { "SECRET".to_string() } else { key.to_ascii_uppercase() })
                .action(ArgAction::Set)
                .allow_hyphen_values(true)
                .help_heading(HEADING);
            if flag(key) != key {
                arg = arg.alias(key);
            }
            let env = format!("CODECARBON_{}", key.to_ascii_uppercase());
            arg = if is_secret(key) {
                arg.help(format!("[env: {env}] (a flag is visible to other users in the process list: prefer the variable)"))
            } else {
                arg.help(format!("[env: {env}]"))
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for LibOptions {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut pairs = Vec::new();
        for &key in carbon_tracker::config::KEYS {
            if let Some(v) = m.get_one::<String>(key) {
                pairs.push((key.to_string(), v.clone()));
            }
        }
        Ok(LibOptions { pairs })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl LibOptions {
    /// Adds the command's defaults for keys that no option, variable or config file sets.
    pub fn apply_cli_defaults(&mut self) {
        for (key, value) in CLI_DEFAULTS {
            self.push_default(key, value);
        }
    }

    /// Sets `key` unless a flag, a config file or a CODECARBON_* variable sets it (a source the
    /// library cannot read is reported by Tracker::new).
    pub fn push_default(&mut self, key: &str, value: &str) {
        let layers = carbon_tracker::config::Sources::from_process(None).map(|s| s.layers).unwrap_or_default();
        let elsewhere = layers.iter().any(|(_, pairs)| pairs.iter().any(|(k, _)| k == key));
        if !self.has(key) && !elsewhere {
            self.push(key, value);
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    pub fn push(&mut self, key: &str, value: &str) {
        self.pairs.push((key.to_string(), value.to_string()));
    }

    /// The options string of `Tracker::new`: `key=value` pairs joined by `;`, with `\` and `;`
    /// in values escaped as `\\` and `\;` (the library's syntax, src/config/options.rs).
    pub fn to_options_string(&self) -> String {
        self.pairs.iter().map(|(k, v)| format!("{k}={}", escape(v))).collect::<Vec<_>>().join(";")
    }
}

pub fn escape(value: &str) -> String {
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

    #[test]
    fn values_round_trip_through_the_library_parser() {
        let o = LibOptions {
            pairs: vec![
                ("project_name".into(), r"a;b\c\\d;".into()),
                ("output_dir".into(), r"C:\tmp\".into()),
                ("experiment_name".into(), "x=y".into()),
            ],
        };
        let parsed = carbon_tracker::config::options::parse(&o.to_options_string()).unwrap();
        assert_eq!(parsed, o.pairs);
    }
}

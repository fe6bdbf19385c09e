//! Every library option as a `--key value` flag, generated from the library's key table
//! (`carbon_tracker::options::KEY_TABLE`: the key, its help line and the kind of value it takes),
//! and the library's `Options` built from them.
//!
//! Flags are spelled with dashes (`--project-name`); the key itself (`--project_name`) is an
//! alias. Booleans are switches (`--offline`; `--offline=false` to say no). A value that looks
//! like a flag is refused (`--project-name -- cmd` is an error, not the name `--`; write
//! `--project-name=-x` for a name that starts with `-`); negative numbers are values. Values
//! are passed through unchanged: the library validates them and names the key.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use carbon_tracker::options::{KeyInfo, ValueKind, KEY_TABLE};
use carbon_tracker::Options;

/// The library options given on the command line, in the library's key order, and the
/// command's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LibOptions {
    pub pairs: Vec<(String, String)>,
    /// Below the flags, the environment and the config files.
    pub defaults: Vec<(String, String)>,
}

/// Defaults of the command that any other source overrides: the process tree, measured every
/// second (a monitored command is often short, and its live status should move).
pub const CLI_DEFAULTS: [(&str, &str); 2] = [("tracking_mode", "process"), ("measure_power_secs", "1")];

/// With `--quiet`, also: only the library's errors reach standard error.
pub const QUIET_DEFAULTS: [(&str, &str); 1] = [("log_level", "error")];

const HEADING: &str = "Library options (also CODECARBON_<KEY> variables and .codecarbon.config files)";

fn flag(key: &str) -> String {
    key.replace('_', "-")
}

fn value_name(info: &KeyInfo) -> String {
    match info.kind {
        ValueKind::Secret => "SECRET".into(),
        ValueKind::Boolean => "BOOL".into(),
        ValueKind::Number => "NUMBER".into(),
        ValueKind::Integer => "INTEGER".into(),
        // `output_file` is a file; `output_dir`, `rapl_dir` and `job_coordination_dir` directories.
        ValueKind::Path if info.key.ends_with("_file") => "FILE".into(),
        ValueKind::Path => "DIR".into(),
        ValueKind::Choice(words) => words.join("|"),
        ValueKind::LogLevel => "LEVEL".into(),
        ValueKind::OutputMethods | ValueKind::List => "LIST".into(),
        _ => info.key.to_ascii_uppercase(), // Text, and kinds added later
    }
}

/// The key's help line from the table, its default and its variable.
fn help(info: &KeyInfo) -> String {
    let key = info.key;
    let mut text = info.help();
    let command_default = CLI_DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string());
    match (command_default, carbon_tracker::options::default_text(key)) {
        (Some(here), Some(library)) => text += &format!(" [default here: {here}; the library's: {library}]"),
        (None, Some(d)) => text += &format!(" [default: {d}]"),
        _ => {}
    }
    text += &format!(" [env: CODECARBON_{}]", key.to_ascii_uppercase());
    if info.kind == ValueKind::Secret {
        text += " (a flag is visible to other users in the process list: prefer the variable)";
    }
    text
}

fn arg(info: &KeyInfo) -> Arg {
    let key = info.key;
    let mut arg = Arg::new(key)
        .long(flag(key))
        .value_name(value_name(info))
        .action(ArgAction::Set)
        // Given twice, the last one wins, as a key given twice in the library's options.
        .overrides_with(key)
        // Taken as bytes: a value that is not UTF-8 is refused naming its key (from_arg_matches).
        .value_parser(clap::builder::OsStringValueParser::new())
        .allow_negative_numbers(true)
        .help(help(info))
        .help_heading(HEADING);
    if info.kind == ValueKind::Boolean {
        // A switch; `--offline=false` (or `--offline false`) gives the value.
        arg = arg.num_args(0..=1).default_missing_value("true");
    }
    if flag(key) != key {
        arg = arg.alias(key);
    }
    arg
}

impl Args for LibOptions {
    fn augment_args(mut cmd: Command) -> Command {
        for info in KEY_TABLE {
            cmd = cmd.arg(arg(info));
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
        for info in KEY_TABLE {
            if let Some(v) = m.get_one::<std::ffi::OsString>(info.key) {
                let Some(v) = v.to_str() else {
                    // The library's words for a value that is not UTF-8.
                    let message =
                        format!("options: {}: {} (--{})", info.key, carbon_tracker::options::NOT_UTF8, flag(info.key));
                    return Err(clap::Error::raw(clap::error::ErrorKind::InvalidUtf8, message));
                };
                pairs.push((info.key.to_string(), v.to_string()));
            }
        }
        Ok(LibOptions { pairs, defaults: Vec::new() })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl LibOptions {
    /// Adds the command's defaults (and with `quiet` its quiet ones): below every other source.
    pub fn apply_cli_defaults(&mut self, quiet: bool) {
        let quiet_defaults: &[(&str, &str)] = if quiet { &QUIET_DEFAULTS } else { &[] };
        for &(key, value) in CLI_DEFAULTS.iter().chain(quiet_defaults) {
            self.push_default(key, value);
        }
    }

    /// Sets `key` unless a flag, a config file or a CODECARBON_* variable sets it (the library
    /// resolves it: `Options::default_value`).
    pub fn push_default(&mut self, key: &str, value: &str) {
        self.defaults.push((key.to_string(), value.to_string()));
    }

    pub fn push(&mut self, key: &str, value: &str) {
        self.pairs.push((key.to_string(), value.to_string()));
    }

    /// The options of `Tracker::new`.
    pub fn to_options(&self) -> Options {
        let options = self.pairs.iter().fold(Options::new(), |o, (k, v)| o.set(k.as_str(), v.as_str()));
        self.defaults.iter().fold(options, |o, (k, v)| o.default_value(k.as_str(), v.as_str()))
    }
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
            defaults: vec![("measure_power_secs".into(), "1".into())],
        };
        let options = o.to_options();
        let parsed = Options::parse(&options.to_options_string()).unwrap();
        assert_eq!(parsed.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>(), o.pairs);
    }
}

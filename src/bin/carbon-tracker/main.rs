//! `carbon-tracker`: monitor a command, show what the library detects, report emissions.csv files.
//! Built on the library's public API only (`carbon_tracker::Tracker`): no second tracker.

/// `eprintln!` that never panics: a message lost on a closed standard error must not change
/// the command's exit status.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod detect;
mod format;
mod lib_options;
mod limits;
mod monitor;
mod progress_file;
mod report;
mod status_line;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use lib_options::LibOptions;

#[derive(Parser, Debug)]
#[command(name = "carbon-tracker", version, about = "Measure the energy use and carbon emissions of any command", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Run a command and track its energy and emissions (its process tree by default)
    #[command(
        after_help = "Without --tracking-mode (or CODECARBON_TRACKING_MODE, or tracking_mode in a config file) the \
command's process tree is tracked (tracking_mode=process); --tracking-mode machine tracks the whole machine. \
Without a measure_power_secs setting, the command measures every second.\n\n\
The exit status is the command's (128+N when it is killed by signal N; 127 when it is not found, 126 when it \
cannot be run), or 124 when --max-energy-kwh or --max-emissions-kg stopped it; when the command succeeded but the \
results could not be saved (the CSV not written, uploads not delivered): 74, unless --allow-unsaved. SIGINT, \
SIGTERM, SIGHUP and SIGQUIT are forwarded to it.\n\n\
Limits: when the measured total (measured every measure_power_secs, 1 s by default here) reaches \
--max-energy-kwh or --max-emissions-kg, the command and every process it started get SIGTERM, and what is left \
--kill-after seconds later (10 by default) gets SIGKILL. A limit also sets the library's budget \
(energy_budget_kwh / emissions_budget_kg, unless given): a warning as soon as the run is predicted to exceed it.\n\n\
Progress: with --progress-file F the command writes `done total` to F (one line, rewritten in place, e.g. \
`echo \"$i $n\" > F`); the status line then shows the predicted totals at completion.\n\n\
Example: carbon-tracker monitor --project-name solver --country-iso-code FRA -- ./solve input.dat"
    )]
    Monitor(MonitorArgs),
    /// Show the detected hardware and which source or model gives each number
    Detect(DetectArgs),
    /// Summarize emissions.csv files (of this library or CodeCarbon) per project and run, and the
    /// output directory of a job per node, rank and region
    Report(ReportArgs),
}

#[derive(clap::Args, Debug)]
struct MonitorArgs {
    /// No live status line on standard error (it is shown only when standard error is a terminal)
    #[arg(long)]
    no_status: bool,
    /// No summary on standard error at the end, and only the library's errors (log_level=error,
    /// unless a log level is set)
    #[arg(long, short)]
    quiet: bool,
    /// Exit with the command's status even when the results could not be saved (by default a
    /// successful command then gives status 74; the failure is reported either way)
    #[arg(long)]
    allow_unsaved: bool,
    /// Also write a row (cumulative totals) every SECS seconds while the command runs, so a long
    /// run leaves its numbers so far and `report --html` can draw its curve
    #[arg(long, value_name = "SECS", value_parser = parse_secs, allow_negative_numbers = true)]
    flush_every: Option<f64>,
    /// Stop the command (SIGTERM, then SIGKILL) when its measured energy reaches KWH kWh; exit status 124
    #[arg(long, value_name = "KWH", value_parser = parse_limit, allow_negative_numbers = true)]
    max_energy_kwh: Option<f64>,
    /// Stop the command (SIGTERM, then SIGKILL) when its measured emissions reach KG kg CO2e; exit status 124
    #[arg(long, value_name = "KG", value_parser = parse_limit, allow_negative_numbers = true)]
    max_emissions_kg: Option<f64>,
    /// Seconds between SIGTERM and SIGKILL when a limit stops the command [default: 10]
    #[arg(long, value_name = "SECS", value_parser = parse_grace, allow_negative_numbers = true)]
    kill_after: Option<f64>,
    /// A file the command writes `done total` to (one line, rewritten in place): the status line
    /// shows the predicted totals at completion
    #[arg(long, value_name = "FILE")]
    progress_file: Option<PathBuf>,
    #[command(flatten)]
    lib: LibOptions,
    /// The command to run, and its arguments (after `--`)
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

#[derive(clap::Args, Debug)]
struct DetectArgs {
    /// Print the library's JSON document instead of text
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    lib: LibOptions,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "A directory is read whole: its emissions CSVs, region files (regions_*.csv) and run files \
(run_*.json, written by each rank of a job), so `carbon-tracker report OUTPUT_DIR` shows a job's total, a line per \
node and per rank, and its regions.")]
struct ReportArgs {
    /// emissions.csv files or output directories (default: ./emissions.csv)
    #[arg(value_name = "FILE|DIR")]
    files: Vec<PathBuf>,
    /// Also write an HTML page with charts: emissions over time per run, per node and per rank of a job
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Print every number as JSON instead of the tables (unrounded)
    #[arg(long)]
    json: bool,
    /// The report of a Slurm job measured by the SPANK plugin (its rows per node and step); FILE|DIR
    /// then name the program's own tracker outputs of that job, if any (listed apart, not added)
    #[arg(long, value_name = "ID")]
    slurm_job: Option<String>,
    /// The plugin's output directory (its `output_dir` in plugstack.conf)
    #[arg(long, value_name = "DIR", default_value = report::slurm::DEFAULT_DIR, requires = "slurm_job")]
    slurm_dir: PathBuf,
}

/// `detect | head` ends quietly, as Unix filters do, instead of panicking on a closed pipe
/// (Rust ignores SIGPIPE by default).
fn default_sigpipe() {
    // SAFETY: restoring the default disposition of a signal.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.1..=86_400.0).contains(&x) => Ok(x),
        _ => Err(format!("expected a number of seconds from 0.1 to 86400, got `{s}`")),
    }
}

fn parse_limit(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("expected a number > 0, got `{s}`")),
    }
}

fn parse_grace(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=3600.0).contains(&x) => Ok(x),
        _ => Err(format!("expected a number of seconds from 0 to 3600, got `{s}`")),
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Commands::Monitor(a) => monitor::run(monitor::Settings {
            lib: a.lib,
            command: a.command,
            live_status: !a.no_status,
            summary: !a.quiet,
            allow_unsaved: a.allow_unsaved,
            flush_every: a.flush_every.map(std::time::Duration::from_secs_f64),
            limits: limits::Limits { max_energy_kwh: a.max_energy_kwh, max_emissions_kg: a.max_emissions_kg },
            kill_after: a.kill_after.map_or(limits::DEFAULT_KILL_AFTER, std::time::Duration::from_secs_f64),
            progress_file: a.progress_file,
        }),
        Commands::Detect(a) => {
            default_sigpipe();
            detect::run(a.lib, a.json)
        }
        Commands::Report(a) => {
            default_sigpipe();
            if let Some(id) = &a.slurm_job {
                std::process::exit(report::run_slurm(id, &a.slurm_dir, &a.files, a.html.as_deref(), a.json));
            }
            let files = if a.files.is_empty() { vec![PathBuf::from("emissions.csv")] } else { a.files };
            report::run(&files, a.html.as_deref(), a.json)
        }
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(args: &[&str]) -> Result<MonitorArgs, clap::Error> {
        let argv = ["carbon-tracker", "monitor"].iter().chain(args).copied();
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Commands::Monitor(m) => m,
            _ => panic!("not monitor"),
        })
    }

    #[test]
    fn every_library_key_is_a_flag_with_dashes_or_as_spelled() {
        for &key in carbon_tracker::options::KEYS {
            for spelling in [key.replace('_', "-"), key.to_string()] {
                let m = monitor(&[&format!("--{spelling}"), "v;1", "--", "true"])
                    .unwrap_or_else(|e| panic!("--{spelling}: {e}"));
                assert_eq!(m.lib.pairs, vec![(key.to_string(), "v;1".to_string())]);
                assert_eq!(m.command, vec![OsString::from("true")]);
            }
        }
    }

    #[test]
    fn booleans_are_switches_with_an_optional_value() {
        let m = monitor(&["--offline", "--save-to-file=false", "--rapl-include-dram", "no", "--", "true"]).unwrap();
        let want = [("save_to_file", "false"), ("rapl_include_dram", "no"), ("offline", "true")]; // the table's order
        assert_eq!(m.lib.pairs, want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec());
        // Right before the command's `--`, and before another flag.
        let m = monitor(&["--offline", "--quiet", "--", "true"]).unwrap();
        assert!(m.quiet && m.lib.pairs == vec![("offline".to_string(), "true".to_string())]);
    }

    #[test]
    fn values_that_look_like_flags_are_refused() {
        let e = monitor(&["--project-name", "--", "echo", "hi"]).unwrap_err();
        assert!(e.to_string().contains("a value is required for '--project-name"), "{e}");
        assert!(monitor(&["--project-name", "--quiet", "--", "true"]).is_err());
        // `=` takes any value; negative numbers are values.
        let m = monitor(&["--project-name=-x", "--api-call-interval", "-1", "--", "true"]).unwrap();
        assert_eq!(
            m.lib.pairs,
            vec![("project_name".to_string(), "-x".to_string()), ("api_call_interval".to_string(), "-1".to_string())]
        );
    }

    #[test]
    fn a_negative_limit_is_refused_as_a_number_not_taken_for_a_flag() {
        for flag in ["--max-energy-kwh", "--max-emissions-kg", "--flush-every", "--kill-after"] {
            let e = monitor(&[flag, "-1", "--", "true"]).unwrap_err().to_string();
            assert!(e.contains("expected a number") && e.contains("got `-1`"), "{flag}: {e}");
            assert!(!e.contains("unexpected argument") && !e.contains("-- -1"), "{flag}: {e}");
        }
        assert_eq!(monitor(&["--max-energy-kwh", "0.5", "--", "true"]).unwrap().max_energy_kwh, Some(0.5));
    }

    #[test]
    fn the_help_names_a_file_for_output_file_and_a_directory_for_output_dir() {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let help = cmd.find_subcommand_mut("monitor").unwrap().render_help().to_string();
        assert!(help.contains("--output-file <FILE>"), "{help}");
        assert!(help.contains("--output-dir <DIR>"), "{help}");
    }

    #[test]
    fn every_flag_has_the_help_line_of_its_key() {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let help = cmd.find_subcommand_mut("monitor").unwrap().render_help().to_string();
        for info in carbon_tracker::options::KEY_TABLE {
            assert!(!info.help().is_empty(), "{} has no doc comment in src/config/keys.rs", info.key);
            let flag = format!("--{}", info.key.replace('_', "-"));
            let line = help
                .lines()
                .position(|l| l.trim_start().starts_with(&flag))
                .unwrap_or_else(|| panic!("{flag} not in the help"));
            // The help starts on the flag's line or the next one (clap wraps long lines).
            let text: String = help.lines().skip(line).take(4).collect::<Vec<_>>().join(" ");
            let first_words: String = info.help().split_whitespace().take(3).collect::<Vec<_>>().join(" ");
            assert!(text.split_whitespace().collect::<Vec<_>>().join(" ").contains(&first_words), "{flag}: {text}");
        }
        assert!(help.contains("[default here: process; the library's: machine]"), "{help}");
        assert!(help.contains("--allow-unsaved"));
    }
}

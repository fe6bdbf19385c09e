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
mod monitor;
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
cannot be run). SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to it.\n\n\
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
    /// No summary on standard error at the end
    #[arg(long, short)]
    quiet: bool,
    /// Also write a row (cumulative totals) every SECS seconds while the command runs, so a long
    /// run leaves its numbers so far and `report --html` can draw its curve
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    flush_every: Option<f64>,
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

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Commands::Monitor(a) => monitor::run(monitor::Settings {
            lib: a.lib,
            command: a.command,
            live_status: !a.no_status,
            summary: !a.quiet,
            flush_every: a.flush_every.map(std::time::Duration::from_secs_f64),
        }),
        Commands::Detect(a) => {
            default_sigpipe();
            detect::run(a.lib, a.json)
        }
        Commands::Report(a) => {
            default_sigpipe();
            let files = if a.files.is_empty() { vec![PathBuf::from("emissions.csv")] } else { a.files };
            report::run(&files, a.html.as_deref(), a.json)
        }
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_key_is_a_flag_with_dashes_or_as_spelled() {
        for &key in carbon_tracker::config::KEYS {
            for spelling in [key.replace('_', "-"), key.to_string()] {
                let cli = Cli::try_parse_from(["carbon-tracker", "monitor", &format!("--{spelling}"), "v;1", "--", "true"])
                    .unwrap_or_else(|e| panic!("--{spelling}: {e}"));
                let Commands::Monitor(m) = cli.command else { panic!("not monitor") };
                assert_eq!(m.lib.pairs, vec![(key.to_string(), "v;1".to_string())]);
                assert_eq!(m.command, vec![OsString::from("true")]);
            }
        }
    }
}

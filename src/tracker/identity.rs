//! The identity of a run (job, node, rank), built once at start for the run and region files.

use super::job::Job;
use crate::hardware::host;
use crate::config::Config;
use crate::record::identity::Identity;
use crate::record::run::LIBRARY_VERSION;

/// The node a process runs on: SLURM's name for it (`SLURMD_NODENAME`, set in every task of a
/// job step) when there is one, else the host name.
pub fn node_name() -> String {
    std::env::var("SLURMD_NODENAME").ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).unwrap_or_else(host::name)
}

pub fn of(c: &Config, run_id: &str, job: Option<&Job>) -> Identity {
    let started_unix_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    Identity {
        run_id: run_id.to_string(),
        project_name: c.project_name.clone(),
        experiment_name: c.experiment_name.clone(),
        experiment_id: c.experiment_id.clone(),
        output_file: c.output_file.display().to_string(),
        node: node_name(),
        hostname: host::name(),
        pid: std::process::id(),
        job: job.cloned(),
        started_unix_s,
        tracker_version: LIBRARY_VERSION.to_string(),
    }
}

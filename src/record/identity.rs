//! Who wrote a run's files: the job, node and rank of the process, beside the CodeCarbon
//! columns (which have no field for them). Written to the run file of a rank of a job and to
//! the identity columns of the region file; read back by `carbon-tracker report`.

use serde::{Deserialize, Serialize};

/// Who wrote a run's files: the run, and the job, node and rank of its process (what a run file
/// holds; the region file has some of it in each row).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Identity {
    /// The run's UUID (the CSV's `run_id`).
    pub run_id: String,
    /// The `project_name` option.
    pub project_name: String,
    /// The `experiment_name` option.
    pub experiment_name: String,
    /// The `experiment_id` option.
    pub experiment_id: String,
    /// The CSV the run's rows go to (file name, in the same directory).
    pub output_file: String,
    /// The node: SLURM's `SLURMD_NODENAME` when set, else the host name.
    pub node: String,
    /// `gethostname`.
    pub hostname: String,
    /// The process id.
    pub pid: u32,
    /// The job's id (SLURM, MPI, PMIx, torchrun, or the `job_id` option).
    pub job_id: Option<String>,
    /// The process's rank in the job.
    pub rank: Option<u32>,
    /// The process's rank on its node.
    pub local_rank: Option<u32>,
    /// SLURM's node index in the job.
    pub node_id: Option<u32>,
    /// The job's number of ranks.
    pub world_size: Option<u32>,
    /// Where the job was detected from (slurm, openmpi, pmix, mpich, torchrun, options).
    pub launcher: Option<String>,
    /// Seconds since the Unix epoch when the tracker started.
    pub started_unix_s: f64,
    /// This library's version.
    pub tracker_version: String,
}

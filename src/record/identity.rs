//! Who wrote a run's files: the job, node and rank of the process, beside the CodeCarbon
//! columns (which have no field for them). Written to the run file of a rank of a job and to
//! the identity columns of the region file; read back by `carbon-tracker report`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Identity {
    pub run_id: String,
    pub project_name: String,
    pub experiment_name: String,
    pub experiment_id: String,
    /// The CSV the run's rows go to (file name, in the same directory).
    pub output_file: String,
    /// The node: SLURM's `SLURMD_NODENAME` when set, else the host name.
    pub node: String,
    /// `gethostname`.
    pub hostname: String,
    pub pid: u32,
    pub job_id: Option<String>,
    pub rank: Option<u32>,
    pub local_rank: Option<u32>,
    /// SLURM's node index in the job.
    pub node_id: Option<u32>,
    pub world_size: Option<u32>,
    /// Where the job was detected from (slurm, openmpi, pmix, mpich, torchrun, options).
    pub launcher: Option<String>,
    /// Seconds since the Unix epoch when the tracker started.
    pub started_unix_s: f64,
    /// This library's version.
    pub tracker_version: String,
}

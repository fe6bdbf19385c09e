//! A rank of a multi-process job, declared once: what the tracker detects from the launcher's
//! environment (or the `job_id`/`rank` options), what the run file's identity holds, what the
//! monitoring outputs label their series with.

use serde::{Deserialize, Serialize};

/// A rank of a multi-process job: the facts its launcher gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Job {
    /// The job's id (SLURM, MPI, PMIx, torchrun, or the `job_id` option).
    #[serde(rename = "job_id")]
    pub id: String,
    /// The process's rank in the job.
    pub rank: u32,
    /// The process's rank on its node.
    pub local_rank: Option<u32>,
    /// SLURM's node index in the job.
    pub node_id: Option<u32>,
    /// The job's number of ranks.
    pub world_size: Option<u32>,
    /// The job's number of ranks on this node, where the launcher says.
    #[serde(default)]
    pub local_size: Option<u32>,
    /// Where the job was detected from: slurm, openmpi, pmix, mpich, torchrun or options.
    pub launcher: String,
}

impl Job {
    /// Rank `rank` of job `id`, detected from `launcher`; the optional facts unknown.
    pub fn new(id: impl Into<String>, rank: u32, launcher: impl Into<String>) -> Job {
        Job { id: id.into(), rank, local_rank: None, node_id: None, world_size: None, local_size: None, launcher: launcher.into() }
    }
}

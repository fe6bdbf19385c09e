//! Who wrote a run's files: the job, node and rank of the process, beside the CodeCarbon
//! columns (which have no field for them). Written to the run file of a rank of a job and to
//! the identity columns of the region file; read back by `carbon-tracker report`.

use serde::{Deserialize, Serialize};

use super::job::Job;

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
    /// The job this process is a rank of, if any (its fields side by side with the others in
    /// the run file: `job_id`, `rank`, `local_rank`, ...).
    #[serde(flatten, deserialize_with = "job_if_any")]
    pub job: Option<Job>,
    /// Seconds since the Unix epoch when the tracker started.
    pub started_unix_s: f64,
    /// This library's version.
    pub tracker_version: String,
}

impl Identity {
    /// The job's id, for a rank of a job.
    pub fn job_id(&self) -> Option<&str> {
        self.job.as_ref().map(|j| j.id.as_str())
    }

    /// The process's rank in its job.
    pub fn rank(&self) -> Option<u32> {
        self.job.as_ref().map(|j| j.rank)
    }

    /// The process's rank on its node, where the launcher says.
    pub fn local_rank(&self) -> Option<u32> {
        self.job.as_ref().and_then(|j| j.local_rank)
    }

    /// SLURM's index of the node in the job.
    pub fn node_id(&self) -> Option<u32> {
        self.job.as_ref().and_then(|j| j.node_id)
    }
}

/// The job of a run file: none when it names none (no `job_id`, or null), else all of its
/// fields, or an error that says which one is wrong (serde's own reading of a flattened
/// `Option` would make any error a run outside a job).
fn job_if_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Job>, D::Error> {
    let rest = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
    if rest.get("job_id").is_none_or(serde_json::Value::is_null) {
        return Ok(None);
    }
    serde_json::from_value(serde_json::Value::Object(rest)).map(Some).map_err(|e| serde::de::Error::custom(format!("its job: {e}")))
}

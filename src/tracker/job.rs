//! Which job this process is a rank of: detected from the launcher's environment (SLURM,
//! Open MPI, PMIx, MPICH/Hydra, torchrun), set or overridden by the `job_id`, `rank` and
//! `local_rank` options.

use crate::config::Config;

/// A rank of a multi-process job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub rank: u32,
    /// Rank among the job's processes on this node.
    pub local_rank: Option<u32>,
    /// SLURM's node index in the job.
    pub node_id: Option<u32>,
    /// Processes in the job.
    pub world_size: Option<u32>,
    /// Processes of the job on this node, where the launcher says.
    pub local_size: Option<u32>,
    /// Which environment it came from: slurm, openmpi, pmix, mpich, torchrun or options.
    pub launcher: &'static str,
}

impl Job {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "job_id": self.id,
            "rank": self.rank,
            "local_rank": self.local_rank,
            "node_id": self.node_id,
            "world_size": self.world_size,
            "local_size": self.local_size,
            "launcher": self.launcher,
        })
    }
}

/// The job from the options and the process environment; `None` for a process that is no
/// rank of anything (no launcher variables and no `rank`/`job_id` option).
pub fn detect(c: &Config) -> Option<Job> {
    detect_from(c, &|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

fn num(env: &dyn Fn(&str) -> Option<String>, keys: &[&str]) -> Option<u32> {
    keys.iter().find_map(|k| env(k)?.trim().parse().ok())
}

fn text(env: &dyn Fn(&str) -> Option<String>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| env(k).map(|v| v.trim().to_string()))
}

/// SLURM's `SLURM_TASKS_PER_NODE` (`4`, `4(x2)`, `2,1`): the first node's count.
fn slurm_tasks_per_node(v: &str) -> Option<u32> {
    v.split([',', '(']).next()?.trim().parse().ok()
}

pub fn detect_from(c: &Config, env: &dyn Fn(&str) -> Option<String>) -> Option<Job> {
    let session = || {
        // The launcher gave ranks but no job id: the ranks of one launch share its session
        // on this node (coordination is node-local, so that is enough).
        // SAFETY: getsid(0) only reads this process's session id.
        format!("session-{}", unsafe { libc::getsid(0) })
    };
    let detected = if let (Some(id), Some(rank)) = (env("SLURM_JOB_ID"), num(env, &["SLURM_PROCID"])) {
        let step = env("SLURM_STEP_ID").map(|s| format!(".{s}")).unwrap_or_default();
        Some(Job {
            id: format!("{}{step}", id.trim()),
            rank,
            local_rank: num(env, &["SLURM_LOCALID"]),
            node_id: num(env, &["SLURM_NODEID"]),
            world_size: num(env, &["SLURM_NTASKS"]),
            local_size: env("SLURM_TASKS_PER_NODE").as_deref().and_then(slurm_tasks_per_node),
            launcher: "slurm",
        })
    } else if let Some(rank) = num(env, &["OMPI_COMM_WORLD_RANK"]) {
        Some(Job {
            id: text(env, &["PMIX_NAMESPACE", "OMPI_MCA_orte_ess_jobid", "OMPI_MCA_ess_base_jobid"]).unwrap_or_else(session),
            rank,
            local_rank: num(env, &["OMPI_COMM_WORLD_LOCAL_RANK"]),
            node_id: None,
            world_size: num(env, &["OMPI_COMM_WORLD_SIZE"]),
            local_size: num(env, &["OMPI_COMM_WORLD_LOCAL_SIZE"]),
            launcher: "openmpi",
        })
    } else if let Some(rank) = num(env, &["PMIX_RANK"]) {
        Some(Job {
            id: text(env, &["PMIX_NAMESPACE"]).unwrap_or_else(session),
            rank,
            local_rank: num(env, &["PMIX_LOCAL_RANK", "MPI_LOCALRANKID"]),
            node_id: None,
            world_size: num(env, &["PMIX_SIZE"]),
            local_size: num(env, &["PMIX_LOCAL_SIZE", "MPI_LOCALNRANKS"]),
            launcher: "pmix",
        })
    } else if let Some(rank) = num(env, &["PMI_RANK"]) {
        Some(Job {
            id: text(env, &["PMI_JOBID", "PMI_KVSNAME"]).unwrap_or_else(session),
            rank,
            local_rank: num(env, &["MPI_LOCALRANKID"]),
            node_id: None,
            world_size: num(env, &["PMI_SIZE"]),
            local_size: num(env, &["MPI_LOCALNRANKS"]),
            launcher: "mpich",
        })
    } else if let (Some(rank), Some(world)) = (num(env, &["RANK"]), num(env, &["WORLD_SIZE"])) {
        Some(Job {
            id: text(env, &["TORCHELASTIC_RUN_ID"]).unwrap_or_else(session),
            rank,
            local_rank: num(env, &["LOCAL_RANK"]),
            node_id: num(env, &["GROUP_RANK"]),
            world_size: Some(world),
            local_size: num(env, &["LOCAL_WORLD_SIZE"]),
            launcher: "torchrun",
        })
    } else {
        None
    };
    // Options set or override what was detected.
    match detected {
        Some(mut j) => {
            if let Some(id) = &c.job_id {
                j.id = id.clone();
            }
            if let Some(r) = c.rank {
                j.rank = r;
            }
            if c.local_rank.is_some() {
                j.local_rank = c.local_rank;
            }
            Some(j)
        }
        None if c.rank.is_some() || c.job_id.is_some() => Some(Job {
            id: c.job_id.clone().unwrap_or_else(session),
            rank: c.rank.unwrap_or(0),
            local_rank: c.local_rank,
            node_id: None,
            world_size: None,
            local_size: None,
            launcher: "options",
        }),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn detect(c: &Config, vars: &[(&str, &str)]) -> Option<Job> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        detect_from(c, &|k| m.get(k).cloned())
    }

    #[test]
    fn slurm() {
        let vars = [
            ("SLURM_JOB_ID", "4242"),
            ("SLURM_PROCID", "5"),
            ("SLURM_LOCALID", "1"),
            ("SLURM_NODEID", "2"),
            ("SLURM_NTASKS", "8"),
            ("SLURM_TASKS_PER_NODE", "4(x2)"),
            ("OMPI_COMM_WORLD_RANK", "9"),
        ];
        let j = detect(&Config::default(), &vars).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.local_rank, j.node_id, j.world_size, j.local_size), ("4242", 5, Some(1), Some(2), Some(8), Some(4)));
        assert_eq!(j.launcher, "slurm");
    }

    #[test]
    fn mpi_pmix_torchrun_and_overrides() {
        let j = detect(&Config::default(), &[("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1"), ("PMIX_NAMESPACE", "prterun-h-1@1")]).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.local_rank, j.launcher), ("prterun-h-1@1", 3, Some(1), "openmpi"));
        let j = detect(&Config::default(), &[("PMI_RANK", "2"), ("MPI_LOCALRANKID", "0")]).unwrap();
        assert_eq!((j.rank, j.local_rank, j.launcher), (2, Some(0), "mpich"));
        assert!(j.id.starts_with("session-"));
        let j = detect(&Config::default(), &[("PMIX_RANK", "7")]).unwrap();
        assert_eq!((j.rank, j.launcher), (7, "pmix"));
        let j = detect(&Config::default(), &[("RANK", "1"), ("LOCAL_RANK", "1"), ("WORLD_SIZE", "2"), ("TORCHELASTIC_RUN_ID", "t1")]).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.local_rank, j.launcher), ("t1", 1, Some(1), "torchrun"));
        // RANK alone (a common variable name) is no job.
        assert!(detect(&Config::default(), &[("RANK", "1")]).is_none());
        assert!(detect(&Config::default(), &[]).is_none());
        let c = Config { job_id: Some("mine".into()), rank: Some(4), local_rank: Some(0), ..Config::default() };
        let j = detect(&c, &[("OMPI_COMM_WORLD_RANK", "3")]).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.local_rank), ("mine", 4, Some(0)));
        let j = detect(&c, &[]).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.launcher), ("mine", 4, "options"));
    }
}

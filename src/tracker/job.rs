//! Which job this process is a rank of: detected from the launcher's environment (SLURM,
//! Open MPI, PMIx, MPICH/Hydra, torchrun), set or overridden by the `job_id`, `rank` and
//! `local_rank` options.

use crate::config::Config;

pub use crate::record::job::Job;

/// Who a rank shares its node's energy with (see `detect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeScope {
    /// The same for every tracker of the job on this node, whatever step or inner launcher
    /// started it: the `job_id` option, else the SLURM job (not its step: concurrent steps share
    /// the node), else the launch's id.
    pub key: String,
    /// The launchers say this is the job's only rank on the node, so there is nothing to share:
    /// the innermost launcher gave a local size of 1, outside SLURM (a step does not say
    /// which other steps of its job run on the node).
    pub alone: bool,
}

/// What the innermost launcher present says about this process.
struct Layer {
    rank: u32,
    local_rank: Option<u32>,
    node_id: Option<u32>,
    world_size: Option<u32>,
    local_size: Option<u32>,
    launcher: &'static str,
    /// Its id for the launch (shared by all its ranks, on every node), if it gives one.
    id: Option<String>,
}

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The job from the options and the process environment; `None` for a process that is no
/// rank of anything (no launcher variables and no `rank`/`job_id` option).
pub fn detect(c: &Config) -> Option<(Job, NodeScope)> {
    detect_from(c, &|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

fn num(env: Env, keys: &[&str]) -> Option<u32> {
    keys.iter().find_map(|k| env(k)?.trim().parse().ok())
}

fn text(env: Env, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| env(k).map(|v| v.trim().to_string()))
}

/// SLURM's `SLURM_TASKS_PER_NODE` / `SLURM_STEP_TASKS_PER_NODE` (`4`, `2(x3),1`): the count of
/// node `node` (its `SLURM_NODEID`); `None` when unreadable or out of range.
pub fn slurm_tasks_on_node(v: &str, node: u32) -> Option<u32> {
    let mut left = node;
    for part in v.split(',') {
        let (count, times) = match part.trim().split_once("(x") {
            Some((c, t)) => (c.trim().parse::<u32>().ok()?, t.strip_suffix(')')?.trim().parse::<u32>().ok()?),
            None => (part.trim().parse::<u32>().ok()?, 1),
        };
        if left < times {
            return Some(count);
        }
        left -= times;
    }
    None
}

/// torchrun's workers: `RANK` and `WORLD_SIZE` (with `LOCAL_RANK`, `LOCAL_WORLD_SIZE`,
/// `GROUP_RANK`). Its default run id `none` names no launch: then the rendezvous address
/// (`MASTER_ADDR:MASTER_PORT`, shared by the workers of one launch on every node, and no two
/// launches listen on one), else the agent (the workers' parent) on this node.
fn torchrun(env: Env) -> Option<Layer> {
    let (rank, world) = (num(env, &["RANK"])?, num(env, &["WORLD_SIZE"])?);
    let id = match text(env, &["TORCHELASTIC_RUN_ID"]).filter(|r| r != "none") {
        Some(r) => r,
        None => match (text(env, &["MASTER_ADDR"]), text(env, &["MASTER_PORT"])) {
            (Some(a), Some(p)) => format!("torchrun-{a}:{p}"),
            // SAFETY: getppid only reads this process's parent id.
            _ => format!("torchrun-agent{}", unsafe { libc::getppid() }),
        },
    };
    Some(Layer {
        rank,
        local_rank: num(env, &["LOCAL_RANK"]),
        node_id: num(env, &["GROUP_RANK"]),
        world_size: Some(world),
        local_size: num(env, &["LOCAL_WORLD_SIZE"]),
        launcher: "torchrun",
        id: Some(id),
    })
}

fn openmpi(env: Env) -> Option<Layer> {
    Some(Layer {
        rank: num(env, &["OMPI_COMM_WORLD_RANK"])?,
        local_rank: num(env, &["OMPI_COMM_WORLD_LOCAL_RANK"]),
        node_id: None,
        world_size: num(env, &["OMPI_COMM_WORLD_SIZE"]),
        local_size: num(env, &["OMPI_COMM_WORLD_LOCAL_SIZE"]),
        launcher: "openmpi",
        id: text(env, &["PMIX_NAMESPACE", "OMPI_MCA_orte_ess_jobid", "OMPI_MCA_ess_base_jobid"]),
    })
}

/// PMIx and PMI ranks; SLURM's node index only when SLURM started this very rank (its task is
/// the rank: `srun --mpi=pmix|pmi2`), not an inner launcher.
fn pmix_or_mpich(env: Env) -> Option<Layer> {
    let (rank, launcher, keys) = match (num(env, &["PMIX_RANK"]), num(env, &["PMI_RANK"])) {
        (Some(r), _) => (r, "pmix", ["PMIX_LOCAL_RANK", "PMIX_LOCAL_SIZE", "PMIX_SIZE", "PMIX_NAMESPACE", ""]),
        (None, Some(r)) => (r, "mpich", ["MPI_LOCALRANKID", "MPI_LOCALNRANKS", "PMI_SIZE", "PMI_JOBID", "PMI_KVSNAME"]),
        (None, None) => return None,
    };
    Some(Layer {
        rank,
        local_rank: num(env, &[keys[0], "MPI_LOCALRANKID"]),
        node_id: num(env, &["SLURM_NODEID"]).filter(|_| num(env, &["SLURM_PROCID"]) == Some(rank)),
        world_size: num(env, &[keys[2]]),
        local_size: num(env, &[keys[1], "MPI_LOCALNRANKS"]),
        launcher,
        id: text(env, &[keys[3], keys[4]]),
    })
}

/// A SLURM task: `SLURM_PROCID`, and the step's tasks on this node (`SLURM_STEP_TASKS_PER_NODE`,
/// else `SLURM_TASKS_PER_NODE`, indexed by `SLURM_NODEID`).
fn slurm(env: Env) -> Option<Layer> {
    let job = slurm_job(env)?;
    let rank = num(env, &["SLURM_PROCID"])?;
    let node_id = num(env, &["SLURM_NODEID"]);
    let per_node = text(env, &["SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"]);
    let step = text(env, &["SLURM_STEP_ID", "SLURM_STEPID"]).map(|s| format!(".{s}")).unwrap_or_default();
    Some(Layer {
        rank,
        local_rank: num(env, &["SLURM_LOCALID"]),
        node_id,
        world_size: num(env, &["SLURM_NTASKS"]),
        local_size: per_node.zip(node_id).and_then(|(v, n)| slurm_tasks_on_node(&v, n)),
        launcher: "slurm",
        id: Some(format!("{job}{step}")),
    })
}

fn slurm_job(env: Env) -> Option<String> {
    text(env, &["SLURM_JOB_ID", "SLURM_JOBID"])
}

/// Rank and local size come from the innermost launcher present (torchrun, then Open MPI, PMIx,
/// MPICH/PMI, SLURM last): an inner launcher's processes inherit the outer one's variables
/// (`mpirun` in a batch script keeps its `SLURM_PROCID=0`). SLURM names the job and the node.
pub fn detect_from(c: &Config, env: Env) -> Option<(Job, NodeScope)> {
    let slurm_job = slurm_job(env);
    let session = || {
        // No id from the launcher: the ranks of one launch share its session on this node
        // (coordination is node-local, so that is enough); in SLURM, the job step.
        let step = text(env, &["SLURM_STEP_ID", "SLURM_STEPID"]).map(|s| format!(".{s}")).unwrap_or_default();
        // SAFETY: getsid(0) only reads this process's session id.
        slurm_job.as_ref().map(|j| format!("{j}{step}")).unwrap_or_else(|| format!("session-{}", unsafe { libc::getsid(0) }))
    };
    let layer = torchrun(env).or_else(|| openmpi(env)).or_else(|| pmix_or_mpich(env)).or_else(|| slurm(env));
    let mut job = match layer {
        Some(l) => {
            let id = match (l.id, &slurm_job) {
                (Some(id), Some(j)) if l.launcher != "slurm" && !id.starts_with(&format!("{j}.")) => format!("{j}-{id}"),
                (Some(id), _) => id,
                (None, _) => session(),
            };
            let (rank, local_rank, node_id, world_size, local_size) = (l.rank, l.local_rank, l.node_id, l.world_size, l.local_size);
            Job { id, rank, local_rank, node_id, world_size, local_size, launcher: l.launcher.into() }
        }
        None if c.rank.is_some() || c.job_id.is_some() => Job::new(session(), 0, "options"),
        None => return None,
    };
    // Options set or override what was detected.
    if let Some(id) = &c.job_id {
        job.id = id.clone();
    }
    if let Some(r) = c.rank {
        job.rank = r;
    }
    if c.local_rank.is_some() {
        job.local_rank = c.local_rank;
    }
    let key = match (&c.job_id, &slurm_job) {
        (Some(id), _) => id.clone(),
        (None, Some(j)) => format!("slurm-{j}"),
        (None, None) => job.id.clone(),
    };
    let alone = job.local_size == Some(1) && slurm_job.is_none();
    Some((job, NodeScope { key, alone }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    fn detect(c: &Config, vars: &[(&str, &str)]) -> Option<Job> {
        detect_scoped(c, vars).map(|(j, _)| j)
    }

    fn detect_scoped(c: &Config, vars: &[(&str, &str)]) -> Option<(Job, NodeScope)> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        detect_from(c, &|k| m.get(k).cloned())
    }

    #[test]
    fn tasks_per_node_parsed_whole_and_indexed_by_node() {
        let cases = [("4", 0, Some(4)), ("4", 1, None), ("1,2", 1, Some(2)), ("2(x3),1", 2, Some(2)), ("2(x3),1", 3, Some(1))];
        for (v, node, want) in cases {
            assert_eq!(slurm_tasks_on_node(v, node), want, "{v} node {node}");
        }
        assert_eq!(slurm_tasks_on_node("1(x2),3(x2)", 3), Some(3));
        for bad in ["", "x", "2(x", "2(xa),1", "-1"] {
            assert_eq!(slurm_tasks_on_node(bad, 0), None, "{bad}");
        }
    }

    /// The launcher each case of tests/vectors/launchers must be read as (innermost first).
    const CASES: [(&str, &str); 12] = [
        ("srun_n4", "slurm"),
        ("srun_pmix_n4", "pmix"),
        ("srun_pmi2_n4", "mpich"),
        ("sbatch_n4_srun", "slurm"),
        ("sbatch_n4_mpirun", "openmpi"),
        ("sbatch_n1_c4_mpirun", "openmpi"),
        ("srun_n1_torchrun4", "torchrun"),
        ("sbatch_n2_two_steps", "slurm"),
        ("srun_2nodes_1_2", "slurm"),
        ("srun_2nodes_1_3", "slurm"),
        ("sbatch_2nodes_mpirun", "openmpi"),
        ("srun_2nodes_torchrun2", "torchrun"),
    ];

    /// Each process of a captured case: its host and what it detects.
    fn detect_case(name: &str) -> Vec<(String, Job, NodeScope)> {
        let path = format!("{}/tests/vectors/launchers/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let procs = v["processes"].as_array().unwrap();
        procs
            .iter()
            .map(|p| {
                let vars: Vec<(&str, &str)> = p.as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
                let (j, s) = detect_scoped(&Config::default(), &vars).unwrap_or_else(|| panic!("{name}: no job in {p}"));
                (p["_host"].as_str().unwrap().to_string(), j, s)
            })
            .collect()
    }

    /// The variables real launchers were seen to set (scripts/slurm/capture-vectors.sh, under a
    /// real SLURM): the innermost launcher gives each process its own rank and the count of its
    /// launch's processes on its node, every process of the job on a node has one node key, a
    /// launch's processes have one job id on every node, and no id is torchrun's default.
    #[test]
    fn launchers_as_real_ones_set_them_are_read_from_the_inside_out() {
        for (name, launcher) in CASES {
            let procs = detect_case(name);
            // The batch script itself (a SLURM job's process with no step) is not one of its ranks.
            let ranks: Vec<&(String, Job, NodeScope)> =
                procs.iter().filter(|(_, j, _)| !(name == "sbatch_n4_srun" && j.id == "4")).collect();
            let mut per_host: BTreeMap<&str, u32> = BTreeMap::new();
            for (h, _, _) in &ranks {
                *per_host.entry(h.as_str()).or_default() += 1;
            }
            let mut seen: Vec<u32> = ranks.iter().map(|(_, j, _)| j.rank).collect();
            seen.sort_unstable();
            if name == "sbatch_n2_two_steps" {
                assert_eq!(seen, [0, 0], "{name}: two steps of one task each");
                assert_ne!(ranks[0].1.id, ranks[1].1.id, "{name}: two steps are two launches");
            } else {
                assert_eq!(seen, (0..ranks.len() as u32).collect::<Vec<_>>(), "{name}: distinct ranks");
                assert!(ranks.iter().all(|(_, j, _)| j.id == ranks[0].1.id), "{name}: one job id on every node");
            }
            for (host, j, scope) in &procs {
                assert_eq!(j.launcher, if j.id == "4" { "slurm" } else { launcher }, "{name}");
                let local = if name == "sbatch_n2_two_steps" { 1 } else { per_host[host.as_str()] };
                assert!(j.local_size.is_none_or(|l| l == local), "{name}: local size {:?} on {host}, {local} there", j.local_size);
                assert!(matches!(launcher, "pmix" | "mpich") || j.local_size == Some(local), "{name}: no local size where the launcher gives one");
                assert!(!scope.alone, "{name}: under SLURM a rank always joins");
                assert!(!j.id.contains("none"), "{name}: torchrun's default run id names no job: {}", j.id);
                let same_node = procs.iter().filter(|(h, _, _)| h == host);
                assert!(same_node.clone().all(|(_, _, s)| s.key == scope.key), "{name}: one node key on {host}");
            }
        }
    }

    #[test]
    fn slurm_names_the_job_an_inner_launcher_the_rank() {
        let slurm =
            [("SLURM_JOB_ID", "4242"), ("SLURM_STEP_ID", "0"), ("SLURM_PROCID", "1"), ("SLURM_NODEID", "2"), ("SLURM_TASKS_PER_NODE", "4(x2),1")];
        let (j, s) = detect_scoped(&Config::default(), &slurm).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.node_id, j.local_size, j.launcher.as_str()), ("4242.0", 1, Some(2), Some(1), "slurm"));
        assert_eq!((s.key.as_str(), s.alone), ("slurm-4242", false));
        let mut inner = slurm.to_vec();
        inner.extend([("OMPI_COMM_WORLD_RANK", "9"), ("OMPI_COMM_WORLD_LOCAL_SIZE", "4"), ("PMIX_NAMESPACE", "77")]);
        let (j, s) = detect_scoped(&Config::default(), &inner).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.node_id, j.local_size, j.launcher.as_str()), ("4242-77", 9, None, Some(4), "openmpi"));
        assert_eq!(s.key, "slurm-4242");
    }

    #[test]
    fn torchrun_default_run_id_is_replaced_by_the_rendezvous() {
        let w = [("RANK", "1"), ("WORLD_SIZE", "2"), ("LOCAL_WORLD_SIZE", "1"), ("TORCHELASTIC_RUN_ID", "none")];
        let (j, s) = detect_scoped(&Config::default(), &w).unwrap();
        assert!(j.id.starts_with("torchrun-agent"), "{}", j.id);
        assert!(s.alone, "one worker per node outside SLURM: nothing to share");
        let mut m = w.to_vec();
        m.extend([("MASTER_ADDR", "10.0.0.1"), ("MASTER_PORT", "29500")]);
        assert_eq!(detect(&Config::default(), &m).unwrap().id, "torchrun-10.0.0.1:29500");
        m.push(("SLURM_JOB_ID", "7"));
        let (j, s) = detect_scoped(&Config::default(), &m).unwrap();
        assert_eq!((j.id.as_str(), s.key.as_str(), s.alone), ("7-torchrun-10.0.0.1:29500", "slurm-7", false));
    }

    #[test]
    fn mpi_pmix_torchrun_and_overrides() {
        let j = detect(&Config::default(), &[("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1"), ("PMIX_NAMESPACE", "prterun-h-1@1")]).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.local_rank, j.launcher.as_str()), ("prterun-h-1@1", 3, Some(1), "openmpi"));
        let j = detect(&Config::default(), &[("PMI_RANK", "2"), ("MPI_LOCALRANKID", "0")]).unwrap();
        assert_eq!((j.rank, j.local_rank, j.launcher.as_str()), (2, Some(0), "mpich"));
        assert!(j.id.starts_with("session-"));
        let j = detect(&Config::default(), &[("PMIX_RANK", "7")]).unwrap();
        assert_eq!((j.rank, j.launcher.as_str()), (7, "pmix"));
        let j = detect(&Config::default(), &[("RANK", "1"), ("LOCAL_RANK", "1"), ("WORLD_SIZE", "2"), ("TORCHELASTIC_RUN_ID", "t1")]).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.local_rank, j.launcher.as_str()), ("t1", 1, Some(1), "torchrun"));
        // RANK alone (a common variable name) is no job.
        assert!(detect(&Config::default(), &[("RANK", "1")]).is_none());
        assert!(detect(&Config::default(), &[]).is_none());
        let c = Config { job_id: Some("mine".into()), rank: Some(4), local_rank: Some(0), ..Config::default() };
        let (j, s) = detect_scoped(&c, &[("OMPI_COMM_WORLD_RANK", "3"), ("SLURM_JOB_ID", "5")]).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.local_rank, s.key.as_str()), ("mine", 4, Some(0), "mine"));
        let j = detect(&c, &[]).unwrap();
        assert_eq!((j.id.as_str(), j.rank, j.launcher.as_str()), ("mine", 4, "options"));
    }
}

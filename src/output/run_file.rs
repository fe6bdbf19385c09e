//! The run file: `run_<experiment_name>_<run_id>.json` beside `emissions.csv`, written once by a
//! rank of a job (at its first flush or stop): its job, rank and node, which CodeCarbon's
//! columns have no field for, so that `carbon-tracker report DIR` can put each run of a shared
//! output directory under its job, node and rank while `emissions.csv` stays CodeCarbon's.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::record::identity::Identity;

/// Where the run file of run `run_id` goes (named as the task file is).
pub fn run_file_path(output_dir: &Path, experiment_name: &str, run_id: &str) -> PathBuf {
    super::file_names::run_file_path(output_dir, "run", experiment_name, run_id, "json")
}

/// The run file as a sink: written once, at the first report that succeeds.
pub struct RunFile {
    path: PathBuf,
    written: bool,
}

impl RunFile {
    pub fn new(output_dir: &Path, experiment_name: &str, run_id: &str) -> RunFile {
        RunFile { path: run_file_path(output_dir, experiment_name, run_id), written: false }
    }
}

impl super::sink::Sink for RunFile {
    fn on_report(&mut self, record: &super::sink::Record<'_>, log: &crate::log::Logger) -> Result<()> {
        if self.written {
            return Ok(());
        }
        write(&self.path, record.identity).inspect_err(|e| log.error(format!("{e} (written at the next flush)")))?;
        self.written = true;
        Ok(())
    }
}

pub fn write(path: &Path, id: &Identity) -> Result<()> {
    let mut text = serde_json::to_string_pretty(id).map_err(|e| Error::io(path, "cannot encode the run file", &std::io::Error::other(e)))?;
    text.push('\n');
    super::whole_file::replace(path, text.as_bytes()).map_err(|e| Error::io(path, "cannot write the run file", &e))
}

/// The identity in a run file, or why it cannot be read.
pub fn read(path: &Path) -> std::result::Result<Identity, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("not a run file: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::job::Job;

    #[test]
    fn written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = run_file_path(dir.path(), "base", "r1");
        let job = Job::new("42", 5, "slurm");
        let id = Identity { run_id: "r1".into(), job: Some(job), node: "n2".into(), started_unix_s: 1.5, ..Default::default() };
        write(&path, &id).unwrap();
        assert_eq!(read(&path).unwrap(), id);
        assert!(read(&dir.path().join("missing.json")).unwrap_err().starts_with("cannot read"));
        // The job's fields sit beside the others, as the run files of earlier versions had them
        // (without local_size), which still read.
        let text = std::fs::read_to_string(&path).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!((v["job_id"].as_str(), v["rank"].as_u64(), v["launcher"].as_str()), (Some("42"), Some(5), Some("slurm")));
        v.as_object_mut().unwrap().remove("local_size");
        std::fs::write(&path, v.to_string()).unwrap();
        assert_eq!(read(&path).unwrap(), id);
        // A job's field that is wrong is an error, not a run outside the job.
        for (key, bad) in [("rank", serde_json::json!("3")), ("rank", serde_json::json!(-1)), ("launcher", serde_json::Value::Null)] {
            let mut w = v.clone();
            w[key] = bad;
            std::fs::write(&path, w.to_string()).unwrap();
            let e = read(&path).unwrap_err();
            assert!(e.contains("its job"), "{key}: {e}");
        }
        // No job named: a run outside a job.
        v["job_id"] = serde_json::Value::Null;
        std::fs::write(&path, v.to_string()).unwrap();
        assert_eq!(read(&path).unwrap().job, None);
    }
}

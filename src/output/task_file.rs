//! CodeCarbon's task file: `emissions_<experiment_name>_<run_id>.csv` beside `emissions.csv`,
//! one row per finished task (`task_name`, then the columns of `emissions.csv` but
//! `experiment_id`, `pue` and `wue`, as CodeCarbon's `TaskEmissionsData`), rewritten whole at
//! each flush and stop through a temporary file and a rename, so a reader never sees half a
//! file. Unlike CodeCarbon every column is always written (it drops all-empty ones, shifting
//! the others) and a flush with tasks never fails (docs/differences.md).

use std::path::{Path, PathBuf};

use once_cell::sync::Lazy;

use super::emissions_data::{push_csv_field, Column, EmissionsData, COLUMNS};
use crate::error::{Error, Result};

/// The columns of `emissions.csv` that a task row keeps.
fn task_columns() -> impl Iterator<Item = &'static Column> {
    COLUMNS.iter().filter(|(name, _)| !matches!(*name, "experiment_id" | "pue" | "wue"))
}

pub static TASK_HEADER: Lazy<String> =
    Lazy::new(|| std::iter::once("task_name").chain(task_columns().map(|(name, _)| *name)).collect::<Vec<_>>().join(","));

/// Where CodeCarbon puts the task rows of run `run_id`; always a file directly in `output_dir`
/// (the experiment name is encoded, see [`super::file_names`]).
pub fn task_file_path(output_dir: &Path, experiment_name: &str, run_id: &str) -> PathBuf {
    super::file_names::run_file_path(output_dir, "emissions", experiment_name, run_id, "csv")
}

/// The task file as a sink: rewritten when tasks finished since it was last written.
pub struct TaskFile {
    path: PathBuf,
    /// The finished tasks the file holds.
    written: usize,
}

impl TaskFile {
    pub fn new(output_dir: &Path, experiment_name: &str, run_id: &str, written: usize) -> TaskFile {
        TaskFile { path: task_file_path(output_dir, experiment_name, run_id), written }
    }
}

impl super::sink::Sink for TaskFile {
    fn on_report(&mut self, record: &super::sink::Record<'_>, log: &crate::log::Logger) -> Result<()> {
        if record.finished_tasks == self.written {
            return Ok(());
        }
        match write(&self.path, &(record.task_rows)()) {
            Ok(()) => {
                self.written = record.finished_tasks;
                Ok(())
            }
            Err(e) => {
                log.error(format!("{e} (task rows kept; the next flush writes them again)"));
                Err(e)
            }
        }
    }
}

/// Writes the file of `rows` (task name, its row), replacing the previous one.
pub fn write(path: &Path, rows: &[(String, EmissionsData)]) -> Result<()> {
    let mut text = String::with_capacity(640 * (rows.len() + 1));
    text.push_str(&TASK_HEADER);
    text.push('\n');
    for (name, row) in rows {
        push_csv_field(&mut text, name);
        text.push(',');
        row.push_csv_fields(&mut text, task_columns());
        text.push('\n');
    }
    super::whole_file::replace(path, text.as_bytes()).map_err(|e| Error::io(path, "cannot write the task file", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_codecarbons_task_emissions_data() {
        // CodeCarbon 3.3.2's TaskEmissionsData fields, in order.
        assert_eq!(
            *TASK_HEADER,
            "task_name,timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,\
cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,cloud_provider,\
cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,\
ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud"
        );
    }

    #[test]
    fn rows_are_replaced_whole_and_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = task_file_path(dir.path(), "base", "r1");
        let row = EmissionsData::default();
        write(&path, &[("a,b".into(), row.clone())]).unwrap();
        write(&path, &[("a,b".into(), row.clone()), ("second".into(), row)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let recs: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(&recs[0][0], "a,b");
        assert!(recs.iter().all(|r| r.len() == TASK_HEADER.split(',').count()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}

//! Tasks: named windows of a run (CodeCarbon's `start_task` / `stop_task`), without its bugs:
//! the run's own measurement and totals go on while tasks run, tasks may overlap and nest, and
//! a task's numbers are the exact difference of the run's totals between a measurement taken
//! at its start and one taken at its stop.

use std::time::Instant;

use super::accounting::Totals;
use crate::error::{Error, Result};
use crate::record::EmissionsSnapshot;

/// Task names are for CSV rows and logs: short, printable.
const MAX_NAME_BYTES: usize = 256;

struct RunningTask {
    name: String,
    totals_at_start: Totals,
    started_at: Instant,
}

/// A finished task's row.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedTask {
    pub name: String,
    /// When it stopped (the row's timestamp).
    pub timestamp: String,
    pub numbers: EmissionsSnapshot,
}

#[derive(Default)]
pub struct Tasks {
    running: Vec<RunningTask>,
    pub finished: Vec<FinishedTask>,
}

pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(Error::option(format!(
            "task name {name:?}: expected 1 to {MAX_NAME_BYTES} bytes without control characters"
        )));
    }
    Ok(())
}

impl Tasks {
    pub fn is_running(&self, name: &str) -> bool {
        self.running.iter().any(|t| t.name == name)
    }

    /// An error naming the running tasks unless `name` is one of them.
    pub fn require_running(&self, name: &str) -> Result<()> {
        if self.is_running(name) {
            return Ok(());
        }
        let running: Vec<&str> = self.running.iter().map(|t| t.name.as_str()).collect();
        Err(Error::state(format!(
            "stop_task: no running task `{name}` (running: {})",
            if running.is_empty() { "none".to_string() } else { running.join(", ") }
        )))
    }

    /// An error unless `name` is free to start (no running task has it).
    pub fn require_not_running(&self, name: &str) -> Result<()> {
        if self.is_running(name) {
            return Err(Error::state(format!("start_task: task `{name}` is already running; stop it first or use another name")));
        }
        Ok(())
    }

    /// Opens a window at a measurement just taken (`totals` as of `at`).
    pub fn start(&mut self, name: &str, totals: Totals, at: Instant) -> Result<()> {
        self.require_not_running(name)?;
        self.running.push(RunningTask { name: name.to_string(), totals_at_start: totals, started_at: at });
        Ok(())
    }

    /// Closes a window at a measurement just taken; the task's numbers over it.
    pub fn stop(&mut self, name: &str, snapshot: impl FnOnce(Totals, f64) -> EmissionsSnapshot, totals: Totals, at: Instant, timestamp: String) -> Result<EmissionsSnapshot> {
        self.require_running(name)?;
        let i = self.running.iter().position(|t| t.name == name).expect("checked");
        let task = self.running.remove(i);
        let window = totals.since(&task.totals_at_start);
        let numbers = snapshot(window, at.saturating_duration_since(task.started_at).as_secs_f64());
        self.finished.push(FinishedTask { name: task.name, timestamp, numbers });
        Ok(numbers)
    }

    /// The names of the tasks still running (stopped by the tracker's stop, as CodeCarbon does).
    pub fn running_names(&self) -> Vec<String> {
        self.running.iter().map(|t| t.name.clone()).collect()
    }
}

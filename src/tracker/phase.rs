//! A tracker's state under its lock: created, running (what a running tracker holds), stopped.

use super::*;

pub(super) enum Phase {
    Created,
    Running(Box<Running>),
    /// With `restart_after_stop`, what a later `start` resumes from.
    Stopped(Option<Box<Resumable>>),
}

/// A stopped run that `start` may resume (`restart_after_stop`): its totals and finished tasks
/// go on, and so do the sinks that carry over (the API's uploads: same API run, deltas from
/// where they were).
pub(super) struct Resumable {
    pub(super) totals: Totals,
    pub(super) duration_s: f64,
    pub(super) finished_tasks: Vec<tasks::FinishedTask>,
    pub(super) carried: Vec<Box<dyn crate::output::sink::Sink>>,
}

pub(super) struct Running {
    pub(super) meters: Meters,
    /// What measurements use: the table intensity, or Electricity Maps' live number.
    pub(super) intensity: Intensity,
    /// From the tables (and the location lookup); the fallback of the live value.
    pub(super) table_intensity: Intensity,
    /// True until the network location lookup has finished (meanwhile: world average).
    pub(super) location_pending: bool,
    /// The descriptive columns of this run's rows (rebuilt when the location is found).
    pub(super) run: Arc<RunInfo>,
    pub(super) started_at: Instant,
    /// The run's duration before `started_at` (the windows before a restart).
    pub(super) duration_before_s: f64,
    pub(super) last_measured: Instant,
    pub(super) totals: Totals,
    pub(super) ticker: Option<crate::background::TickHandle>,
    /// Background measurements since start (for `api_call_interval`).
    pub(super) ticks: u64,
    /// The outputs, in the order they take each report: the file outputs, then the network and
    /// log outputs (`output::sink`'s two lists).
    pub(super) sinks: Vec<Box<dyn crate::output::sink::Sink>>,
    /// Named windows of this run (`start_task` / `stop_task`).
    pub(super) tasks: Tasks,
    /// A rank of a job: its part of the node's machine-wide energy (counted once).
    pub(super) node: Option<node_share::NodeShare>,
    /// Why this rank of a job does not share the node (it counts the whole machine), if so.
    pub(super) coordination_refused: Option<String>,
    /// The process that started the run: in a forked child the tracker is inert.
    pub(super) pid: u32,
    /// Job, node and rank, for the run and region files.
    pub(super) identity: crate::record::identity::Identity,
    /// Cumulative energy and emissions at each measurement, for predictions.
    pub(super) measurements: progress::MeasurementLog,
    /// Budget warnings already logged.
    pub(super) budget: budget::BudgetWatch,
}

impl Running {
    /// Whether this is a forked child's copy of the run (inert).
    pub(super) fn forked(&self) -> bool {
        std::process::id() != self.pid
    }

    /// The run's duration at `at`: its windows before a restart, and this one up to `at`.
    pub(super) fn duration_s(&self, at: Instant) -> f64 {
        self.duration_before_s + at.saturating_duration_since(self.started_at).as_secs_f64()
    }
}

impl Inner {
    /// A poisoned lock only means a panic happened while it was held; the totals are still
    /// consistent (each interval is applied by one `Totals::add`), so keep going. The log lines
    /// made while it is held reach the log callback once it is released (the callback may call
    /// the tracker).
    pub(super) fn lock(&self) -> PhaseGuard<'_> {
        let logs = crate::log::defer();
        PhaseGuard { guard: Some(self.state.lock().unwrap_or_else(|p| p.into_inner())), logs: Some(logs) }
    }
}

/// The tracker's lock, held: on release, the log lines made meanwhile go to the log callback.
pub(super) struct PhaseGuard<'a> {
    guard: Option<MutexGuard<'a, Phase>>,
    logs: Option<crate::log::Deferred>,
}

impl std::ops::Deref for PhaseGuard<'_> {
    type Target = Phase;
    fn deref(&self) -> &Phase {
        self.guard.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for PhaseGuard<'_> {
    fn deref_mut(&mut self) -> &mut Phase {
        self.guard.as_mut().expect("held until dropped")
    }
}

impl Drop for PhaseGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        if let Some(logs) = self.logs.take() {
            logs.finish().deliver();
        }
    }
}

//! Starting a run: the CSV checked, the hardware probed, the intensity resolved, the outputs opened.

use super::*;
use crate::output::{registry, sink};

impl Inner {
    /// The job as the node's coordination knows it (its id is the node scope's key), when this
    /// rank counts the node once with the others: machine mode, `job_count_node_once`, and not
    /// alone on the node by what the launchers say.
    pub(super) fn shares_node(&self) -> Option<job::Job> {
        let c = &self.config;
        match (&self.job, &self.node_scope) {
            (Some(j), Some(s)) if c.job_count_node_once && c.tracking_mode == crate::config::TrackingMode::Machine && !s.alone => {
                Some(job::Job { id: s.key.clone(), ..j.clone() })
            }
            _ => None,
        }
    }

    /// Created → running; stopped with `restart_after_stop` → running again (resumed).
    pub(super) fn begin_unless_running(self: &Arc<Inner>, phase: &mut Phase, what: &str) -> Result<()> {
        let resume = match std::mem::replace(phase, Phase::Created) {
            Phase::Created => None,
            Phase::Stopped(Some(resume)) => Some(resume),
            Phase::Running(r) => {
                *phase = Phase::Running(r);
                return Ok(());
            }
            stopped @ Phase::Stopped(None) => {
                *phase = stopped;
                return Err(Error::state(format!("{what}: the tracker was stopped; create a new one (or set restart_after_stop=true)")));
            }
        };
        // output_dir is checked (and the CSV's header written) before anything starts: a start
        // that fails leaves the tracker as it was.
        let finished_tasks = resume.as_ref().map_or(0, |r| r.finished_tasks.len());
        let opening = registry::Opening { config: &self.config, run_id: &self.run_id, in_job: self.job.is_some(), finished_tasks };
        let sinks = match registry::open(&opening, &self.log) {
            Ok(sinks) => sinks,
            Err(e) => {
                *phase = match resume {
                    Some(r) => Phase::Stopped(Some(r)),
                    None => Phase::Created,
                };
                return Err(e);
            }
        };
        *phase = Phase::Running(Box::new(Inner::begin(self, sinks, resume)));
        Ok(())
    }

    /// Probes the hardware (once per process), resolves the intensity, opens the outputs, reads
    /// the starting counters and schedules the background ticks: the state of a started tracker
    /// (of a resumed one with `resume`: its totals, tasks and uploads go on).
    pub(super) fn begin(inner: &Arc<Inner>, mut sinks: Vec<Box<dyn sink::Sink>>, resume: Option<Box<Resumable>>) -> Running {
        let c = &inner.config;
        let log = &inner.log;
        let plan = hardware::plan_for(c, log);
        crate::clock::load_zone();
        let (intensity, location_pending) = resolve_intensity(c, log);
        let run = Arc::new(metadata::run_info(c, &inner.run_id, &plan, &intensity));
        let weak: Weak<Inner> = Arc::downgrade(inner);
        let ticker = crate::background::spawn_periodic(Duration::from_secs_f64(c.measure_power_secs), move || match weak.upgrade() {
            Some(i) => i.tick(),
            None => false,
        });
        if ticker.is_none() {
            log.warning("no background runtime: measuring only at flush and stop");
        }
        let now = inner.regions.start();
        inner.progress_log().begin(now);
        let meters = Meters::start(plan.clone(), c.measure_power_secs).with_tree(inner.tree);
        // Joined once the meters have their starting readings: a rank counts from then on.
        // Coordinated under the node scope's key: every rank of the job on this node.
        let (node, coordination_refused) = match inner.shares_node() {
            Some(j) => match node_share::NodeShare::join(c, &j, &plan.gpus, log) {
                Ok(n) => (Some(n), None),
                Err(why) => (None, Some(why)),
            },
            None => (None, None),
        };
        let identity = identity::of(c, &inner.run_id, inner.job.as_ref());
        let (totals, duration_before_s, tasks, resumed) = match resume {
            Some(r) => {
                log.info(format!("resuming the run after {:.3} s measured", r.duration_s));
                let mut tasks = Tasks::default();
                tasks.finished = r.finished_tasks;
                let resumed = (r.totals.snapshot(r.duration_s, &intensity, c.pue), r.carried);
                (r.totals, r.duration_s, tasks, Some(resumed))
            }
            None => (Totals::default(), 0.0, Tasks::default(), None),
        };
        // The network and log outputs take each report after the file outputs.
        let opening = registry::UploadsOpening { config: c, run: &run, identity: &identity, request_timeout: UPLOAD_REQUEST_TIMEOUT, resumed };
        sinks.extend(registry::open_uploads(opening, log));
        let meters = if node.is_some() { meters.with_process_share() } else { meters };
        // A GPU shared with other processes: process mode and the ranks of a job take their share.
        let split = c.gpu_share == crate::config::GpuShare::Split && (plan.process_mode || node.is_some());
        Running {
            meters: if split { meters.with_gpu_split() } else { meters },
            table_intensity: intensity.clone(),
            intensity,
            location_pending,
            run,
            started_at: now,
            duration_before_s,
            last_measured: now,
            totals,
            ticker,
            ticks: 0,
            sinks,
            tasks,
            node,
            coordination_refused,
            pid: std::process::id(),
            identity,
            measurements: progress::MeasurementLog::default(),
            budget: budget::BudgetWatch::default(),
        }
    }
}

/// The carbon intensity at start, and whether the network location lookup is still running
/// (meanwhile: the world average).
fn resolve_intensity(c: &Config, log: &Logger) -> (Intensity, bool) {
    let mut location_pending = false;
    let intensity = if c.needs_location_lookup() {
        emissions::location::start(c, log);
        let located = emissions::location::get(c);
        location_pending = located.is_none();
        emissions::resolve_located(&Place::of(c), located.as_deref(), log)
    } else {
        emissions::resolve(&Place::of(c), log)
    };
    log.info(format!("Carbon intensity {} gCO2e/kWh from {}", intensity.g_per_kwh, intensity.source));
    (intensity, location_pending)
}

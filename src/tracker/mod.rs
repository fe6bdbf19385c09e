//! A tracker's lifecycle (created → running → stopped) and its accounting, under one lock per
//! tracker so that background ticks and caller flushes never count an interval twice.

pub mod accounting;
mod identity;
mod budget;
pub mod job;
mod metadata;
mod metrics_outputs;
pub mod node_share;
pub mod regions;
mod prediction;
mod progress;
mod tasks;

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};


pub use accounting::EmissionsSnapshot;
use accounting::Totals;
use tasks::Tasks;

use crate::config::{Config, Options, Secret, Sources};
use crate::log::Logger;
use crate::emissions::{self, Intensity, Place};
use crate::error::{Error, Result};
use crate::hardware::{self, Meters};
use crate::output::api::{ApiOutput, ApiSettings};
use crate::output::csv_file::{self, CsvSink};
use crate::output::{region_file, run_file, task_file, EmissionsData};
use crate::record::run::RunInfo;
use crate::record::Prediction;
use crate::output::http_endpoint::{self, HttpEndpoint};
use crate::output::uploader::Uploader;

/// Per-request limit for API and endpoint uploads (they run in the background).
const UPLOAD_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// flush reuses a measurement younger than this instead of taking a new one (the interval since
/// is counted at the next measurement). stop always measures: its interval has no "next".
const FRESH_ENOUGH: Duration = Duration::from_millis(50);

/// Measures the energy and emissions of this program (or this machine) from `start` to `stop`.
///
/// Create it with [`Options`], [`start`](Tracker::start) it, [`flush`](Tracker::flush) it
/// whenever a number is wanted (each flush writes a row of the CSV), and
/// [`stop`](Tracker::stop) it. Measurements also run in the background every
/// `measure_power_secs`. A tracker may be used from several threads (it is `Send` and `Sync`,
/// with `&self` everywhere: share it in an `Arc`, or borrow it in scoped threads). Dropping a
/// running tracker stops it (the final row is written; errors are logged; as `stop`, it waits
/// up to `api_timeout_s` for uploads still queued); [`discard`](Tracker::discard) releases it
/// without.
///
/// See the [crate documentation](crate) for examples.
pub struct Tracker {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    log: Logger,
    run_id: String,
    /// The job this process is a rank of, if any.
    job: Option<job::Job>,
    /// With whom it shares the node's energy (with `job`).
    node_scope: Option<job::NodeScope>,
    /// Which processes `tracking_mode=process` counts.
    tree: hardware::process::Tree,
    state: Mutex<Phase>,
    /// Named parts of the program entered many times; outside `state`, so that their cheap
    /// boundaries never wait for a measurement.
    regions: regions::Regions,
    /// `set_progress`'s reports: a lock of their own, never held while measuring, so that a
    /// report costs no more than taking it (taken after `state` when both are needed).
    progress: Mutex<progress::ProgressLog>,
}

enum Phase {
    Created,
    Running(Box<Running>),
    /// With `restart_after_stop`, what a later `start` resumes from.
    Stopped(Option<Box<Resumable>>),
}

/// A stopped run that `start` may resume (`restart_after_stop`): its totals and finished tasks
/// go on, and so do its API uploads (same API run, deltas from where they were).
struct Resumable {
    totals: Totals,
    duration_s: f64,
    finished_tasks: Vec<tasks::FinishedTask>,
    api: Option<Arc<ApiOutput>>,
    endpoint: Option<Arc<Uploader<HttpEndpoint>>>,
}

struct Running {
    meters: Meters,
    /// What measurements use: the table intensity, or Electricity Maps' live number.
    intensity: Intensity,
    /// From the tables (and the location lookup); the fallback of the live value.
    table_intensity: Intensity,
    /// True until the network location lookup has finished (meanwhile: world average).
    location_pending: bool,
    /// The descriptive columns of this run's rows (rebuilt when the location is found).
    run: Arc<RunInfo>,
    started_at: Instant,
    /// The run's duration before `started_at` (the windows before a restart).
    duration_before_s: f64,
    last_measured: Instant,
    totals: Totals,
    ticker: Option<crate::background::TickHandle>,
    /// Background measurements since start (for `api_call_interval`).
    ticks: u64,
    sink: Option<CsvSink>,
    api: Option<Arc<ApiOutput>>,
    endpoint: Option<Arc<Uploader<HttpEndpoint>>>,
    /// Named windows of this run (`start_task` / `stop_task`).
    tasks: Tasks,
    /// Prometheus, OpenTelemetry and logger outputs.
    metrics: Option<metrics_outputs::MetricsOutputs>,
    /// A rank of a job: its part of the node's machine-wide energy (counted once).
    node: Option<node_share::NodeShare>,
    /// Why this rank of a job does not share the node (it counts the whole machine), if so.
    coordination_refused: Option<String>,
    /// The process that started the run: in a forked child the tracker is inert.
    pid: u32,
    /// Job, node and rank, for the run and region files.
    identity: crate::record::identity::Identity,
    /// The run file (ranks of a job) is written once, at the first report that succeeds.
    run_file_written: bool,
    /// Cumulative energy and emissions at each measurement, for predictions.
    measurements: progress::MeasurementLog,
    /// Budget warnings already logged.
    budget: budget::BudgetWatch,
}

/// What a report (flush, stop) made: the numbers always, and the errors of outputs that failed
/// (the totals are kept in memory, so the next flush writes them again; at stop, uploads not
/// delivered within `api_timeout_s`). [`Tracker::flush`] and [`Tracker::stop`] turn it into a
/// `Result`.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) emissions: EmissionsSnapshot,
    pub(crate) errors: Vec<Error>,
}

impl Report {
    fn into_result(self) -> std::result::Result<EmissionsSnapshot, ReportError> {
        if self.errors.is_empty() {
            Ok(self.emissions)
        } else {
            Err(ReportError { emissions: Some(Box::new(self.emissions)), errors: self.errors })
        }
    }
}

/// Why [`Tracker::flush`] or [`Tracker::stop`] failed, with the numbers when they were measured.
///
/// Measuring and saving are separate: when an output could not take the numbers (the CSV or a
/// file beside it could not be written, uploads were not delivered within `api_timeout_s` at
/// stop), the numbers are still measured and kept, the next flush writes them again, and this
/// error carries them: [`ReportError::emissions`]. When nothing was measured (the tracker was
/// not running), it carries none.
///
/// ```
/// # use carbon_tracker::{Options, Tracker, ErrorKind};
/// # let dir = std::env::temp_dir().join(format!("ct-doc-report-error-{}", std::process::id()));
/// let tracker = Tracker::new(Options::new().offline(true).country_iso_code("FRA").output_dir(&dir))?;
/// tracker.start()?;
/// std::fs::remove_dir_all(&dir)?; // the CSV cannot be written any more
/// match tracker.flush() {
///     Ok(e) => println!("{} kg CO2e", e.emissions_kg),
///     Err(e) => {
///         eprintln!("not saved: {e}");
///         if let Some(numbers) = e.emissions() {
///             println!("{} kg CO2e (measured, kept for the next flush)", numbers.emissions_kg);
///         }
/// #       assert_eq!(e.kind(), ErrorKind::Io);
/// #       assert!(e.emissions().is_some());
///     }
/// }
/// # assert!(tracker.stop().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReportError {
    // Boxed: the error stays small, as clippy's result_large_err asks of an `Err` variant.
    emissions: Option<Box<EmissionsSnapshot>>,
    /// At least one.
    errors: Vec<Error>,
}

impl ReportError {
    /// The numbers measured despite the failure (the totals since start, as `Ok` would have
    /// given them); `None` when the call measured nothing.
    pub fn emissions(&self) -> Option<&EmissionsSnapshot> {
        self.emissions.as_deref()
    }

    /// What failed, at least one error (several outputs may fail at once), in the order met.
    pub fn errors(&self) -> &[Error] {
        &self.errors
    }

    /// The kind of the first error.
    pub fn kind(&self) -> crate::error::ErrorKind {
        self.errors[0].kind
    }

    /// The numbers and the errors, taken apart.
    pub fn into_parts(self) -> (Option<EmissionsSnapshot>, Vec<Error>) {
        (self.emissions.map(|e| *e), self.errors)
    }
}

impl From<Error> for ReportError {
    /// An error of a call that measured nothing.
    fn from(e: Error) -> ReportError {
        ReportError { emissions: None, errors: vec![e] }
    }
}

impl From<ReportError> for Error {
    /// For `?` in a function that returns [`carbon_tracker::Result`](crate::Result): the kind of
    /// the first error and every message. The numbers are not kept: match the `ReportError`
    /// ([`ReportError::emissions`]) where they matter.
    ///
    /// ```
    /// # use carbon_tracker::{Options, Tracker};
    /// fn measured(t: &Tracker) -> carbon_tracker::Result<f64> {
    ///     Ok(t.flush()?.energy_consumed_kwh)
    /// }
    /// # let t = Tracker::new(Options::new().offline(true).country_iso_code("FRA").save_to_file(false))?;
    /// # t.start()?;
    /// # assert!(measured(&t)? >= 0.0);
    /// # let not_running = Tracker::new(Options::new().offline(true).country_iso_code("FRA"))?;
    /// # assert_eq!(measured(&not_running).unwrap_err().kind, carbon_tracker::ErrorKind::InvalidState);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from(e: ReportError) -> Error {
        Error::new(e.kind(), e.to_string())
    }
}

impl std::fmt::Display for ReportError {
    /// The errors' messages, joined by `; `.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<&str> = self.errors.iter().map(|e| e.message.as_str()).collect();
        f.write_str(&messages.join("; "))
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors.first().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Tracker {
    /// A tracker with these options, resolved with the environment and the config files
    /// (options > `CODECARBON_*` environment > `./.codecarbon.config` > `~/.codecarbon.config` >
    /// the options' defaults > the library's). No probing, no I/O but the two config files; what
    /// was ignored in them is logged.
    ///
    /// An error ([`ErrorKind::InvalidOption`](crate::ErrorKind::InvalidOption)) names the bad
    /// key or value and where it came from: an unknown key (with the nearest known ones), a
    /// value out of range, a country code that exists nowhere, options that contradict each
    /// other (`offline` with a network output).
    pub fn new(options: Options) -> Result<Tracker> {
        let (sources, mut notes) = Sources::from_process_with_notes(&options)?;
        let (config, more) = Config::from_sources_with_notes(&sources)?;
        notes.extend(more);
        let t = Tracker::from_config(config);
        // How the configuration was resolved (unreadable config files skipped, ignored keys and
        // values, deprecated names): said once, when it happens, as CodeCarbon logs them at
        // construction.
        for (level, note) in &notes {
            t.inner.log.log(*level, note);
        }
        Ok(t)
    }

    /// A tracker of a configuration made by hand (this repository's tests).
    #[cfg(any(test, feature = "test-hooks"))]
    #[doc(hidden)]
    pub fn with_config(config: Config) -> Tracker {
        Tracker::from_config(config)
    }

    fn from_config(config: Config) -> Tracker {
        let run_id = uuid::Uuid::new_v4().to_string();
        let log = config.logger();
        let (job, node_scope) = job::detect(&config).unzip();
        Tracker {
            inner: Arc::new(Inner {
                config,
                log,
                run_id,
                job,
                node_scope,
                tree: hardware::process::Tree::default(),
                state: Mutex::new(Phase::Created),
                regions: Default::default(),
                progress: Mutex::new(progress::ProgressLog::default()),
            }),
        }
    }

    /// With `tracking_mode=process`, counts only the processes this one starts (live, and
    /// reaped), not its own work: for a program that runs a command and measures it (as
    /// `carbon-tracker monitor` does), whose own threads are not the command's. Call it on the
    /// new tracker, before sharing it.
    #[must_use = "returns the tracker that counts only the descendants"]
    pub fn counting_only_descendants(mut self) -> Tracker {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.tree = hardware::process::Tree::DescendantsOnly;
        }
        self
    }

    /// The resolved configuration (this repository's tests).
    #[cfg(any(test, feature = "test-hooks"))]
    #[doc(hidden)]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// This run's UUID (the CSV's `run_id`).
    #[must_use]
    pub fn run_id(&self) -> &str {
        &self.inner.run_id
    }

    /// Starts measuring: checks `output_dir` (when `save_to_file`: created when only it is
    /// missing; an [`ErrorKind::Io`](crate::ErrorKind::Io) error when it cannot be created or
    /// written, and the tracker stays unstarted), probes the hardware (once per process: later
    /// trackers reuse it), reads the starting counters and starts the background measurements.
    ///
    /// Starting a running tracker, or a stopped one (unless `restart_after_stop`), is an
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) error.
    pub fn start(&self) -> Result<()> {
        let mut phase = self.inner.lock();
        if matches!(*phase, Phase::Running(_)) {
            return Err(Error::state("start: the tracker is already running"));
        }
        self.inner.begin_unless_running(&mut phase, "start")
    }


    /// Opens a named window (a task), starting the tracker first if it is not running (as
    /// CodeCarbon does). The task's numbers are the run's totals between a measurement taken
    /// now and one taken at [`stop_task`](Tracker::stop_task); the run itself goes on measuring.
    /// Tasks may overlap and nest, in any threads; a name may be used again once its task has
    /// stopped. Starting a name that is running is an
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) error naming the running
    /// tasks. A task costs a measurement at each end (regions cost none).
    pub fn start_task(&self, name: &str) -> Result<()> {
        tasks::check_name(name)?;
        let mut phase = self.inner.lock();
        self.inner.begin_unless_running(&mut phase, "start_task")?;
        let Phase::Running(r) = &mut *phase else { unreachable!("begun above") };
        r.tasks.require_not_running(name)?; // before measuring
        let now = self.inner.measure(r, false);
        r.tasks.start(name, r.totals, now)
    }

    /// Closes the task `name`: measures now and returns its numbers (duration: its wall time).
    /// Its row goes to the task file (`emissions_<experiment_name>_<run_id>.csv`) at the next
    /// flush or stop; `stop` ends the tasks still running.
    pub fn stop_task(&self, name: &str) -> Result<EmissionsSnapshot> {
        let mut phase = self.inner.lock();
        let r = match &mut *phase {
            Phase::Running(r) => r,
            Phase::Created => return Err(Error::state("stop_task: the tracker is not started")),
            Phase::Stopped(_) => return Err(Error::state("stop_task: the tracker is stopped")),
        };
        r.tasks.require_running(name)?;
        let now = self.inner.measure(r, false);
        self.inner.stop_task(r, name, now)
    }

    /// Begins a call of region `name` (a phase of the program entered many times: a solver, a
    /// halo exchange): no measurement, a clock read, about 0.1 µs. The region's energy is the
    /// run's over the time it was open (docs/c.md, "Regions", has the rule). Allowed from any
    /// thread until `stop` (time before `start` counts, with no energy). A new name that is
    /// empty, over 256 bytes or with control characters is an
    /// [`ErrorKind::InvalidOption`](crate::ErrorKind::InvalidOption) error.
    pub fn region_begin(&self, name: &str) -> Result<()> {
        self.inner.regions.begin(name)
    }

    /// Ends a call of region `name`: the latest one begun on this thread, else the oldest open.
    /// A name with no open call is an [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState)
    /// error naming the open regions.
    pub fn region_end(&self, name: &str) -> Result<()> {
        self.inner.regions.end(name)
    }

    /// Begins a call of region `name` that ends when the returned guard is dropped (or at
    /// [`RegionGuard::end`], which reports an error): a scope is a call. The name is a `&str`
    /// or a `String` made for the call (the guard keeps it):
    ///
    /// ```
    /// # use carbon_tracker::{Options, Tracker};
    /// # let t = Tracker::new(Options::new().offline(true).country_iso_code("FRA").save_to_file(false))?;
    /// # t.start()?;
    /// for level in 0..3 {
    ///     let _solve = t.region("solve")?;
    ///     let _level = t.region(format!("level {level}"))?;
    ///     // ... the work of this level
    /// }
    /// # assert_eq!(t.regions().len(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn region<'a>(&'a self, name: impl Into<Cow<'a, str>>) -> Result<RegionGuard<'a>> {
        let name = name.into();
        self.region_begin(&name)?;
        Ok(RegionGuard { tracker: self, name: Some(name) })
    }

    /// Every region's totals so far (calls and durations up to now, energies up to the last
    /// measurement), in the order they were first begun.
    #[must_use]
    pub fn regions(&self) -> Vec<regions::RegionTotals> {
        self.inner.regions.totals()
    }

    /// Waits up to `timeout` for the network lookup of the location, when this tracker needs
    /// one (online, `location_lookup` on, and no country, cloud region or intensity given), and
    /// takes its answer in (measuring, writing nothing), so that the numbers from now on use the
    /// place found. Until it answers, the world average applies. `start` begins the lookup
    /// (once per process); before `start` this says [`LocationLookup::Pending`] at once (no
    /// lookup is running to wait for), and so it does when the lookup did not answer in time.
    /// `Duration::MAX` waits for as long as the lookup takes (its requests have timeouts of
    /// their own: a few seconds).
    pub fn wait_for_location(&self, timeout: Duration) -> LocationLookup {
        let c = &self.inner.config;
        if !c.needs_location_lookup() {
            return LocationLookup::NotNeeded;
        }
        // `None`: a timeout too long to add to the clock (`Duration::MAX`), waited out in full.
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(located) = emissions::location::get(c) {
                let mut phase = self.inner.lock();
                if let Phase::Running(r) = &mut *phase {
                    if r.location_pending {
                        self.inner.measure(r, false);
                    }
                }
                return match &located.geo {
                    Ok(_) => LocationLookup::Found,
                    Err(why) => LocationLookup::Failed(why.clone()),
                };
            }
            // Nothing to wait for when no tracker began this lookup (before `start`).
            if !emissions::location::begun(c) || deadline.is_some_and(|d| Instant::now() >= d) {
                return LocationLookup::Pending;
            }
            let left = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()));
            std::thread::sleep(Duration::from_millis(20).min(left));
        }
    }

    /// Measures (unless the last measurement, or `start`, is under 50 ms old: the interval since
    /// is counted at the next measurement, so a flush right after `start` reports no energy
    /// yet), writes a CSV row (and the task, region and run files when they changed) and
    /// returns the totals since start.
    ///
    /// When an output fails, the error carries the numbers ([`ReportError::emissions`]): they
    /// are kept, and the next flush writes them again. Flushing a tracker that is not running is
    /// an [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) error, without numbers.
    pub fn flush(&self) -> std::result::Result<EmissionsSnapshot, ReportError> {
        self.flush_report()?.into_result()
    }

    pub(crate) fn flush_report(&self) -> Result<Report> {
        let mut phase = self.inner.lock();
        match &mut *phase {
            Phase::Running(r) if r.forked() => Ok(self.inner.inert_report(r)),
            Phase::Running(r) => Ok(self.inner.report(r, false)),
            Phase::Created => Err(Error::state("flush: the tracker is not started")),
            Phase::Stopped(_) => Err(Error::state("flush: the tracker is stopped")),
        }
    }

    /// Measures the last interval, ends the tasks still running, writes the final CSV row,
    /// queues the final uploads and stops the background ticks; then waits up to
    /// `api_timeout_s` for pending uploads (without holding the tracker's lock). Returns the
    /// run's totals. The tracker cannot be started again, unless `restart_after_stop` is set.
    ///
    /// The tracker is stopped even when this fails: an output that failed, or uploads not
    /// delivered in time, give an error that carries the numbers ([`ReportError::emissions`]).
    pub fn stop(&self) -> std::result::Result<EmissionsSnapshot, ReportError> {
        self.stop_report()?.into_result()
    }

    pub(crate) fn stop_report(&self) -> Result<Report> {
        let (mut report, api, endpoint, metrics) = {
            let mut phase = self.inner.lock();
            let Phase::Running(r) = &mut *phase else {
                return Err(match *phase {
                    Phase::Created => Error::state("stop: the tracker is not started"),
                    _ => Error::state("stop: the tracker is already stopped"),
                });
            };
            if r.forked() {
                // The parent's locks, files, outputs and threads: left alone (forgotten, so no
                // destructor unlocks, removes or writes anything).
                let report = self.inner.inert_report(r);
                if let Phase::Running(r) = std::mem::replace(&mut *phase, Phase::Stopped(None)) {
                    std::mem::forget(r);
                }
                return Ok(report);
            }
            if let Some(t) = r.ticker.take() {
                t.abort();
            }
            let report = self.inner.report(r, true);
            let outputs = (report, r.api.clone(), r.endpoint.clone(), r.metrics.take());
            let resume = self.inner.config.restart_after_stop.then(|| {
                Box::new(Resumable {
                    totals: r.totals,
                    duration_s: outputs.0.emissions.duration_s,
                    finished_tasks: std::mem::take(&mut r.tasks.finished),
                    api: r.api.take(),
                    endpoint: r.endpoint.take(),
                })
            });
            *phase = Phase::Stopped(resume);
            self.inner.progress_log().end();
            outputs
        };
        let deadline = Instant::now() + Duration::from_secs_f64(self.inner.config.api_timeout_s);
        let left = || deadline.saturating_duration_since(Instant::now());
        // Waiting for the background's uploads: outside the fork gate, so that a fork meanwhile
        // neither waits for this nor keeps the uploads from finishing.
        crate::background::outside_fork_gate(|| {
            if let Some(api) = api {
                report.errors.extend(api.finish(left()).err());
            }
            if let Some(ep) = endpoint {
                report.errors.extend(ep.finish(left()).err());
            }
            if let Some(m) = metrics {
                report.errors.extend(m.finish(&left));
            }
        });
        for e in &report.errors {
            if e.kind == crate::error::ErrorKind::Network {
                self.inner.log.error(e.to_string());
            }
        }
        Ok(report)
    }

    /// Ends the tracker without stopping it, for finalizers and garbage collectors: nothing
    /// more is measured or written (no final row, no task rows; CodeCarbon writes nothing for a
    /// tracker collected without `stop()`), uploads still queued are given up, and nothing is
    /// waited for. A running tracker says in the log that it was never stopped.
    pub fn discard(self) {
        let running = {
            let mut phase = self.inner.lock();
            match std::mem::replace(&mut *phase, Phase::Stopped(None)) {
                Phase::Running(r) => Some(r),
                // Stopped, kept for a restart: its uploads are given up as a running one's.
                Phase::Stopped(Some(resume)) => {
                    give_up_uploads(resume.api, resume.endpoint);
                    None
                }
                _ => None,
            }
        };
        let Some(mut r) = running else { return };
        if r.forked() {
            std::mem::forget(r);
            return;
        }
        if let Some(t) = r.ticker.take() {
            t.abort();
        }
        give_up_uploads(r.api.take(), r.endpoint.take());
        if let Some(m) = r.metrics.take() {
            m.abandon();
        }
        let c = &self.inner.config;
        self.inner.log.warning(format!(
            "a tracker (project {}, run {}) was released without being stopped: what it measured since its last \
             flush is not written; call stop() before releasing it",
            c.project_name, self.inner.run_id
        ));
    }

    /// The totals as of the last measurement, without measuring or writing anything (for a live
    /// display; the background measurements keep it fresh). A tracker that is not running
    /// (before `start`, after `stop`) gives an
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) error.
    pub fn peek(&self) -> Result<EmissionsSnapshot> {
        let phase = self.inner.lock();
        match &*phase {
            Phase::Running(r) => {
                let measured_s = r.duration_s(r.last_measured);
                Ok(r.totals.snapshot(measured_s, &r.intensity, self.inner.config.pue))
            }
            _ => Err(Error::state("peek: the tracker is not running")),
        }
    }

    /// Reports progress: `done` steps out of `total` (`total` 1 for a fraction), from which
    /// [`predict`](Tracker::predict) predicts the run's totals. Cheap enough to call at every
    /// step (no measurement, about 40 ns). A lower `done` than before is a rollback; `total` may
    /// change from one call to the next. NaN, `total` ≤ 0 or `done` outside 0..=`total` are
    /// [`ErrorKind::InvalidOption`](crate::ErrorKind::InvalidOption) errors, and nothing is
    /// recorded; so is any report to a tracker that is not running (before `start`, after
    /// `stop`), an [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) error.
    pub fn set_progress(&self, done: f64, total: f64) -> Result<()> {
        self.inner.progress_log().record(done, total, crate::clock::now())
    }

    /// The run's predicted totals at completion, with 90 % intervals, and its budget state
    /// (see [`Prediction`]; the method is in docs/predictions.md). Measures
    /// first unless the last measurement (or `start`) is under 50 ms old, as `flush`; writes
    /// nothing. Before 3 progress reports spanning 1 % of the work, the state says so and the
    /// numbers are NaN.
    /// A tracker that is not running (before `start`, after `stop`) gives an
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) error.
    pub fn predict(&self) -> Result<Prediction> {
        self.prediction_with("predict", true)
    }

    /// [`Tracker::predict`] from the last measurement, without measuring (for a live display).
    pub fn peek_prediction(&self) -> Result<Prediction> {
        self.prediction_with("peek_prediction", false)
    }

    /// `call`: the method's name, for its error.
    fn prediction_with(&self, call: &str, measure: bool) -> Result<Prediction> {
        let mut phase = self.inner.lock();
        let Phase::Running(r) = &mut *phase else {
            return Err(Error::state(format!("{call}: the tracker is not running")));
        };
        let now = crate::clock::now();
        if measure && now.saturating_duration_since(r.last_measured) >= FRESH_ENOUGH {
            self.inner.measure(r, false);
        }
        Ok(self.inner.prediction(r))
    }

    /// What this tracker measures and how, as JSON (the document of `ct_tracker_json` and
    /// `carbon-tracker detect --json`): the detected hardware, which source or model gives each
    /// of the CPU, GPU and RAM numbers, the carbon intensity and where it comes from, the
    /// outputs, the job, the regions' totals. Probes the hardware (once per process) if the
    /// tracker is not started yet.
    #[must_use]
    pub fn describe(&self) -> serde_json::Value {
        let c = &self.inner.config;
        let phase = self.inner.lock();
        let (state, plan, intensity) = match &*phase {
            Phase::Running(r) => ("running", r.meters.plan().clone(), Some(r.intensity.clone())),
            Phase::Created => ("created", hardware::plan_for(c, &self.inner.log), None),
            Phase::Stopped(_) => ("stopped", hardware::plan_for(c, &self.inner.log), None),
        };
        let counts_node = match &*phase {
            Phase::Running(r) => r.node.as_ref().map(|n| n.is_counter()),
            _ => None,
        };
        // How this rank shares the node: "shared", or why not (it counts the whole machine).
        let coordination = match &*phase {
            Phase::Running(r) if r.node.is_some() => Some("shared".to_string()),
            Phase::Running(r) => r.coordination_refused.clone(),
            _ => None,
        };
        // The GPUs this tracker counts now: in a job that counts the node once, those whose
        // lock it holds; otherwise every GPU it tracks (null when not running).
        let gpus_counted: Option<Vec<String>> = match &*phase {
            Phase::Running(r) => Some(match &r.node {
                Some(n) => n.gpus_counted().map(str::to_string).collect(),
                None => r.meters.gpus_counted().map(str::to_string).collect(),
            }),
            _ => None,
        };
        // gpu_share=split: each GPU's last interval, in parts (null when not split).
        let gpu_splits: Vec<serde_json::Value> = match &*phase {
            Phase::Running(r) => r.meters.gpu_splits().zip(r.meters.gpu_intervals()).map(|(s, iv)| split_json(s, &iv)).collect(),
            _ => Vec::new(),
        };
        drop(phase);
        let mut d = metadata::describe(c, &self.inner.run_id, state, &plan, intensity.as_ref());
        if let Some(gpus) = d["gpus"].as_array_mut() {
            for (g, s) in gpus.iter_mut().zip(gpu_splits) {
                g["last_split"] = s;
            }
        }
        d["job"] = self.inner.job.as_ref().map_or(serde_json::Value::Null, |j| {
            let mut v = j.to_json();
            v["count_node_once"] = serde_json::json!(self.inner.shares_node().is_some());
            v["counts_node_now"] = serde_json::json!(counts_node);
            v["coordination"] = serde_json::json!(coordination);
            v["gpus_counted_now"] = serde_json::json!(gpus_counted);
            v
        });
        d["outputs"]["prometheus"] = serde_json::json!(c.save_to_prometheus.then(|| c.prometheus_url.clone()));
        d["outputs"]["otlp"] = serde_json::json!((c.save_to_otlp || c.save_to_logfire).then(|| c.otlp_endpoint.clone().unwrap_or_default()));
        d["outputs"]["logger"] = serde_json::json!(c.save_to_logger);
        d["regions"] = serde_json::Value::Array(self.regions().iter().map(region_file::to_json).collect());
        d
    }

    /// Whether the tracker is started and not stopped.
    #[must_use]
    pub fn is_running(&self) -> bool {
        matches!(*self.inner.lock(), Phase::Running(_))
    }
}

/// The tracker's lock, held: on release, the log lines made meanwhile go to the log callback.
struct PhaseGuard<'a> {
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

/// A GPU's last split for `ct_tracker_json`: the device's energy, this tracker's part, how it
/// was split and between how many processes.
fn split_json(s: Option<&hardware::gpu_share::Split>, iv: &hardware::gpu::DeviceInterval) -> serde_json::Value {
    s.map_or(serde_json::Value::Null, |s| {
        serde_json::json!({
            "method": s.method.name(),
            "device_j": s.device_j,
            "own_j": iv.own_j,
            "idle_j": s.idle_j,
            "unattributed_j": s.unattributed_j,
            "processes": s.parts.len(),
            "parts_j": s.parts.iter().map(|(pid, j)| serde_json::json!({"pid": pid, "j": j})).collect::<Vec<_>>(),
        })
    })
}

/// What became of the network lookup of the location ([`Tracker::wait_for_location`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocationLookup {
    /// This tracker needs none: a country, cloud region or intensity is given, it is offline,
    /// or `location_lookup` is off.
    NotNeeded,
    /// The geolocation answered: its country (and region) apply.
    Found,
    /// Both geolocation services failed (why): the world average applies, or the cloud
    /// region's intensity if the cloud metadata answered.
    Failed(String),
    /// No answer yet (or the tracker was not started).
    Pending,
}

/// A call of a region ([`Tracker::region`]): it ends when this is dropped.
#[must_use = "the call ends when the guard is dropped: bind it to a variable (`let _r = ...`), not to `_`"]
#[derive(Debug)]
pub struct RegionGuard<'a> {
    tracker: &'a Tracker,
    /// `None` once the call has ended ([`RegionGuard::end`]).
    name: Option<Cow<'a, str>>,
}

impl RegionGuard<'_> {
    /// Ends the call now, reporting an error (after `stop`:
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState)) that dropping the guard
    /// would ignore.
    pub fn end(mut self) -> Result<()> {
        let name = self.name.take().expect("a guard's call is open until it ends");
        self.tracker.region_end(&name)
    }
}

impl Drop for RegionGuard<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            let _ = self.tracker.region_end(&name);
        }
    }
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker").field("run_id", &self.inner.run_id).field("project_name", &self.inner.config.project_name).finish_non_exhaustive()
    }
}

impl Drop for Tracker {
    /// A running tracker is stopped (final row written); errors go to the log.
    fn drop(&mut self) {
        if self.is_running() {
            if let Ok(report) = self.stop_report() {
                for e in report.errors {
                    self.inner.log.error(format!("stop on free: {e}"));
                }
            }
        }
    }
}

/// Gives up the API and endpoint uploads still queued, waiting for nothing (`discard`).
fn give_up_uploads(api: Option<Arc<ApiOutput>>, endpoint: Option<Arc<Uploader<HttpEndpoint>>>) {
    if let Some(api) = api {
        let _ = api.finish(Duration::ZERO);
    }
    if let Some(ep) = endpoint {
        let _ = ep.finish(Duration::ZERO);
    }
}

impl Running {
    /// Whether this is a forked child's copy of the run (inert).
    fn forked(&self) -> bool {
        std::process::id() != self.pid
    }

    /// The run's duration at `at`: its windows before a restart, and this one up to `at`.
    fn duration_s(&self, at: Instant) -> f64 {
        self.duration_before_s + at.saturating_duration_since(self.started_at).as_secs_f64()
    }
}

impl Inner {
    /// The job as the node's coordination knows it (its id is the node scope's key), when this
    /// rank counts the node once with the others: machine mode, `job_count_node_once`, and not
    /// alone on the node by what the launchers say.
    fn shares_node(&self) -> Option<job::Job> {
        let c = &self.config;
        match (&self.job, &self.node_scope) {
            (Some(j), Some(s)) if c.job_count_node_once && c.tracking_mode == crate::config::TrackingMode::Machine && !s.alone => {
                Some(job::Job { id: s.key.clone(), ..j.clone() })
            }
            _ => None,
        }
    }

    /// The CSV output, checked before anything starts: `output_dir` exists (created when only
    /// it is missing) and the CSV can be written there (its header is written now).
    fn open_csv(&self) -> Result<Option<CsvSink>> {
        let c = &self.config;
        if !c.save_to_file {
            return Ok(None);
        }
        csv_file::ensure_output_dir(&c.output_dir)?;
        let sink = CsvSink::new(c.output_path(), c.on_csv_write);
        sink.prepare(&self.log)
            .map_err(|e| Error::new(e.kind, format!("output_dir {}: {}", c.output_dir.display(), e.message)))?;
        Ok(Some(sink))
    }

    /// Created → running; stopped with `restart_after_stop` → running again (resumed).
    fn begin_unless_running(self: &Arc<Inner>, phase: &mut Phase, what: &str) -> Result<()> {
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
        let sink = match self.open_csv() {
            Ok(sink) => sink,
            Err(e) => {
                *phase = match resume {
                    Some(r) => Phase::Stopped(Some(r)),
                    None => Phase::Created,
                };
                return Err(e);
            }
        };
        *phase = Phase::Running(Box::new(Inner::begin(self, sink, resume)));
        Ok(())
    }

    /// Probes the hardware (once per process), resolves the intensity, opens the outputs, reads
    /// the starting counters and schedules the background ticks: the state of a started tracker
    /// (of a resumed one with `resume`: its totals, tasks and uploads go on).
    fn begin(inner: &Arc<Inner>, sink: Option<CsvSink>, resume: Option<Box<Resumable>>) -> Running {
        let c = &inner.config;
        let log = &inner.log;
        let plan = hardware::plan_for(c, log);
        crate::clock::load_zone();
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
        let run = Arc::new(metadata::run_info(c, &inner.run_id, &plan, &intensity));
        let resumed_api = resume.as_ref().and_then(|r| r.api.clone());
        let api = resumed_api.or_else(|| c.save_to_api.then(|| {
            if c.api_key.is_none() {
                log.warning("save_to_api without api_key: the CodeCarbon API will refuse the uploads (403)");
            }
            let settings = ApiSettings { endpoint: c.api_endpoint.clone(), api_key: c.api_key.clone(), request_timeout: UPLOAD_REQUEST_TIMEOUT };
            Arc::new(ApiOutput::new(settings, &run, log.clone()))
        }));
        let mut metrics = Some(metrics_outputs::MetricsOutputs::start(c, &run, inner.job.as_ref(), UPLOAD_REQUEST_TIMEOUT, log)).filter(|m| !m.is_empty());
        let resumed_endpoint = resume.as_ref().and_then(|r| r.endpoint.clone());
        let endpoint = resumed_endpoint.or_else(|| {
            c.emissions_endpoint.as_ref().map(|url| {
                Arc::new(Uploader::new(HttpEndpoint { url: url.clone(), request_timeout: UPLOAD_REQUEST_TIMEOUT }, log.clone()))
            })
        });
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
        let (totals, duration_before_s, tasks) = match resume {
            Some(r) => {
                log.info(format!("resuming the run after {:.3} s measured", r.duration_s));
                if let Some(m) = &mut metrics {
                    m.continue_from(r.totals.snapshot(r.duration_s, &intensity, c.pue));
                }
                let mut tasks = Tasks::default();
                tasks.finished = r.finished_tasks;
                (r.totals, r.duration_s, tasks)
            }
            None => (Totals::default(), 0.0, Tasks::default()),
        };
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
            sink,
            api,
            endpoint,
            tasks,
            metrics,
            node,
            coordination_refused,
            pid: std::process::id(),
            identity: identity::of(c, &inner.run_id, inner.job.as_ref()),
            run_file_written: false,
            measurements: progress::MeasurementLog::default(),
            budget: budget::BudgetWatch::default(),
        }
    }

    /// A poisoned lock only means a panic happened while it was held; the totals are still
    /// consistent (each interval is applied by one `Totals::add`), so keep going. The log lines
    /// made while it is held reach the log callback once it is released (the callback may call
    /// the tracker).
    fn lock(&self) -> PhaseGuard<'_> {
        let logs = crate::log::defer();
        PhaseGuard { guard: Some(self.state.lock().unwrap_or_else(|p| p.into_inner())), logs: Some(logs) }
    }

    fn progress_log(&self) -> MutexGuard<'_, progress::ProgressLog> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn has_budget(&self) -> bool {
        self.config.energy_budget_kwh.is_some() || self.config.emissions_budget_kg.is_some()
    }

    /// The prediction as of the last measurement.
    fn prediction(&self, r: &Running) -> Prediction {
        let since_start = |t: Instant| t.saturating_duration_since(r.started_at).as_secs_f64();
        let view = self.progress_log().view();
        let (points, total) = view.as_ref().map_or((&[][..], 1.0), |(p, t)| (&p[..], *t));
        let f = prediction::forecast(&prediction::Inputs {
            progress: points,
            total,
            measurements: &r.measurements,
            now_s: since_start(crate::clock::now()),
            measured_energy_kwh: r.totals.energy_kwh,
            measured_emissions_kg: r.totals.emissions_kg,
        });
        let mut p = Prediction {
            state: f.state,
            budget_state: crate::record::BudgetState::None,
            progress: f.progress,
            measured_duration_s: since_start(r.last_measured),
            measured_energy_kwh: r.totals.energy_kwh,
            measured_emissions_kg: r.totals.emissions_kg,
            predicted_duration_s: f.duration_s.point,
            predicted_duration_low_s: f.duration_s.low,
            predicted_duration_high_s: f.duration_s.high,
            predicted_energy_kwh: f.energy_kwh.point,
            predicted_energy_low_kwh: f.energy_kwh.low,
            predicted_energy_high_kwh: f.energy_kwh.high,
            predicted_emissions_kg: f.emissions_kg.point,
            predicted_emissions_low_kg: f.emissions_kg.low,
            predicted_emissions_high_kg: f.emissions_kg.high,
            time_left_s: f.time_left_s,
            confidence: prediction::CONFIDENCE,
            energy_budget_kwh: self.config.energy_budget_kwh.unwrap_or(0.0),
            emissions_budget_kg: self.config.emissions_budget_kg.unwrap_or(0.0),
        };
        p.budget_state = budget::state(&p);
        p
    }

    /// Background tick: false ends the ticking.
    fn tick(&self) -> bool {
        let mut phase = self.lock();
        match &mut *phase {
            // A forked child's copy measures nothing (its parent goes on measuring).
            Phase::Running(r) if r.forked() => false,
            Phase::Running(r) => {
                let now = self.measure(r, false);
                r.ticks += 1;
                let every = self.config.api_call_interval;
                if let Some(api) = &r.api {
                    if every > 0 && r.ticks % every as u64 == 0 {
                        let duration_s = r.duration_s(now);
                        api.push_total(&r.totals.snapshot(duration_s, &r.intensity, self.config.pue), false);
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// Takes in a finished location lookup and the latest live intensity, if any.
    fn refresh_intensity(&self, r: &mut Running) {
        let c = &self.config;
        if r.location_pending {
            match emissions::location::get(c) {
                Some(located) => {
                    r.table_intensity = emissions::resolve_located(&Place::of(c), Some(&located), &self.log);
                    r.intensity = r.table_intensity.clone();
                    r.location_pending = false;
                    r.run = Arc::new(metadata::run_info(c, &self.run_id, r.meters.plan(), &r.intensity));
                    if let Some(api) = &r.api {
                        api.set_run(&r.run);
                    }
                }
                None => self.log.info("location lookup still running: the world average applies to this interval"),
            }
        }
        if let Some(Secret(token)) = &c.electricitymaps_api_token {
            let live = r
                .table_intensity
                .live_zone(&Place::of(c))
                .and_then(|zone| emissions::electricitymaps::current(&c.electricitymaps_api_url, token, &zone, &self.log));
            r.intensity = r.table_intensity.clone();
            if let Some(g) = live {
                r.intensity.g_per_kwh = g;
                r.intensity.source = "Electricity Maps (live)".into();
            }
        }
    }

    /// Measures the interval since the last measurement, up to now (returned). `last`: the
    /// final measurement (stop). Region boundaries are read at the same instant.
    fn measure(&self, r: &mut Running, last: bool) -> Instant {
        self.refresh_intensity(r);
        let (boundary, now, still_open) = self.regions.boundary(last);
        if !still_open.is_empty() {
            self.log.warning(format!("regions still open at stop, ended there: {}", still_open.join(", ")));
        }
        let before = r.totals;
        let dt_s = now.saturating_duration_since(r.last_measured).as_secs_f64();
        let mut sample = r.meters.measure(dt_s, last, &self.log);
        if let Some(node) = &mut r.node {
            sample = node.apportion(sample, r.meters.gpu_intervals(), last);
        }
        // Cumulative totals never go down (CSV, Prometheus and OTLP counters, the API): no
        // source gives a negative interval; should one, it is not applied, and said.
        for (what, kwh) in
            [("CPU", &mut sample.cpu_energy_kwh), ("GPU", &mut sample.gpu_energy_kwh), ("RAM", &mut sample.ram_energy_kwh)]
        {
            if kwh.is_nan() || *kwh < 0.0 {
                self.log.warning(format!("a negative or undefined {what} energy ({kwh:e} kWh) for an interval: counted as 0"));
                *kwh = 0.0;
            }
        }
        r.totals.add(dt_s, &sample, self.config.pue, self.config.wue_l_per_kwh, &r.intensity);
        r.last_measured = now;
        self.regions.attribute(&boundary, &r.totals.since(&before));
        let at_s = now.saturating_duration_since(r.started_at).as_secs_f64();
        r.measurements.push(progress::EnergyPoint { at_s, energy_kwh: r.totals.energy_kwh, emissions_kg: r.totals.emissions_kg });
        if self.has_budget() {
            let p = self.prediction(r);
            r.budget.check(&p, &self.log);
        }
        if self.log.enabled(crate::log::Level::Debug) {
            self.log.debug(format!(
                "measured {dt_s:.3} s: CPU {:.3e} kWh, GPU {:.3e} kWh, RAM {:.3e} kWh",
                sample.cpu_energy_kwh, sample.gpu_energy_kwh, sample.ram_energy_kwh
            ));
        }
        now
    }

    /// Ends task `name` at the measurement just taken at `now`.
    fn stop_task(&self, r: &mut Running, name: &str, now: Instant) -> Result<EmissionsSnapshot> {
        let (intensity, pue) = (&r.intensity, self.config.pue);
        let snapshot = |window: Totals, duration_s: f64| window.snapshot(duration_s, intensity, pue);
        r.tasks.stop(name, snapshot, r.totals, now, metadata::timestamp_now())
    }

    /// Rewrites the task file when tasks finished since it was last written.
    fn write_tasks(&self, r: &mut Running) -> Option<Error> {
        if !self.config.save_to_file || !r.tasks.unwritten {
            return None;
        }
        let rows: Vec<(String, EmissionsData)> = r
            .tasks
            .finished
            .iter()
            .map(|t| (t.name.clone(), EmissionsData { timestamp: t.timestamp.clone(), run: r.run.clone(), numbers: t.numbers }))
            .collect();
        let path = task_file::task_file_path(&self.config.output_dir, &self.config.experiment_name, &self.run_id);
        match task_file::write(&path, &rows) {
            Ok(()) => {
                r.tasks.unwritten = false;
                None
            }
            Err(e) => {
                self.log.error(format!("{e} (task rows kept; the next flush writes them again)"));
                Some(e)
            }
        }
    }

    /// Rewrites the region file (every report, once a region exists) and writes the run file of
    /// a rank of a job (once).
    fn write_run_files(&self, r: &mut Running) -> Vec<Error> {
        let c = &self.config;
        let mut errors = Vec::new();
        if !c.save_to_file {
            return errors;
        }
        if self.job.is_some() && !r.run_file_written {
            match run_file::write(&run_file::run_file_path(&c.output_dir, &c.experiment_name, &self.run_id), &r.identity) {
                Ok(()) => r.run_file_written = true,
                Err(e) => {
                    self.log.error(format!("{e} (written at the next flush)"));
                    errors.push(e);
                }
            }
        }
        if !self.regions.is_empty() {
            let path = region_file::region_file_path(&c.output_dir, &c.experiment_name, &self.run_id);
            if let Err(e) = region_file::write(&path, &metadata::timestamp_now(), &r.identity, &self.regions.totals()) {
                self.log.error(format!("{e} (the region totals are kept; the next flush writes them again)"));
                errors.push(e);
            }
        }
        errors
    }

    /// A forked child's flush or stop: the totals as of the parent's last measurement before
    /// the fork (the duration up to now), measuring and writing nothing (the run, its rows and its node share are the
    /// parent's).
    fn inert_report(&self, r: &Running) -> Report {
        let emissions = r.totals.snapshot(r.duration_s(Instant::now()), &r.intensity, self.config.pue);
        Report { emissions, errors: Vec::new() }
    }

    fn report(&self, r: &mut Running, final_report: bool) -> Report {
        let mut now = Instant::now();
        if final_report || now.saturating_duration_since(r.last_measured) >= FRESH_ENOUGH {
            now = self.measure(r, final_report);
        }
        if final_report {
            // CodeCarbon's stop ends the tasks still running, at the final measurement.
            for name in r.tasks.running_names() {
                let _ = self.stop_task(r, &name, r.last_measured);
            }
        }
        let emissions = r.totals.snapshot(r.duration_s(now), &r.intensity, self.config.pue);
        let mut errors = Vec::new();
        let mut row_written = true;
        if r.sink.is_some() || r.endpoint.is_some() || r.metrics.is_some() {
            let row = EmissionsData { timestamp: metadata::timestamp_now(), run: r.run.clone(), numbers: emissions };
            if let Some(sink) = &r.sink {
                if let Err(e) = sink.write(&row, &self.log) {
                    self.log.error(format!("{e} (totals kept; the next flush writes them again)"));
                    errors.push(e);
                    row_written = false;
                }
            }
            if let Some(ep) = &r.endpoint {
                let mut body = row.to_json();
                body["user"] = serde_json::json!(http_endpoint::user_name());
                ep.push(body);
            }
            // Prometheus and OTLP carry the prediction of a run that reports progress or has a budget.
            let wants_prediction = r.metrics.as_ref().is_some_and(|m| m.takes_prediction());
            let prediction = (wants_prediction && (self.has_budget() || !self.progress_log().is_empty())).then(|| self.prediction(r));
            if let Some(m) = &mut r.metrics {
                m.push(&row, prediction, &self.log);
            }
        }
        errors.extend(self.write_tasks(r));
        errors.extend(self.write_run_files(r));
        if let Some(api) = &r.api {
            api.push_total(&emissions, final_report);
        }
        // What this rank counted for the node is now on disk: none of it is void if it dies.
        // A final row not written is void: the node's other ranks count that time again.
        if let Some(node) = &mut r.node {
            match (final_report, row_written) {
                (true, w) => node.finish(w),
                (false, true) => node.reported(),
                (false, false) => {}
            }
        }
        Report { emissions, errors }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{options, Origin, Sources};
    use crate::hardware::gpu::fake::FakeGpu;
    use crate::hardware::gpu::GpuDevice;
    use crate::hardware::{cpuinfo, MachineFacts};
    use std::sync::atomic::Ordering;

    #[test]
    fn fake_gpus_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let opts = format!(
            "offline=true;country_iso_code=FRA;force_ram_power=0;output_dir={d};rapl_dir={d}/no-rapl;gpu_ids=0,GPU-bbbb",
            d = dir.path().display()
        );
        let config = Config::from_sources(&Sources { layers: vec![(Origin::Options, options::parse(&opts).unwrap())] }).unwrap();
        let with_counter = FakeGpu::new(0, "GPU-aaaa-0000", true);
        let without = FakeGpu::new(1, "GPU-bbbb-1111", false);
        let ignored = FakeGpu::new(2, "GPU-cccc-2222", true);
        without.power_mw.store(100_000, Ordering::SeqCst); // 100 W
        without.util.store(50, Ordering::SeqCst);
        with_counter.util.store(50, Ordering::SeqCst);
        let devices: Vec<Arc<dyn GpuDevice>> = vec![with_counter.clone(), without.clone(), ignored.clone()];
        let facts = MachineFacts {
            cpu: cpuinfo::read(),
            mem: None,
            proc_stat_readable: true,
            arm: false,
            gpus: Ok(devices),
            gpu_skipped: Vec::new(),
            visible_devices: Some("2".into()), // gpu_ids wins over CUDA_VISIBLE_DEVICES
        };
        let plan = hardware::probe(&config, &facts, &config.logger());
        assert_eq!(plan.gpus.len(), 2);
        hardware::cache_plan(&config, plan);

        let t = Tracker::with_config(config);
        t.start().unwrap();
        with_counter.energy_mj.fetch_add(360_000, Ordering::SeqCst); // 360 J
        ignored.energy_mj.fetch_add(999_000_000, Ordering::SeqCst); // not tracked
        std::thread::sleep(Duration::from_millis(300));
        let s = t.stop().unwrap();
        let joules = s.gpu_energy_kwh * 3.6e6;
        // 360 J from the counter + ~100 W x 0.3 s integrated for the device without one.
        assert!(joules > 360.0 + 25.0 && joules < 360.0 + 60.0, "{joules} J");
        assert!((s.gpu_utilization_percent - 50.0).abs() < 1e-9, "{}", s.gpu_utilization_percent);
        assert!(s.gpu_power_w > 0.0);
        let text = std::fs::read_to_string(dir.path().join("emissions.csv")).unwrap();
        let row: Vec<String> = csv::Reader::from_reader(text.as_bytes()).records().next().unwrap().unwrap().iter().map(str::to_string).collect();
        assert_eq!((row[25].as_str(), row[26].as_str()), ("2", "2 x Fake GPU 80GB"));
        assert!((row[32].parse::<f64>().unwrap() - 50.0).abs() < 1e-9, "{}", row[32]);
        assert_eq!(row[11].parse::<f64>().unwrap(), s.gpu_energy_kwh);
    }
}

//! A tracker's lifecycle (created → running → stopped) and its accounting, under one lock per
//! tracker so that background ticks and caller flushes never count an interval twice.

pub mod accounting;
mod identity;
mod budget;
pub mod job;
mod metadata;
pub mod node_share;
pub mod regions;
mod prediction;
mod progress;
mod tasks;
mod begin;
mod describe;
mod measure;
mod phase;
mod report;
mod region_guard;
mod report_error;

use phase::{Phase, Resumable, Running};
pub use region_guard::RegionGuard;
pub use report_error::ReportError;
pub(crate) use report_error::Report;

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
use crate::output::{region_file, EmissionsData};
use crate::record::run::RunInfo;
use crate::record::Prediction;

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
        let (mut report, sinks) = {
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
            let outputs = (report, std::mem::take(&mut r.sinks));
            let resume = self.inner.config.restart_after_stop.then(|| {
                Box::new(Resumable {
                    totals: r.totals,
                    duration_s: outputs.0.emissions.duration_s,
                    finished_tasks: std::mem::take(&mut r.tasks.finished),
                    carried: outputs.1.iter().filter_map(|s| s.carry_over()).collect(),
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
            for sink in sinks {
                report.errors.extend(sink.finish(&left));
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
                    for sink in resume.carried {
                        sink.abandon();
                    }
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
        for sink in std::mem::take(&mut r.sinks) {
            sink.abandon();
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

    /// Whether the tracker is started and not stopped.
    #[must_use]
    pub fn is_running(&self) -> bool {
        matches!(*self.inner.lock(), Phase::Running(_))
    }
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

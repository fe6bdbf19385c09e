//! A tracker's lifecycle (created → running → stopped) and its accounting, under one lock per
//! tracker so that background ticks and caller flushes never count an interval twice.

pub mod accounting;
mod metadata;
pub mod runtime;

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

pub use accounting::EmissionsSnapshot;
use accounting::Totals;

use crate::config::Config;
use crate::emissions::{self, Intensity};
use crate::error::{Error, Result};
use crate::hardware::{self, Meters};
use crate::output::csv_file::CsvSink;

/// flush reuses a measurement younger than this instead of taking a new one (the interval since
/// is counted at the next measurement). stop always measures: its interval has no "next".
const FRESH_ENOUGH: Duration = Duration::from_millis(50);

pub struct Tracker {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    run_id: String,
    state: Mutex<Phase>,
}

enum Phase {
    Created,
    Running(Box<Running>),
    Stopped,
}

struct Running {
    meters: Meters,
    intensity: Intensity,
    started_at: Instant,
    last_measured: Instant,
    totals: Totals,
    ticker: Option<AbortHandle>,
    sink: Option<CsvSink>,
}

/// What flush/stop return: the numbers always, and the output error if writing them failed
/// (the totals are kept in memory, so the next flush writes them again).
#[derive(Debug, Clone)]
pub struct Report {
    pub emissions: EmissionsSnapshot,
    pub output_error: Option<Error>,
}

impl Tracker {
    /// Resolves the configuration (options > environment > config files > defaults). No probing.
    pub fn new(options: Option<&str>) -> Result<Tracker> {
        Ok(Tracker::with_config(Config::resolve(options)?))
    }

    pub fn with_config(config: Config) -> Tracker {
        let run_id = uuid::Uuid::new_v4().to_string();
        Tracker { inner: Arc::new(Inner { config, run_id, state: Mutex::new(Phase::Created) }) }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// This run's UUID (the CSV's `run_id`).
    pub fn run_id(&self) -> &str {
        &self.inner.run_id
    }

    /// Probes the hardware (once per process), reads the starting counters and starts the
    /// background ticks.
    pub fn start(&self) -> Result<()> {
        let inner = &self.inner;
        let mut phase = inner.lock();
        match *phase {
            Phase::Created => {}
            Phase::Running(_) => return Err(Error::state("start: the tracker is already running")),
            Phase::Stopped => return Err(Error::state("start: the tracker was stopped; create a new one")),
        }
        let c = &inner.config;
        let log = &c.logger;
        for (level, note) in &c.notes {
            log.log(*level, note);
        }
        let plan = hardware::plan_for(c, log);
        let intensity = emissions::resolve(c, log);
        log.info(format!("Carbon intensity {} gCO2e/kWh from {}", intensity.g_per_kwh, intensity.source));
        let sink = c.save_to_file.then(|| CsvSink::new(c.output_path(), c.on_csv_write));
        if c.save_to_file && !c.output_dir.is_dir() {
            log.warning(format!(
                "output_dir {} is not a directory: measuring goes on, but writing emissions.csv will fail until it exists",
                c.output_dir.display()
            ));
        }
        let weak: Weak<Inner> = Arc::downgrade(inner);
        let ticker = runtime::spawn_periodic(Duration::from_secs_f64(c.measure_power_secs), move || match weak.upgrade() {
            Some(i) => i.tick(),
            None => false,
        });
        if ticker.is_none() {
            log.warning("no background runtime: measuring only at flush and stop");
        }
        let now = Instant::now();
        *phase = Phase::Running(Box::new(Running {
            meters: Meters::start(plan),
            intensity,
            started_at: now,
            last_measured: now,
            totals: Totals::default(),
            ticker,
            sink,
        }));
        Ok(())
    }

    /// Measures (unless the last measurement is under 50 ms old), writes a CSV row and returns
    /// the cumulative totals.
    pub fn flush(&self) -> Result<Report> {
        let mut phase = self.inner.lock();
        match &mut *phase {
            Phase::Running(r) => Ok(self.inner.report(r, false)),
            Phase::Created => Err(Error::state("flush: the tracker is not started")),
            Phase::Stopped => Err(Error::state("flush: the tracker is stopped")),
        }
    }

    /// Measures the last interval, writes the final CSV row and stops the background ticks;
    /// the tracker cannot be restarted.
    pub fn stop(&self) -> Result<Report> {
        let mut phase = self.inner.lock();
        let report = match &mut *phase {
            Phase::Running(r) => {
                if let Some(t) = r.ticker.take() {
                    t.abort();
                }
                self.inner.report(r, true)
            }
            Phase::Created => return Err(Error::state("stop: the tracker is not started")),
            Phase::Stopped => return Err(Error::state("stop: the tracker is already stopped")),
        };
        *phase = Phase::Stopped;
        Ok(report)
    }

    /// The totals so far without measuring or writing anything.
    pub fn peek(&self) -> Result<EmissionsSnapshot> {
        let phase = self.inner.lock();
        match &*phase {
            Phase::Running(r) => Ok(r.totals.snapshot(r.started_at.elapsed().as_secs_f64(), &r.intensity, self.inner.config.pue)),
            _ => Err(Error::state("peek: the tracker is not running")),
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(*self.inner.lock(), Phase::Running(_))
    }
}

impl Drop for Tracker {
    /// A running tracker is stopped (final row written); errors go to the log.
    fn drop(&mut self) {
        if self.is_running() {
            if let Ok(Report { output_error: Some(e), .. }) = self.stop() {
                self.inner.config.logger.error(format!("stop on free: {e}"));
            }
        }
    }
}

impl Inner {
    /// A poisoned lock only means a panic happened while it was held; the totals are still
    /// consistent (each interval is applied by one `Totals::add`), so keep going.
    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Background tick: false ends the ticking.
    fn tick(&self) -> bool {
        let mut phase = self.lock();
        match &mut *phase {
            Phase::Running(r) => {
                self.measure(r, Instant::now());
                true
            }
            _ => false,
        }
    }

    fn measure(&self, r: &mut Running, now: Instant) {
        let dt_s = now.saturating_duration_since(r.last_measured).as_secs_f64();
        let sample = r.meters.measure(dt_s, &self.config.logger);
        r.totals.add(dt_s, &sample, self.config.pue, self.config.wue_l_per_kwh, &r.intensity);
        r.last_measured = now;
        self.config.logger.debug(format!(
            "measured {dt_s:.3} s: CPU {:.3e} kWh, RAM {:.3e} kWh",
            sample.cpu_energy_kwh, sample.ram_energy_kwh
        ));
    }

    fn report(&self, r: &mut Running, final_report: bool) -> Report {
        let now = Instant::now();
        if final_report || now.saturating_duration_since(r.last_measured) >= FRESH_ENOUGH {
            self.measure(r, now);
        }
        let emissions = r.totals.snapshot(now.saturating_duration_since(r.started_at).as_secs_f64(), &r.intensity, self.config.pue);
        let output_error = r.sink.as_ref().and_then(|sink| {
            let row = metadata::emissions_data(&self.config, &self.run_id, r.meters.plan(), &r.intensity, &emissions);
            let res = sink.write(&row, &self.config.logger).err();
            if let Some(e) = &res {
                self.config.logger.error(format!("{e} (totals kept; the next flush writes them again)"));
            }
            res
        });
        Report { emissions, output_error }
    }
}

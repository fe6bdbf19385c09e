//! Regions: named parts of a program that it enters many times (the phases of a time step:
//! solver, halo exchange, I/O), accumulated per name. Unlike a task, a region's boundaries take
//! no measurement, so `region_begin`/`region_end` cost a clock read and a short critical
//! section (well under a microsecond) however often they are called, from any number of threads.
//!
//! Counting: each `region_end` finishes one call, which adds 1 to `calls` and its duration to
//! `duration_s` (and updates min/max). A region may be open in several threads at once, and
//! nested or overlapping with itself and other regions: each thread's calls are counted. An end
//! finishes the latest call of that name begun on the same thread, else (a call begun on another
//! thread, as a goroutine that moved) the oldest open one: totals stay exact either way.
//!
//! Energy, the rule: a region's energy is the run's energy spread evenly over the time of each
//! measured interval, taken over the wall-clock time during which the region was open in at least
//! one thread (its `wall_s`). For a measured interval of length `L` with energy `E` (each of CPU,
//! GPU, RAM, emissions and water alike) in which the region was open for `w` seconds, it gets
//! `E × w / L`. So regions whose open times do not overlap (the phases of one thread's time
//! step) have energies that sum to the run's energy over their open time, and regions that
//! together cover the whole run sum to the run's totals exactly; a region open the whole run has
//! the run's totals. A region open in 4 threads at once is counted once in its energy (4 times in
//! `calls` and `duration_s`).
//!
//! Exactness across threads: boundaries take the region table's write lock, and calls take its
//! read lock while they stamp their time, so every event is wholly before or after a boundary;
//! open time is the integral of "at least one call open", read at each boundary.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use once_cell::sync::Lazy;

use super::accounting::Totals;
use crate::error::{Error, Result};
pub use crate::record::region::RegionTotals;

/// Region names are for CSV rows and logs: short, printable.
const MAX_NAME_BYTES: usize = 256;
const NS_PER_S: f64 = 1e9;

pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(Error::option(format!(
            "region name {name:?}: expected 1 to {MAX_NAME_BYTES} bytes without control characters"
        )));
    }
    Ok(())
}

static EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

/// Now, and as ns since a process-wide epoch: boundaries give the tracker the same instant they
/// split the regions' open time at, so a region open over a whole interval gets exactly its
/// numbers.
fn stamp() -> (Instant, u64) {
    let epoch = *EPOCH;
    let now = crate::clock::now();
    (now, now.saturating_duration_since(epoch).as_nanos() as u64)
}

fn now_ns() -> u64 {
    stamp().1
}

/// A small number per thread, cheaper to get than `std::thread::current().id()`.
fn thread_key() -> u64 {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static KEY: Cell<u64> = const { Cell::new(0) };
    }
    KEY.try_with(|k| {
        if k.get() == 0 {
            k.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        k.get()
    })
    .unwrap_or(0) // a thread being torn down: its calls match any thread's
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Created,
    Running,
    Stopped,
}

/// The energy attributed to a region (the same parts as the run's totals).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Energy {
    cpu_kwh: f64,
    gpu_kwh: f64,
    ram_kwh: f64,
    energy_kwh: f64,
    emissions_kg: f64,
    water_l: f64,
}

impl Energy {
    fn add_share(&mut self, interval: &Totals, fraction: f64) {
        self.cpu_kwh += interval.cpu_kwh * fraction;
        self.gpu_kwh += interval.gpu_kwh * fraction;
        self.ram_kwh += interval.ram_kwh * fraction;
        self.energy_kwh += interval.energy_kwh * fraction;
        self.emissions_kg += interval.emissions_kg * fraction;
        self.water_l += interval.water_l * fraction;
    }
}

/// One region's accumulators, behind its own lock.
#[derive(Debug, Default)]
struct Acc {
    calls: u64,
    total_ns: u64,
    min_ns: u64,
    max_ns: u64,
    /// Open calls: (thread key, start).
    open: Vec<(u64, u64)>,
    /// Start of the current stretch with at least one call open (valid while `open` is not empty).
    open_since_ns: u64,
    /// Length of the finished stretches with at least one call open.
    wall_closed_ns: u64,
    /// The open-time integral at the last boundary.
    wall_at_boundary_ns: u64,
    /// Open time whose energy was attributed (the integral at the last attributed boundary).
    attributed_ns: u64,
    energy: Energy,
}

impl Acc {
    /// ∫ [at least one call open] dt from start to `t`.
    fn wall_ns(&self, t: u64) -> u64 {
        self.wall_closed_ns + if self.open.is_empty() { 0 } else { t.saturating_sub(self.open_since_ns) }
    }

    fn begin(&mut self, thread: u64, t: u64) {
        if self.open.is_empty() {
            self.open_since_ns = t;
        }
        self.open.push((thread, t));
    }

    /// Finishes a call: the latest one of `thread`, else the oldest. False if none is open.
    fn end(&mut self, thread: u64, t: u64) -> bool {
        let Some(i) = self.open.iter().rposition(|o| o.0 == thread).or(if self.open.is_empty() { None } else { Some(0) }) else {
            return false;
        };
        let (_, start) = self.open.remove(i);
        let d = t.saturating_sub(start);
        self.min_ns = if self.calls == 0 { d } else { self.min_ns.min(d) };
        self.max_ns = self.max_ns.max(d);
        self.calls += 1;
        self.total_ns += d;
        if self.open.is_empty() {
            self.wall_closed_ns += t.saturating_sub(self.open_since_ns);
        }
        true
    }
}

struct Cell {
    name: Box<str>,
    acc: Mutex<Acc>,
}

impl Cell {
    fn lock(&self) -> MutexGuard<'_, Acc> {
        self.acc.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Table {
    state: State,
    index: HashMap<Box<str>, usize>,
    /// In the order the names were first begun.
    cells: Vec<Cell>,
    /// The time of the last boundary (start or measurement).
    boundary_ns: u64,
}

impl Table {
    /// Calls may begin and end before start (their time before start has no energy: none is
    /// measured) and until stop.
    fn require_not_stopped(&self, func: &str) -> Result<()> {
        match self.state {
            State::Created | State::Running => Ok(()),
            State::Stopped => Err(Error::state(format!("{func}: the tracker is stopped"))),
        }
    }
}

/// What a measurement boundary saw: the interval's length and each region's open time in it.
#[derive(Debug)]
pub struct Boundary {
    interval_ns: u64,
    open_ns: Vec<(usize, u64)>,
}

/// The regions of one tracker.
pub struct Regions {
    table: RwLock<Table>,
}

impl Default for Regions {
    fn default() -> Regions {
        Regions {
            table: RwLock::new(Table { state: State::Created, index: HashMap::new(), cells: Vec::new(), boundary_ns: 0 }),
        }
    }
}

impl Regions {
    fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The tracker started: the first interval starts now (returned). Regions begun before
    /// get no energy for the time before.
    pub fn start(&self) -> Instant {
        let mut table = self.write();
        let (now, t) = stamp();
        table.state = State::Running;
        table.boundary_ns = t;
        for cell in &table.cells {
            let mut acc = cell.lock();
            acc.wall_at_boundary_ns = acc.wall_ns(t);
        }
        now
    }

    /// Begins a call of region `name` on this thread.
    pub fn begin(&self, name: &str) -> Result<()> {
        {
            let table = self.read();
            table.require_not_stopped("region_begin")?;
            if let Some(&i) = table.index.get(name) {
                // The time is read under the locks, so calls and boundaries are ordered.
                table.cells[i].lock().begin(thread_key(), now_ns());
                return Ok(());
            }
        }
        check_name(name)?;
        let mut table = self.write();
        table.require_not_stopped("region_begin")?;
        let i = match table.index.get(name) {
            Some(&i) => i,
            None => {
                let i = table.cells.len();
                table.cells.push(Cell { name: name.into(), acc: Mutex::new(Acc::default()) });
                table.index.insert(name.into(), i);
                i
            }
        };
        table.cells[i].lock().begin(thread_key(), now_ns());
        Ok(())
    }

    /// Ends a call of region `name`: the latest begun on this thread, else the oldest open one.
    pub fn end(&self, name: &str) -> Result<()> {
        let table = self.read();
        table.require_not_stopped("region_end")?;
        if let Some(&i) = table.index.get(name) {
            if table.cells[i].lock().end(thread_key(), now_ns()) {
                return Ok(());
            }
        }
        let open: Vec<&str> = table.cells.iter().filter(|c| !c.lock().open.is_empty()).map(|c| &*c.name).collect();
        Err(Error::state(format!(
            "region_end: region `{name}` is not open (open: {})",
            if open.is_empty() { "none".to_string() } else { open.join(", ") }
        )))
    }

    /// A measurement boundary, now (returned: the instant the tracker measures at): reads each
    /// region's open time since the previous one. At the last one (`stop`), the calls still
    /// open end now and no region may begin afterwards; their names are returned.
    pub fn boundary(&self, last: bool) -> (Boundary, Instant, Vec<String>) {
        let mut table = self.write();
        let (now, t) = stamp();
        let interval_ns = t.saturating_sub(table.boundary_ns);
        table.boundary_ns = t;
        let mut open_ns = Vec::new();
        let mut still_open = Vec::new();
        for (i, cell) in table.cells.iter().enumerate() {
            let mut acc = cell.lock();
            let wall = acc.wall_ns(t);
            let w = wall - acc.wall_at_boundary_ns;
            acc.wall_at_boundary_ns = wall;
            if w > 0 {
                open_ns.push((i, w));
            }
            if last && !acc.open.is_empty() {
                still_open.push(format!("{} ({} call(s))", cell.name, acc.open.len()));
                while acc.end(0, t) {}
            }
        }
        if last {
            table.state = State::Stopped;
        }
        (Boundary { interval_ns, open_ns }, now, still_open)
    }

    /// Gives each region open during the interval its share of the interval's numbers (the
    /// run's totals added by the measurement that `b` is the boundary of).
    pub fn attribute(&self, b: &Boundary, interval: &Totals) {
        if b.interval_ns == 0 || b.open_ns.is_empty() {
            return;
        }
        let table = self.read();
        for &(i, w) in &b.open_ns {
            let mut acc = table.cells[i].lock();
            acc.energy.add_share(interval, w as f64 / b.interval_ns as f64);
            acc.attributed_ns += w;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.read().cells.is_empty()
    }

    /// Every region's totals, in the order their names were first begun.
    pub fn totals(&self) -> Vec<RegionTotals> {
        let table = self.read();
        let started = table.state != State::Created;
        table
            .cells
            .iter()
            .map(|cell| {
                let a = cell.lock();
                // The open time of calls that ended since the last boundary (a flush that reused a
                // recent measurement took none): counted in `wall_s` as in `duration_s`; its energy
                // comes with the next measurement.
                let ended_since_boundary_ns =
                    if started { a.wall_closed_ns.saturating_sub(a.wall_at_boundary_ns) } else { 0 };
                RegionTotals {
                    name: cell.name.to_string(),
                    calls: a.calls,
                    open_calls: a.open.len() as u64,
                    duration_s: a.total_ns as f64 / NS_PER_S,
                    min_duration_s: a.min_ns as f64 / NS_PER_S,
                    max_duration_s: a.max_ns as f64 / NS_PER_S,
                    wall_s: (a.attributed_ns + ended_since_boundary_ns) as f64 / NS_PER_S,
                    cpu_energy_kwh: a.energy.cpu_kwh,
                    gpu_energy_kwh: a.energy.gpu_kwh,
                    ram_energy_kwh: a.energy.ram_kwh,
                    energy_consumed_kwh: a.energy.energy_kwh,
                    emissions_kg: a.energy.emissions_kg,
                    water_consumed_l: a.energy.water_l,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_accumulate_with_min_and_max() {
        let mut a = Acc::default();
        a.begin(1, 100);
        a.end(1, 130);
        a.begin(1, 200);
        a.end(1, 210);
        a.begin(1, 300);
        a.end(1, 400);
        assert_eq!((a.calls, a.total_ns, a.min_ns, a.max_ns), (3, 140, 10, 100));
        assert_eq!(a.wall_ns(1000), 140);
        assert!(!a.end(1, 500), "nothing open");
    }

    #[test]
    fn open_time_is_the_union_over_threads_and_recursion() {
        let mut a = Acc::default();
        a.begin(1, 0);
        a.begin(2, 5); // another thread, overlapping
        a.begin(1, 6); // recursion on thread 1
        assert_eq!(a.wall_ns(8), 8);
        a.end(1, 10); // ends thread 1's latest (started at 6)
        a.end(2, 20);
        assert_eq!(a.wall_ns(25), 25, "still open on thread 1 since 0");
        a.end(1, 30);
        assert_eq!((a.calls, a.total_ns), (3, 4 + 15 + 30));
        assert_eq!(a.wall_ns(100), 30);
    }

    #[test]
    fn an_end_on_another_thread_takes_the_oldest_call() {
        let mut a = Acc::default();
        a.begin(1, 0);
        a.begin(2, 10);
        assert!(a.end(3, 15)); // thread 3 began nothing: the oldest (thread 1's) ends
        assert_eq!(a.open, vec![(2, 10)]);
        assert!(a.end(3, 20));
        assert_eq!((a.calls, a.total_ns), (2, 15 + 10));
    }

    #[test]
    fn boundaries_split_open_time_and_attribute_exact_shares() {
        let r = Regions::default();
        r.start();
        r.begin("a").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        r.end("a").unwrap();
        r.begin("b").unwrap();
        let (b, _, open) = r.boundary(false);
        assert!(open.is_empty());
        let mut interval = Totals::default();
        (interval.cpu_kwh, interval.energy_kwh, interval.emissions_kg) = (2.0, 2.0, 1.0);
        r.attribute(&b, &interval);
        let t = r.totals();
        let sum: f64 = t.iter().map(|x| x.energy_consumed_kwh).sum();
        // a and b cover the interval from a's begin (the time from start to a's begin is outside
        // both); each gets the interval's energy in proportion to its open time.
        assert!(sum <= 2.0 && sum > 1.9, "{t:?}");
        let per_s = |x: &RegionTotals| x.energy_consumed_kwh / x.wall_s;
        assert!((per_s(&t[0]) / per_s(&t[1]) - 1.0).abs() < 1e-9, "{t:?}");
        assert_eq!(t[0].emissions_kg * 2.0, t[0].energy_consumed_kwh);
        assert_eq!(t[0].calls, 1);
        assert_eq!((t[1].calls, t[1].open_calls), (0, 1));
        let (_, _, open) = r.boundary(true);
        assert_eq!(open, vec!["b (1 call(s))".to_string()]);
        assert_eq!(r.totals()[1].calls, 1, "ended at stop");
        assert!(r.begin("a").is_err(), "stopped");
    }

    #[test]
    fn a_call_ended_after_the_last_boundary_counts_in_wall_s() {
        let r = Regions::default();
        r.start();
        r.begin("a").unwrap();
        let (b, _, _) = r.boundary(false); // a flush that measures
        r.attribute(&b, &Totals::default());
        std::thread::sleep(std::time::Duration::from_millis(3));
        r.end("a").unwrap(); // the next flush reuses that measurement: no boundary
        let t = &r.totals()[0];
        assert!((t.wall_s - t.duration_s).abs() < 1e-9, "one call, one thread: wall_s = duration_s: {t:?}");
        // The next boundary attributes that time once: wall_s does not count it twice.
        let (b, _, _) = r.boundary(false);
        r.attribute(&b, &Totals::default());
        let t = &r.totals()[0];
        assert!((t.wall_s - t.duration_s).abs() < 1e-9, "{t:?}");
    }

    #[test]
    fn names_are_checked_once_and_end_errors_name_the_open_regions() {
        let r = Regions::default();
        r.start();
        assert!(r.begin("").is_err());
        assert!(r.begin("a\nb").is_err());
        assert!(r.begin(&"x".repeat(257)).is_err());
        r.begin("solver").unwrap();
        let e = r.end("halo").unwrap_err();
        assert!(e.message.contains("`halo` is not open (open: solver)"), "{}", e.message);
        r.end("solver").unwrap();
        let e = r.end("solver").unwrap_err();
        assert!(e.message.contains("(open: none)"), "{}", e.message);
    }
}

/// Parts against the whole on a simulated node of fakes: a GPU whose energy counter moves by
/// hand (so every measured interval has its own power), the CPU load model, RAM forced.
#[cfg(test)]
mod accounting_tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::config::{options, Config, Origin, Sources};
    use crate::hardware::gpu::fake::FakeGpu;
    use crate::hardware::gpu::GpuDevice;
    use crate::hardware::{self, cpuinfo, MachineFacts};
    use crate::tracker::Tracker;

    fn fake_node(dir: &std::path::Path, gpu_uuid: &str) -> (Tracker, Arc<FakeGpu>) {
        let opts = format!(
            "offline=true;country_iso_code=FRA;force_ram_power=7;output_dir={d};rapl_dir={d}/no-rapl;gpu_ids={gpu_uuid};measure_power_secs=0.01;pue=1.3;wue=2;log_level=error",
            d = dir.display()
        );
        let config = Config::from_sources(&Sources { layers: vec![(Origin::Options, options::parse(&opts).unwrap())] }).unwrap();
        let gpu = FakeGpu::new(0, gpu_uuid, true);
        let devices: Vec<Arc<dyn GpuDevice>> = vec![gpu.clone()];
        let facts = MachineFacts { cpu: cpuinfo::read(), mem: None, proc_stat_readable: true, arm: false, gpus: Ok(devices), visible_devices: None, gpu_skipped: Vec::new() };
        let plan = hardware::probe(&config, &facts, &config.logger());
        hardware::cache_plan(&config, plan);
        (Tracker::with_config(config), gpu)
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
    }

    #[test]
    fn a_region_open_over_the_whole_run_has_exactly_the_run_totals() {
        let dir = tempfile::tempdir().unwrap();
        let (t, gpu) = fake_node(dir.path(), "GPU-whole-run");
        t.region_begin("whole").unwrap(); // before start: the run's first interval is all its own
        t.start().unwrap();
        for step in 0..40u64 {
            gpu.energy_mj.fetch_add(1_000 * (step % 7 + 1), Ordering::SeqCst); // a varying GPU power
            t.region_begin("phase").unwrap();
            std::thread::sleep(Duration::from_millis(2));
            t.region_end("phase").unwrap();
            if step % 10 == 0 {
                t.flush().unwrap();
            }
        }
        let run = t.stop().unwrap(); // "whole" is still open: it ends at stop
        let regions = t.regions();
        let whole = regions.iter().find(|r| r.name == "whole").unwrap();
        assert!(run.measurements >= 5, "many intervals: {}", run.measurements);
        assert!(run.gpu_energy_kwh > 0.0 && run.cpu_energy_kwh > 0.0);
        for (part, a, b) in [
            ("cpu", whole.cpu_energy_kwh, run.cpu_energy_kwh),
            ("gpu", whole.gpu_energy_kwh, run.gpu_energy_kwh),
            ("ram", whole.ram_energy_kwh, run.ram_energy_kwh),
            ("energy", whole.energy_consumed_kwh, run.energy_consumed_kwh),
            ("emissions", whole.emissions_kg, run.emissions_kg),
            ("water", whole.water_consumed_l, run.water_consumed_l),
        ] {
            assert!(rel(a, b) < 1e-12, "{part}: region {a} vs run {b}");
        }
        assert_eq!((whole.calls, whole.open_calls), (1, 0));
        // Its open time is the run's measured time (from start to the last measurement).
        assert!((whole.wall_s - run.duration_s).abs() < 1e-3, "{} vs {}", whole.wall_s, run.duration_s);
        let phase = regions.iter().find(|r| r.name == "phase").unwrap();
        assert_eq!(phase.calls, 40);
        assert!(phase.energy_consumed_kwh < whole.energy_consumed_kwh && phase.gpu_energy_kwh > 0.0);
    }

    #[test]
    fn disjoint_regions_and_the_time_outside_them_add_up_to_the_run() {
        // RAM alone is constant (7 W × PUE); the GPU's and CPU's powers vary by interval. For
        // each interval, a region gets its open fraction of the interval's energy, so the parts
        // plus the time outside every region, at the RAM's constant power, are the run's RAM.
        let dir = tempfile::tempdir().unwrap();
        let (t, gpu) = fake_node(dir.path(), "GPU-disjoint");
        t.start().unwrap();
        for step in 0..30u64 {
            for (phase, ms) in [("solver", 3), ("halo", 1), ("io", 1)] {
                t.region_begin(phase).unwrap();
                gpu.energy_mj.fetch_add(500 * (step % 5 + 1), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(ms));
                t.region_end(phase).unwrap();
            }
            std::thread::sleep(Duration::from_millis(1)); // outside every region
        }
        let run = t.stop().unwrap();
        let regions = t.regions();
        assert_eq!(regions.iter().map(|r| (r.name.as_str(), r.calls)).collect::<Vec<_>>(), vec![("solver", 30), ("halo", 30), ("io", 30)]);
        let ram_w = 7.0 * 1.3;
        let wall: f64 = regions.iter().map(|r| r.wall_s).sum();
        let ram_parts: f64 = regions.iter().map(|r| r.ram_energy_kwh).sum();
        for r in &regions {
            assert!(rel(r.ram_energy_kwh * 3.6e6, ram_w * r.wall_s) < 1e-9, "{r:?}");
            assert!((r.wall_s - r.duration_s).abs() < 1e-9, "one thread, never nested: open time = call time: {r:?}");
            assert!(r.min_duration_s <= r.max_duration_s && r.max_duration_s <= r.duration_s);
        }
        let outside_s = run.duration_s - wall;
        assert!(outside_s > 0.025, "{outside_s}");
        assert!(rel(ram_parts * 3.6e6 + ram_w * outside_s, run.ram_energy_kwh * 3.6e6) < 1e-6, "{ram_parts} + outside vs {}", run.ram_energy_kwh);
        let parts: f64 = regions.iter().map(|r| r.energy_consumed_kwh).sum();
        assert!(parts < run.energy_consumed_kwh);
        let gpu_parts: f64 = regions.iter().map(|r| r.gpu_energy_kwh).sum();
        assert!(gpu_parts > 0.0 && gpu_parts < run.gpu_energy_kwh);
    }
}

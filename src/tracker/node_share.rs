//! Counted once: the ranks of one job on one node, each tracking in machine mode, share the
//! node's machine-wide energy instead of each counting all of it.
//!
//! The rule (also in the README):
//! - One rank per node is the *counter*: it holds an exclusive `flock` on
//!   `<dir>/carbon-tracker-<job>.counter` for as long as it runs. The others try to take it at each
//!   of their measurements, so when the counter stops or dies (the kernel drops its lock) another
//!   rank takes over at its next measurement.
//! - A shared state file (updated under its own `flock`) holds `counted_until`, the
//!   CLOCK_MONOTONIC time up to which the node's machine-wide energy was counted, and `pending`,
//!   the CPU and RAM energy the other ranks counted as their own share and that the counter has
//!   not yet subtracted.
//! - The counter counts the machine-wide CPU and RAM energy since `counted_until` (or since its
//!   own start, if later: what it measured itself, interpolated between its measurements), so a
//!   new counter neither recounts what the old one counted nor leaves out the time since,
//!   minus `pending` (at most that energy; the rest waits for its next measurement). At its last
//!   measurement (stop) a counter takes all of `pending`, up to what it counted in its whole
//!   run: the other ranks' last shares cover time it already counted, and it has no later
//!   interval to take them from. That last interval can then be negative (the run's totals stay
//!   the sum of its intervals).
//! - Every other rank counts its process tree's share of the machine-wide CPU energy (its share
//!   of busy CPU time) and RAM energy (its share of memory), and adds it to `pending`.
//! - GPUs, each by its UUID (a MIG instance stands for its physical GPU): every GPU a rank sees
//!   has its own lock file, `<dir>/carbon-tracker-<job>.gpu-<uuid>`; the rank that holds it counts
//!   that GPU, the others that see it count nothing for it. A GPU seen by one rank is counted by
//!   that rank; one seen by several, by one of them; one seen by none, by nobody. The state file
//!   holds each GPU's own `counted_until` and, for a GPU with an energy counter, the counter's
//!   reading then (every process reads the same counter): a rank that takes a GPU over counts
//!   from exactly that reading, or, for a GPU without a counter, its own measurement of the
//!   time since. A lost GPU's lock is given up.
//! - `gpu_share=split` (docs/gpu-sharing.md): a rank that sees a GPU without counting it counts
//!   its process tree's part of it and adds that to the GPU's `pending` in the state file; the
//!   rank that counts the GPU takes `pending` off, as the counter does for the CPU and the RAM.
//!   So each rank carries its share and the job's total stays the device's energy.
//!
//! So the ranks' energies add up to the node's energy over the job, each joule once. Only the
//! first tracker of a process joins; a second tracker in the same process measures the
//! machine on its own, as any independent tracker does.
//!
//! Linux only: `flock` on files of a directory the ranks share, CLOCK_MONOTONIC shared by the
//! processes of one machine, and the process tree's shares from `/proc`.

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use once_cell::sync::Lazy;

use super::job::Job;
use crate::config::Config;
use crate::hardware::gpu::{DeviceInterval, Gpu};
use crate::hardware::Sample;
use crate::log::Logger;

/// Jobs this process has joined: one participant per process and job.
static JOINED: Lazy<Mutex<HashSet<PathBuf>>> = Lazy::new(|| Mutex::new(HashSet::new()));

/// CLOCK_MONOTONIC in ns: one clock for every process of the node.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills the struct it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn flock(f: &File, op: libc::c_int) -> bool {
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return true;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// One GPU's line of the shared state.
#[derive(Debug, Clone, PartialEq, Default)]
struct GpuState {
    uuid: String,
    counted_until_ns: u64,
    /// Its energy counter's reading at `counted_until_ns`, mJ (GPUs with a counter).
    counter_mj: Option<u64>,
    /// `gpu_share=split`: the shares the other ranks counted and its counter has not taken off, J.
    pending_j: f64,
}

/// The shared state, as text: `counted_until_ns pending_cpu_kwh pending_ram_kwh`, then a line
/// `gpu <uuid> <counted_until_ns> <counter_mj or -> <pending_j>` per GPU counted so far.
#[derive(Debug, Clone, PartialEq, Default)]
struct State {
    counted_until_ns: u64,
    pending_cpu_kwh: f64,
    pending_ram_kwh: f64,
    gpus: Vec<GpuState>,
}

impl State {
    fn parse(text: &str) -> State {
        let mut lines = text.lines();
        let mut it = lines.next().unwrap_or("").split_whitespace();
        let mut next = || it.next().unwrap_or("0");
        let mut st = State {
            counted_until_ns: next().parse().unwrap_or(0),
            pending_cpu_kwh: next().parse().unwrap_or(0.0),
            pending_ram_kwh: next().parse().unwrap_or(0.0),
            gpus: Vec::new(),
        };
        for line in lines {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let ["gpu", uuid, until, mj, ref pending @ ..] = f[..] {
                let pending_j = pending.first().and_then(|p| p.parse().ok()).unwrap_or(0.0);
                st.gpus.push(GpuState { uuid: uuid.to_string(), counted_until_ns: until.parse().unwrap_or(0), counter_mj: mj.parse().ok(), pending_j });
            }
        }
        st
    }

    fn text(&self) -> String {
        let mut t = format!("{} {:e} {:e}\n", self.counted_until_ns, self.pending_cpu_kwh, self.pending_ram_kwh);
        for g in &self.gpus {
            let mj = g.counter_mj.map_or("-".to_string(), |m| m.to_string());
            t.push_str(&format!("gpu {} {} {mj} {:e}\n", g.uuid, g.counted_until_ns, g.pending_j));
        }
        t
    }

    fn gpu(&mut self, uuid: &str) -> &mut GpuState {
        match self.gpus.iter().position(|g| g.uuid == uuid) {
            Some(i) => &mut self.gpus[i],
            None => {
                self.gpus.push(GpuState { uuid: uuid.to_string(), ..GpuState::default() });
                self.gpus.last_mut().expect("just pushed")
            }
        }
    }
}

/// A cumulative energy this rank measured, at the times of its measurements (the first point is
/// its start, at 0): what it was at any time since, interpolated between measurements.
#[derive(Debug, Clone)]
struct History {
    points: VecDeque<(u64, f64)>,
}

/// Points kept at most (a counter that measures rarely, a rank that measures often).
const HISTORY_POINTS: usize = 4096;

impl History {
    fn new(start_ns: u64) -> History {
        History { points: VecDeque::from([(start_ns, 0.0)]) }
    }

    fn push(&mut self, t_ns: u64, added: f64) {
        let total = self.points.back().map_or(0.0, |p| p.1) + added;
        if self.points.len() >= HISTORY_POINTS {
            self.points.pop_front();
        }
        self.points.push_back((t_ns, total));
    }

    /// The cumulative energy at `t_ns` (the first point's before it, the last one's after it).
    fn at(&self, t_ns: u64) -> f64 {
        let i = self.points.partition_point(|p| p.0 <= t_ns);
        match (i.checked_sub(1).and_then(|j| self.points.get(j)), self.points.get(i)) {
            (Some(a), Some(b)) if b.0 > a.0 => a.1 + (b.1 - a.1) * (t_ns - a.0) as f64 / (b.0 - a.0) as f64,
            (Some(a), _) => a.1,
            (None, Some(b)) => b.1,
            (None, None) => 0.0,
        }
    }

    /// The energy measured since `t_ns`.
    fn since(&self, t_ns: u64) -> f64 {
        self.points.back().map_or(0.0, |p| p.1) - self.at(t_ns)
    }

    /// Drops the points no later question needs: those before the last one at or before `t_ns`.
    fn forget_before(&mut self, t_ns: u64) {
        while self.points.len() > 1 && self.points[1].0 <= t_ns {
            self.points.pop_front();
        }
    }
}

/// A GPU this rank sees, and whether it counts it now.
struct GpuClaim {
    uuid: String,
    lock_path: PathBuf,
    /// Some while this rank counts it (the exclusive lock is held on it).
    lock: Option<File>,
    /// What this rank measured of it since its start, J.
    history: History,
    /// The most its counter can credit per second, mJ/s.
    max_mj_per_s: f64,
    lost: bool,
    /// What this rank counted of it while holding its lock, J.
    counted_j: f64,
}

impl GpuClaim {
    fn try_to_count(&mut self) {
        if self.lock.is_none() && !self.lost {
            self.lock = take_lock(&self.lock_path);
        }
    }
}

/// An exclusive lock on `path` (created if needed), if no live process holds it.
fn take_lock(path: &Path) -> Option<File> {
    let f = open_rw(path).ok()?;
    flock(&f, libc::LOCK_EX | libc::LOCK_NB).then_some(f)
}

pub struct NodeShare {
    base: PathBuf,
    counter_path: PathBuf,
    state: File,
    /// Held shared for life: the last member to leave (it gets it exclusive) removes the files.
    members: File,
    /// Some while this rank is the node's counter (the exclusive lock is held on it).
    counter: Option<File>,
    /// When it joined (CLOCK_MONOTONIC, ns): it counts nothing before.
    start_ns: u64,
    /// The machine-wide CPU and RAM energy this rank measured, kWh.
    cpu: History,
    ram: History,
    /// CPU and RAM energy this rank counted so far, kWh.
    counted_cpu_kwh: f64,
    counted_ram_kwh: f64,
    gpus: Vec<GpuClaim>,
    log: Logger,
}

fn safe(t: &str) -> String {
    t.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

/// Keyed by job, host (in case the directory is shared between nodes) and user.
fn file_stem(job_id: &str) -> String {
    // SAFETY: getuid cannot fail.
    format!("carbon-tracker-{}-{}-uid{}", safe(job_id), safe(&crate::hardware::host::name()), unsafe { libc::getuid() })
}

fn open_rw(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

impl NodeShare {
    /// Joins the node's coordination of `job` for the CPU, the RAM and the GPUs this rank sees
    /// (`gpus`), or `None` (with a log line why) when this process already takes part or the
    /// files cannot be made.
    pub fn join(c: &Config, job: &Job, gpus: &[Gpu], log: &Logger) -> Option<NodeShare> {
        let dir = if c.job_coordination_dir.is_dir() { c.job_coordination_dir.clone() } else { std::env::temp_dir() };
        let base = dir.join(file_stem(&job.id));
        if !JOINED.lock().unwrap_or_else(|p| p.into_inner()).insert(base.clone()) {
            log.info("another tracker of this process already counts for this job: this one measures the machine on its own");
            return None;
        }
        let with = |ext: &str| PathBuf::from(format!("{}.{ext}", base.display()));
        let opened = (|| -> std::io::Result<(File, File)> { Ok((open_rw(&with("members"))?, open_rw(&with("state"))?)) })();
        let (members, state) = match opened {
            Ok(f) => f,
            Err(e) => {
                log.warning(format!(
                    "job {}: cannot open the node's coordination files in {} ({e}); this rank counts the whole machine",
                    job.id,
                    dir.display()
                ));
                JOINED.lock().unwrap_or_else(|p| p.into_inner()).remove(&base);
                return None;
            }
        };
        // The first member of the node (nobody else holds `members`) starts from a clean state:
        // files left by a job that died with the same id must not leak into this one.
        let first = flock(&members, libc::LOCK_EX | libc::LOCK_NB);
        if first && flock(&state, libc::LOCK_EX) {
            let _ = state.set_len(0);
            flock(&state, libc::LOCK_UN);
        }
        flock(&members, libc::LOCK_SH);
        let start_ns = monotonic_ns();
        let gpus = gpus
            .iter()
            .map(|g| GpuClaim {
                uuid: g.uuid.clone(),
                lock_path: with(&format!("gpu-{}", safe(&g.uuid))),
                lock: None,
                history: History::new(start_ns),
                max_mj_per_s: g.counter_max_mj_per_s(),
                lost: false,
                counted_j: 0.0,
            })
            .collect();
        let mut share = NodeShare {
            counter_path: with("counter"),
            base,
            state,
            members,
            counter: None,
            start_ns,
            cpu: History::new(start_ns),
            ram: History::new(start_ns),
            counted_cpu_kwh: 0.0,
            counted_ram_kwh: 0.0,
            gpus,
            log: log.clone(),
        };
        share.try_to_count();
        log.info(format!(
            "job {} rank {}: {} the node's machine-wide energy; counts the GPUs [{}] of the {} it sees",
            job.id,
            job.rank,
            if share.is_counter() { "counts" } else { "counts its share of" },
            share.gpus_counted().collect::<Vec<_>>().join(", "),
            share.gpus.len()
        ));
        Some(share)
    }

    pub fn is_counter(&self) -> bool {
        self.counter.is_some()
    }

    /// The UUIDs of the GPUs this rank counts now.
    pub fn gpus_counted(&self) -> impl Iterator<Item = &str> {
        self.gpus.iter().filter(|g| g.lock.is_some()).map(|g| g.uuid.as_str())
    }

    /// Takes the counter's lock, and those of the GPUs, that no live rank holds.
    fn try_to_count(&mut self) {
        if self.counter.is_none() {
            self.counter = take_lock(&self.counter_path);
        }
        for g in &mut self.gpus {
            g.try_to_count();
        }
    }

    fn read_state(&mut self) -> (State, usize) {
        let mut text = String::new();
        let _ = self.state.seek(SeekFrom::Start(0)).and_then(|_| self.state.read_to_string(&mut text));
        (State::parse(&text), text.len())
    }

    /// One write of the whole state, padded over the old text (a rank killed mid-write leaves
    /// the old state or the new one, never a mix or an empty file).
    fn write_state(&mut self, st: &State, old_len: usize) {
        let mut text = st.text();
        if text.len() < old_len {
            text.push_str(&" ".repeat(old_len - text.len()));
        }
        if let Err(e) = self.state.write_all_at(text.as_bytes(), 0) {
            self.log.warning(format!("cannot write the node's coordination state: {e}"));
        }
    }

    /// This rank's part of `s`, the machine-wide sample of its interval since the previous call,
    /// with `gpus` each tracked GPU's part of it (in the order given to `join`); `last`: the
    /// tracker's final measurement (stop).
    pub fn apportion(&mut self, mut s: Sample, gpus: impl Iterator<Item = DeviceInterval>, last: bool) -> Sample {
        let now_ns = monotonic_ns();
        self.cpu.push(now_ns, s.cpu_energy_kwh);
        self.ram.push(now_ns, s.ram_energy_kwh);
        let intervals: Vec<DeviceInterval> = gpus.collect();
        for (g, iv) in self.gpus.iter_mut().zip(&intervals) {
            g.history.push(now_ns, iv.energy_j);
            if iv.lost && !g.lost {
                g.lost = true;
                if let Some(l) = g.lock.take() {
                    flock(&l, libc::LOCK_UN);
                }
            }
        }
        flock(&self.state, libc::LOCK_EX);
        // Under the state's lock: a rank that stops gives its locks up under it too, so a rank
        // measuring after that stop's last measurement always takes over.
        let was_counter = self.is_counter();
        self.try_to_count();
        if self.is_counter() && !was_counter {
            self.log.info("the node's counter stopped: this rank counts the node's machine-wide energy from now on");
        }
        let (mut st, old_len) = self.read_state();
        if self.is_counter() {
            // What nobody counted yet: since `counted_until`, within this rank's own run.
            let from = st.counted_until_ns.max(self.start_ns).min(now_ns);
            let cpu = self.cpu.since(from);
            let ram = self.ram.since(from);
            let (cap_cpu, cap_ram) = if last { (cpu + self.counted_cpu_kwh, ram + self.counted_ram_kwh) } else { (cpu, ram) };
            let take_cpu = st.pending_cpu_kwh.clamp(0.0, cap_cpu.max(0.0));
            let take_ram = st.pending_ram_kwh.clamp(0.0, cap_ram.max(0.0));
            st.pending_cpu_kwh -= take_cpu;
            st.pending_ram_kwh -= take_ram;
            s.cpu_energy_kwh = cpu - take_cpu;
            s.ram_energy_kwh = ram - take_ram;
            st.counted_until_ns = st.counted_until_ns.max(now_ns);
        } else {
            let share = s.process_share.unwrap_or_default();
            s.cpu_energy_kwh = share.cpu_energy_kwh;
            s.ram_energy_kwh = share.ram_energy_kwh;
            st.pending_cpu_kwh += share.cpu_energy_kwh;
            st.pending_ram_kwh += share.ram_energy_kwh;
        }
        let mut gpu_j = 0.0;
        for (g, iv) in self.gpus.iter_mut().zip(&intervals) {
            if g.lock.is_none() {
                // gpu_share=split: this rank's part, taken off by the GPU's counter.
                if let Some(own_j) = iv.own_j.filter(|_| !iv.lost) {
                    gpu_j += own_j;
                    st.gpu(&g.uuid).pending_j += own_j;
                }
                continue;
            }
            let gs = st.gpu(&g.uuid);
            let from = gs.counted_until_ns.max(self.start_ns).min(now_ns);
            // Exactly from the counter's reading where the previous counting stopped, when that
            // was within this rank's run and the step is one the GPU could make.
            let max_mj = crate::hardware::counter::max_step(g.max_mj_per_s, (now_ns - from) as f64 / 1e9);
            let exact = match (gs.counter_mj, iv.counter_mj) {
                (Some(a), Some(b)) if gs.counted_until_ns >= self.start_ns && b >= a && ((b - a) as f64) <= max_mj => Some((b - a) as f64 / 1000.0),
                _ => None,
            };
            let counted = exact.unwrap_or_else(|| g.history.since(from));
            // The others' shares, up to what it counts (at stop: up to all it counted, as the CPU).
            let cap = if last { counted + g.counted_j } else { counted };
            let take = gs.pending_j.clamp(0.0, cap.max(0.0));
            gs.pending_j -= take;
            g.counted_j += counted - take;
            gpu_j += counted - take;
            gs.counted_until_ns = gs.counted_until_ns.max(now_ns);
            gs.counter_mj = iv.counter_mj;
        }
        s.gpu_energy_kwh = gpu_j / 3.6e6;
        self.write_state(&st, old_len);
        if last {
            self.give_up_locks();
        }
        flock(&self.state, libc::LOCK_UN);
        // Later questions start at these times or after.
        self.cpu.forget_before(st.counted_until_ns);
        self.ram.forget_before(st.counted_until_ns);
        for g in &mut self.gpus {
            let until = st.gpus.iter().find(|x| x.uuid == g.uuid).map_or(0, |x| x.counted_until_ns);
            g.history.forget_before(until);
        }
        self.counted_cpu_kwh += s.cpu_energy_kwh;
        self.counted_ram_kwh += s.ram_energy_kwh;
        s
    }
}

impl NodeShare {
    /// Gives up counting the node and the GPUs (explicit unlocks: a child forked meanwhile
    /// shares the descriptors' locks).
    fn give_up_locks(&mut self) {
        for l in self.gpus.iter_mut().filter_map(|g| g.lock.take()).chain(self.counter.take()) {
            flock(&l, libc::LOCK_UN);
        }
    }
}

impl Drop for NodeShare {
    /// Gives up the locks; the last member of the node removes the files.
    fn drop(&mut self) {
        self.give_up_locks();
        flock(&self.members, libc::LOCK_UN);
        if flock(&self.members, libc::LOCK_EX | libc::LOCK_NB) {
            let stem = format!("{}.", self.base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            if let Some(Ok(entries)) = self.base.parent().map(std::fs::read_dir) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let ours = ["counter", "state", "members"].iter().any(|x| name == format!("{stem}{x}")) || name.starts_with(&format!("{stem}gpu-"));
                    if ours {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        JOINED.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::gpu::fake::FakeGpu;
    use crate::hardware::gpu::{self, GpuDevice};
    use crate::hardware::ProcessShare;
    use std::sync::Arc;

    fn quiet() -> Logger {
        Logger { threshold: crate::log::Level::Critical, preamble: String::new() }
    }

    fn sample(cpu: f64, ram: f64, share: f64) -> Sample {
        Sample {
            cpu_energy_kwh: cpu,
            ram_energy_kwh: ram,
            gpu_energy_kwh: 1.0,
            process_share: Some(ProcessShare { cpu_energy_kwh: share, ram_energy_kwh: share / 10.0 }),
            ..Default::default()
        }
    }

    /// The GPUs `uuids` as a tracker sees them (2 kW maximum).
    fn gpus(uuids: &[&str]) -> Vec<Gpu> {
        let devices: Vec<Arc<dyn GpuDevice>> = uuids.iter().enumerate().map(|(i, u)| FakeGpu::new(i as u32, u, true) as Arc<dyn GpuDevice>).collect();
        gpu::select(&devices, None, &quiet())
    }

    /// Two participants in one process are simulated by clearing the in-process registry.
    fn member_seeing(dir: &Path, job: &str, seen: &[Gpu]) -> NodeShare {
        let c = Config { job_coordination_dir: dir.to_path_buf(), gpu_ids: None, ..Config::default() };
        let j = Job { id: job.into(), rank: 0, local_rank: None, node_id: None, world_size: None, local_size: None, launcher: "options" };
        let m = NodeShare::join(&c, &j, seen, &quiet()).unwrap();
        JOINED.lock().unwrap().remove(&m.base);
        m
    }

    fn member(dir: &Path, job: &str) -> NodeShare {
        member_seeing(dir, job, &[])
    }

    fn no_gpu() -> std::iter::Empty<DeviceInterval> {
        std::iter::empty()
    }

    /// One interval of a GPU with a counter: `j` joules, the counter at `mj`.
    fn counted(j: f64, mj: u64) -> DeviceInterval {
        DeviceInterval { energy_j: j, counter_mj: Some(mj), lost: false, own_j: None }
    }

    fn gpu_j(s: &Sample) -> f64 {
        s.gpu_energy_kwh * 3.6e6
    }

    #[test]
    fn one_counter_others_share_and_a_dead_counter_is_replaced() {
        let d = tempfile::tempdir().unwrap();
        let mut a = member(d.path(), "j1");
        let mut b = member(d.path(), "j1");
        assert!(a.is_counter() && !b.is_counter());
        // b counts its share (2 of the machine's 10), a the machine minus that share.
        let sb = b.apportion(sample(10.0, 5.0, 2.0), no_gpu(), false);
        assert_eq!((sb.cpu_energy_kwh, sb.ram_energy_kwh, sb.gpu_energy_kwh), (2.0, 0.2, 0.0));
        let sa = a.apportion(sample(10.0, 5.0, 3.0), no_gpu(), false);
        assert_eq!((sa.cpu_energy_kwh, sa.ram_energy_kwh), (8.0, 4.8));
        // The counter goes away (a dead process drops its lock the same way): b takes over at
        // its next measurement and counts only what a had not counted.
        drop(a);
        let sb = b.apportion(sample(10.0, 5.0, 2.0), no_gpu(), false);
        assert!(b.is_counter());
        assert!(sb.cpu_energy_kwh > 0.0 && sb.cpu_energy_kwh <= 10.0, "{}", sb.cpu_energy_kwh);
        drop(b);
        assert!(std::fs::read_dir(d.path()).unwrap().next().is_none(), "the last member removes the files");
    }

    #[test]
    fn a_new_counter_starts_where_the_old_one_stopped() {
        let d = tempfile::tempdir().unwrap();
        let mut a = member(d.path(), "j2");
        let mut b = member(d.path(), "j2");
        // b's interval started before a's last measurement: only the part after it is b's.
        std::thread::sleep(std::time::Duration::from_millis(20));
        a.apportion(sample(1.0, 0.0, 0.0), no_gpu(), false);
        drop(a);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let s = b.apportion(sample(1.0, 0.0, 0.0), no_gpu(), false);
        assert!(s.cpu_energy_kwh > 0.0 && s.cpu_energy_kwh < 1.0, "{}", s.cpu_energy_kwh);
        let st = State::parse(&std::fs::read_to_string(format!("{}.state", b.base.display())).unwrap());
        assert_eq!((st.pending_cpu_kwh, st.pending_ram_kwh), (0.0, 0.0));
    }

    #[test]
    fn a_counter_dead_since_before_the_survivors_last_measurement_leaves_no_gap() {
        let d = tempfile::tempdir().unwrap();
        let mut a = member(d.path(), "j5");
        let mut b = member(d.path(), "j5");
        let mut total = a.apportion(sample(10.0, 0.0, 0.0), no_gpu(), false).cpu_energy_kwh; // the node up to t1
        // b measures twice more while a (alive, not measuring) still holds the lock: its shares.
        total += b.apportion(sample(12.0, 0.0, 1.0), no_gpu(), false).cpu_energy_kwh;
        total += b.apportion(sample(6.0, 0.0, 1.0), no_gpu(), false).cpu_energy_kwh;
        drop(a); // dies without measuring again
        total += b.apportion(sample(4.0, 0.0, 1.0), no_gpu(), true).cpu_energy_kwh;
        // The node since t1: b's own measurements after a's last one (part of 12, then 6 and 4).
        let st = State::parse(&std::fs::read_to_string(format!("{}.state", b.base.display())).unwrap());
        assert_eq!(st.pending_cpu_kwh, 0.0);
        assert!(total > 10.0 + 10.0 && total <= 10.0 + 22.0 + 1e-9, "{total}");
    }

    #[test]
    fn a_stale_state_of_a_dead_job_is_reset_by_the_first_member() {
        let d = tempfile::tempdir().unwrap();
        let stale = State { counted_until_ns: u64::MAX / 2, pending_cpu_kwh: 5.0, pending_ram_kwh: 1.0, gpus: Vec::new() };
        std::fs::write(d.path().join(format!("{}.state", file_stem("j4"))), stale.text()).unwrap();
        let mut a = member(d.path(), "j4");
        let s = a.apportion(sample(2.0, 1.0, 0.0), no_gpu(), false);
        assert_eq!((s.cpu_energy_kwh, s.ram_energy_kwh), (2.0, 1.0));
    }

    #[test]
    fn shares_reported_after_the_counter_counted_their_time_are_taken_at_its_stop() {
        let d = tempfile::tempdir().unwrap();
        let mut a = member(d.path(), "j3");
        let mut b = member(d.path(), "j3");
        let mut total = 0.0;
        total += a.apportion(sample(10.0, 0.0, 0.0), no_gpu(), false).cpu_energy_kwh; // the node: 10
        total += b.apportion(sample(10.0, 0.0, 4.0), no_gpu(), false).cpu_energy_kwh; // b's share of that time: 4
        // a's stop comes right after: its last interval has almost no energy, yet it takes b's 4.
        let last = a.apportion(sample(0.001, 0.0, 0.0), no_gpu(), true);
        total += last.cpu_energy_kwh;
        assert!(last.cpu_energy_kwh < 0.0);
        assert!((total - 10.001).abs() < 1e-12, "{total}");
    }

    #[test]
    fn state_text_round_trips_with_gpus() {
        let st = State {
            counted_until_ns: 42,
            pending_cpu_kwh: 0.5,
            pending_ram_kwh: 0.25,
            gpus: vec![
                GpuState { uuid: "GPU-a".into(), counted_until_ns: 40, counter_mj: Some(123), pending_j: 0.0 },
                GpuState { uuid: "GPU-b".into(), counted_until_ns: 41, counter_mj: None, pending_j: 2.5 },
            ],
        };
        assert_eq!(State::parse(&st.text()), st);
        assert_eq!(State::parse(&format!("{}      ", st.text())), st, "padding after a shorter write");
    }

    #[test]
    fn each_gpu_is_counted_by_one_rank_and_taken_over_from_its_counter_reading() {
        let d = tempfile::tempdir().unwrap();
        let both = gpus(&["GPU-x", "GPU-y"]);
        let mut a = member_seeing(d.path(), "g1", &both);
        let mut b = member_seeing(d.path(), "g1", &both);
        let mut c = member_seeing(d.path(), "g1", &both[1..]); // sees y only
        assert_eq!(a.gpus_counted().collect::<Vec<_>>(), vec!["GPU-x", "GPU-y"]);
        assert_eq!(b.gpus_counted().count() + c.gpus_counted().count(), 0, "the first to join counts both");
        let mut total = 0.0;
        total += gpu_j(&a.apportion(sample(0.0, 0.0, 0.0), [counted(10.0, 11_000), counted(5.0, 5_000)].into_iter(), false));
        total += gpu_j(&b.apportion(sample(0.0, 0.0, 0.0), [counted(10.0, 11_000), counted(5.0, 5_000)].into_iter(), false));
        total += gpu_j(&c.apportion(sample(0.0, 0.0, 0.0), [counted(5.0, 5_000)].into_iter(), false));
        assert!((total - 15.0).abs() < 1e-9, "{total}");
        // b measures again while a (alive, silent) still counts; then a dies.
        total += gpu_j(&b.apportion(sample(0.0, 0.0, 0.0), [counted(7.0, 18_000), counted(1.0, 6_000)].into_iter(), false));
        drop(a);
        // c measures first: it takes y over, exactly from a's last reading of y's counter.
        total += gpu_j(&c.apportion(sample(0.0, 0.0, 0.0), [counted(3.0, 9_000)].into_iter(), false));
        assert_eq!(c.gpus_counted().collect::<Vec<_>>(), vec!["GPU-y"]);
        // b takes x over from a's last reading (11 000 mJ): 20 J, its earlier interval included.
        let sb = b.apportion(sample(0.0, 0.0, 0.0), [counted(13.0, 31_000), counted(2.0, 11_000)].into_iter(), false);
        assert_eq!(b.gpus_counted().collect::<Vec<_>>(), vec!["GPU-x"]);
        assert!((gpu_j(&sb) - 20.0).abs() < 1e-9, "{}", gpu_j(&sb));
        total += gpu_j(&sb);
        total += gpu_j(&c.apportion(sample(0.0, 0.0, 0.0), [counted(2.0, 11_000)].into_iter(), true));
        // The node: x went from 1 000 to 31 000 mJ, y from 0 to 11 000 mJ.
        assert!((total - (30.0 + 11.0)).abs() < 1e-9, "{total}");
    }

    #[test]
    fn a_gpu_without_a_counter_is_taken_over_from_the_survivors_own_measurement() {
        let d = tempfile::tempdir().unwrap();
        let seen = gpus(&["GPU-p"]);
        let mut a = member_seeing(d.path(), "g2", &seen);
        let mut b = member_seeing(d.path(), "g2", &seen);
        let power = |j: f64| [DeviceInterval { energy_j: j, counter_mj: None, lost: false, own_j: None }].into_iter();
        let pause = || std::thread::sleep(std::time::Duration::from_millis(20));
        pause();
        let by_a = gpu_j(&a.apportion(sample(0.0, 0.0, 0.0), power(100.0), false));
        pause();
        assert_eq!(gpu_j(&b.apportion(sample(0.0, 0.0, 0.0), power(200.0), false)), 0.0, "a counts it");
        drop(a);
        pause();
        let by_b = gpu_j(&b.apportion(sample(0.0, 0.0, 0.0), power(100.0), false));
        // b counts its last interval and the part of the one before that came after a's last
        // measurement (its own measurement, interpolated in time): neither 0 nor all of it.
        assert!((by_a - 100.0).abs() < 1e-9, "{by_a}");
        assert!(by_b > 100.0 + 1.0 && by_b < 300.0 - 1.0, "{by_b}");
    }

    #[test]
    fn a_lost_gpu_is_given_up_and_disjoint_gpus_are_each_counted() {
        let d = tempfile::tempdir().unwrap();
        let mut a = member_seeing(d.path(), "g3", &gpus(&["GPU-1"]));
        let mut b = member_seeing(d.path(), "g3", &gpus(&["GPU-2"]));
        assert_eq!((a.gpus_counted().count(), b.gpus_counted().count()), (1, 1), "a GPU seen by one rank is counted by it");
        let lost = DeviceInterval { energy_j: 0.0, counter_mj: None, lost: true, own_j: None };
        a.apportion(sample(0.0, 0.0, 0.0), [lost].into_iter(), false);
        assert_eq!(a.gpus_counted().count(), 0);
        assert!((gpu_j(&b.apportion(sample(0.0, 0.0, 0.0), [counted(4.0, 4_000)].into_iter(), false)) - 4.0).abs() < 1e-9);
        drop((a, b));
        assert!(std::fs::read_dir(d.path()).unwrap().next().is_none(), "GPU lock files removed too");
    }

    #[test]
    fn split_gpu_each_rank_its_share_and_the_job_total_is_the_device() {
        let d = tempfile::tempdir().unwrap();
        let seen = gpus(&["GPU-s"]);
        let mut a = member_seeing(d.path(), "g4", &seen);
        let mut b = member_seeing(d.path(), "g4", &seen);
        let mut c = member_seeing(d.path(), "g4", &seen);
        let split = |j: f64, mj: u64, own: f64| [DeviceInterval { energy_j: j, counter_mj: Some(mj), lost: false, own_j: Some(own) }].into_iter();
        // The device: 100 J per interval. b's part 30 %, c's 10 %; a counts the device less theirs.
        let (sb, sc) = (gpu_j(&b.apportion(sample(0.0, 0.0, 0.0), split(100.0, 101_000, 30.0), false)), gpu_j(&c.apportion(sample(0.0, 0.0, 0.0), split(100.0, 101_000, 10.0), false)));
        assert_eq!((sb, sc), (30.0, 10.0), "a rank that does not count the GPU carries its share");
        let sa = gpu_j(&a.apportion(sample(0.0, 0.0, 0.0), split(100.0, 101_000, 60.0), false));
        assert!((sa - 60.0).abs() < 1e-9, "{sa}");
        let mut total = sa + sb + sc;
        total += gpu_j(&b.apportion(sample(0.0, 0.0, 0.0), split(100.0, 201_000, 25.0), false));
        total += gpu_j(&a.apportion(sample(0.0, 0.0, 0.0), split(100.0, 201_000, 75.0), true));
        assert!((total - 200.0).abs() < 1e-9, "the job's total is the device's energy: {total}");
        let st = State::parse(&std::fs::read_to_string(format!("{}.state", c.base.display())).unwrap());
        assert_eq!(st.gpus[0].pending_j, 0.0);
    }
}

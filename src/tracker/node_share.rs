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
//! - The counter counts the machine-wide CPU and RAM energy of the part of its interval after
//!   `counted_until` (so a new counter neither recounts what the old one counted nor leaves the
//!   gap since its last measurement uncounted), minus `pending` (at most that interval's energy;
//!   the rest waits for its next measurement). At its last measurement (stop) a counter takes
//!   all of `pending`, up to what it counted in its whole run: the other ranks' last shares
//!   cover time it already counted, and it has no later interval to take them from. That
//!   last interval can then be negative (the run's totals stay the sum of its intervals).
//! - Every other rank counts its process tree's share of the machine-wide CPU energy (its share
//!   of busy CPU time) and RAM energy (its share of memory), and adds it to `pending`.
//! - GPUs: a rank given its own GPUs (`gpu_ids` or `CUDA_VISIBLE_DEVICES`) counts them; without
//!   a selection every rank sees all GPUs, and only the counter counts them.
//!
//! So the ranks' energies add up to the node's energy over the job, each joule once. Only the
//! first tracker of a process joins; a second tracker in the same process measures the
//! machine on its own, as any independent tracker does.
//!
//! Linux only: `flock` on files of a directory the ranks share, CLOCK_MONOTONIC shared by the
//! processes of one machine, and the process tree's shares from `/proc`.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use once_cell::sync::Lazy;

use super::job::Job;
use crate::config::Config;
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

/// The shared state, as text: `counted_until_ns pending_cpu_kwh pending_ram_kwh`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct State {
    counted_until_ns: u64,
    pending_cpu_kwh: f64,
    pending_ram_kwh: f64,
}

impl State {
    fn parse(text: &str) -> State {
        let mut it = text.split_whitespace();
        let mut next = || it.next().unwrap_or("0");
        State {
            counted_until_ns: next().parse().unwrap_or(0),
            pending_cpu_kwh: next().parse().unwrap_or(0.0),
            pending_ram_kwh: next().parse().unwrap_or(0.0),
        }
    }
    fn text(&self) -> String {
        format!("{} {:e} {:e}\n", self.counted_until_ns, self.pending_cpu_kwh, self.pending_ram_kwh)
    }
}

pub struct NodeShare {
    base: PathBuf,
    counter_path: PathBuf,
    state: File,
    /// Held shared for life: the last member to leave (it gets it exclusive) removes the files.
    members: File,
    /// Some while this rank is the node's counter (the exclusive lock is held on it).
    counter: Option<File>,
    own_gpus: bool,
    last_ns: u64,
    /// CPU and RAM energy this rank counted so far, kWh.
    counted_cpu_kwh: f64,
    counted_ram_kwh: f64,
    log: Logger,
}

/// Keyed by job, host (in case the directory is shared between nodes) and user.
fn file_stem(job_id: &str) -> String {
    let safe = |t: &str| -> String { t.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect() };
    // SAFETY: getuid cannot fail.
    format!("carbon-tracker-{}-{}-uid{}", safe(job_id), safe(&crate::hardware::host::name()), unsafe { libc::getuid() })
}

fn open_rw(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

impl NodeShare {
    /// Joins the node's coordination of `job`, or `None` (with a log line why) when this
    /// process already takes part or the files cannot be made.
    pub fn join(c: &Config, job: &Job, log: &Logger) -> Option<NodeShare> {
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
        let own_gpus = c.gpu_ids.is_some() || std::env::var_os("CUDA_VISIBLE_DEVICES").is_some();
        let mut share = NodeShare {
            counter_path: with("counter"),
            base,
            state,
            members,
            counter: None,
            own_gpus,
            last_ns: monotonic_ns(),
            counted_cpu_kwh: 0.0,
            counted_ram_kwh: 0.0,
            log: log.clone(),
        };
        share.try_to_count();
        log.info(format!(
            "job {} rank {}: {} the node's machine-wide energy",
            job.id,
            job.rank,
            if share.is_counter() { "counts" } else { "counts its share of" }
        ));
        Some(share)
    }

    pub fn is_counter(&self) -> bool {
        self.counter.is_some()
    }

    /// Takes the counter's lock if no live rank holds it.
    fn try_to_count(&mut self) {
        if self.counter.is_some() {
            return;
        }
        if let Ok(f) = open_rw(&self.counter_path) {
            if flock(&f, libc::LOCK_EX | libc::LOCK_NB) {
                self.counter = Some(f);
            }
        }
    }

    fn read_state(&mut self) -> State {
        let mut text = String::new();
        let _ = self.state.seek(SeekFrom::Start(0)).and_then(|_| self.state.read_to_string(&mut text));
        State::parse(&text)
    }

    fn write_state(&mut self, st: &State) {
        let res = self.state.set_len(0).and_then(|_| self.state.seek(SeekFrom::Start(0))).and_then(|_| self.state.write_all(st.text().as_bytes()));
        if let Err(e) = res {
            self.log.warning(format!("cannot write the node's coordination state: {e}"));
        }
    }

    /// This rank's part of `s`, the machine-wide sample of its interval since the previous call;
    /// `last`: the tracker's final measurement (stop).
    pub fn apportion(&mut self, mut s: Sample, last: bool) -> Sample {
        let now_ns = monotonic_ns();
        let start_ns = std::mem::replace(&mut self.last_ns, now_ns);
        let was_counter = self.is_counter();
        self.try_to_count();
        if self.is_counter() && !was_counter {
            self.log.info("the node's counter stopped: this rank counts the node's machine-wide energy from now on");
        }
        flock(&self.state, libc::LOCK_EX);
        let mut st = self.read_state();
        if self.is_counter() {
            // The part of this interval nobody counted yet.
            let from = start_ns.max(st.counted_until_ns).min(now_ns);
            let frac = if now_ns > start_ns { (now_ns - from) as f64 / (now_ns - start_ns) as f64 } else { 1.0 };
            let cpu = s.cpu_energy_kwh * frac;
            let ram = s.ram_energy_kwh * frac;
            let (cap_cpu, cap_ram) = if last { (cpu + self.counted_cpu_kwh, ram + self.counted_ram_kwh) } else { (cpu, ram) };
            let take_cpu = st.pending_cpu_kwh.clamp(0.0, cap_cpu.max(0.0));
            let take_ram = st.pending_ram_kwh.clamp(0.0, cap_ram.max(0.0));
            st.pending_cpu_kwh -= take_cpu;
            st.pending_ram_kwh -= take_ram;
            s.cpu_energy_kwh = cpu - take_cpu;
            s.ram_energy_kwh = ram - take_ram;
            if !self.own_gpus {
                s.gpu_energy_kwh *= frac;
            }
            st.counted_until_ns = st.counted_until_ns.max(now_ns);
        } else {
            let share = s.process_share.unwrap_or_default();
            s.cpu_energy_kwh = share.cpu_energy_kwh;
            s.ram_energy_kwh = share.ram_energy_kwh;
            st.pending_cpu_kwh += share.cpu_energy_kwh;
            st.pending_ram_kwh += share.ram_energy_kwh;
            if !self.own_gpus {
                s.gpu_energy_kwh = 0.0;
            }
        }
        self.write_state(&st);
        flock(&self.state, libc::LOCK_UN);
        self.counted_cpu_kwh += s.cpu_energy_kwh;
        self.counted_ram_kwh += s.ram_energy_kwh;
        s
    }
}

impl Drop for NodeShare {
    /// Gives up the counter's lock; the last member of the node removes the files.
    fn drop(&mut self) {
        // Explicit unlocks: a child forked meanwhile shares the descriptors' locks.
        if let Some(c) = self.counter.take() {
            flock(&c, libc::LOCK_UN);
        }
        flock(&self.members, libc::LOCK_UN);
        if flock(&self.members, libc::LOCK_EX | libc::LOCK_NB) {
            for ext in ["counter", "state", "members"] {
                let _ = std::fs::remove_file(format!("{}.{ext}", self.base.display()));
            }
        }
        JOINED.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::ProcessShare;

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

    /// Two participants in one process are simulated by clearing the in-process registry.
    fn member(dir: &Path, job: &str) -> NodeShare {
        let c = Config { job_coordination_dir: dir.to_path_buf(), gpu_ids: None, ..Config::default() };
        let j = Job { id: job.into(), rank: 0, local_rank: None, node_id: None, world_size: None, local_size: None, launcher: "options" };
        let m = NodeShare::join(&c, &j, &quiet()).unwrap();
        JOINED.lock().unwrap().remove(&m.base);
        m
    }

    #[test]
    fn one_counter_others_share_and_a_dead_counter_is_replaced() {
        let d = tempfile::tempdir().unwrap();
        let mut a = member(d.path(), "j1");
        let mut b = member(d.path(), "j1");
        if std::env::var_os("CUDA_VISIBLE_DEVICES").is_some() {
            a.own_gpus = false;
            b.own_gpus = false;
        }
        assert!(a.is_counter() && !b.is_counter());
        // b counts its share (2 of the machine's 10), a the machine minus that share.
        let sb = b.apportion(sample(10.0, 5.0, 2.0), false);
        assert_eq!((sb.cpu_energy_kwh, sb.ram_energy_kwh, sb.gpu_energy_kwh), (2.0, 0.2, 0.0));
        let sa = a.apportion(sample(10.0, 5.0, 3.0), false);
        assert_eq!((sa.cpu_energy_kwh, sa.ram_energy_kwh, sa.gpu_energy_kwh), (8.0, 4.8, 1.0));
        // The counter goes away (a dead process drops its lock the same way): b takes over at
        // its next measurement and counts only what a had not counted.
        drop(a);
        let sb = b.apportion(sample(10.0, 5.0, 2.0), false);
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
        b.last_ns = monotonic_ns();
        std::thread::sleep(std::time::Duration::from_millis(20));
        a.apportion(sample(1.0, 0.0, 0.0), false);
        drop(a);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let s = b.apportion(sample(1.0, 0.0, 0.0), false);
        assert!(s.cpu_energy_kwh > 0.0 && s.cpu_energy_kwh < 1.0, "{}", s.cpu_energy_kwh);
        let st = State::parse(&std::fs::read_to_string(format!("{}.state", b.base.display())).unwrap());
        assert_eq!((st.pending_cpu_kwh, st.pending_ram_kwh), (0.0, 0.0));
    }

    #[test]
    fn a_stale_state_of_a_dead_job_is_reset_by_the_first_member() {
        let d = tempfile::tempdir().unwrap();
        let stale = State { counted_until_ns: u64::MAX / 2, pending_cpu_kwh: 5.0, pending_ram_kwh: 1.0 };
        std::fs::write(d.path().join(format!("{}.state", file_stem("j4"))), stale.text()).unwrap();
        let mut a = member(d.path(), "j4");
        let s = a.apportion(sample(2.0, 1.0, 0.0), false);
        assert_eq!((s.cpu_energy_kwh, s.ram_energy_kwh), (2.0, 1.0));
    }

    #[test]
    fn shares_reported_after_the_counter_counted_their_time_are_taken_at_its_stop() {
        let d = tempfile::tempdir().unwrap();
        let mut a = member(d.path(), "j3");
        let mut b = member(d.path(), "j3");
        let mut total = 0.0;
        total += a.apportion(sample(10.0, 0.0, 0.0), false).cpu_energy_kwh; // the node: 10
        total += b.apportion(sample(10.0, 0.0, 4.0), false).cpu_energy_kwh; // b's share of that time: 4
        // a's stop comes right after: its last interval has almost no energy, yet it takes b's 4.
        let last = a.apportion(sample(0.001, 0.0, 0.0), true);
        total += last.cpu_energy_kwh;
        assert!(last.cpu_energy_kwh < 0.0);
        assert!((total - 10.001).abs() < 1e-12, "{total}");
    }
}

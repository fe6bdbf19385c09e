//! Counted once: the ranks of one job on one node, each tracking in machine mode, share the
//! node's machine-wide energy instead of each counting all of it.
//!
//! The rule (also in docs/accounting.md):
//! - One rank per node is the *counter*: it holds an exclusive `flock` on
//!   `<dir>/carbon-tracker-<job>.counter` for as long as it runs. The others try to take it at each
//!   of their measurements, so when the counter stops or dies (the kernel drops its lock) another
//!   rank takes over at its next measurement.
//! - Every rank is a *member*: it holds `<stem>.m-<id>` locked for life (a survivor that gets
//!   that lock knows it died) and has a line in the shared state file (updated under its own
//!   `flock`): the time of its last measurement and the shares it counted and has not reported
//!   yet (written to its outputs, at a flush or stop).
//! - The state also holds `counted_until`, the CLOCK_MONOTONIC time up to which the node's
//!   machine-wide energy was counted, and `pending`, the CPU and RAM energy the other ranks
//!   counted as their own share and that the counter has not yet subtracted.
//! - The counter counts the machine-wide CPU and RAM energy (what it measured itself,
//!   interpolated between its measurements) from `counted_until` (or its own start, if later)
//!   up to the last measurement of every other member (the *watermark*): the others' shares
//!   of that time are then in `pending`, which it subtracts (at most what it counts; the rest
//!   waits). So no interval of any rank is ever negative, and a counter that stops leaves the
//!   time after the watermark to the rank that takes over.
//! - Every other rank counts its process tree's share of the machine-wide CPU energy (its share
//!   of busy CPU time) and RAM energy (its share of memory), and adds it to `pending`: at most
//!   the machine's energy since `counted_until` (as it measured it) less what is pending
//!   already. Each rank reads its busy time and the machine's at its own instants, so under
//!   load the shares can add up to more than the machine; what the counter cannot take off
//!   would stay counted twice.
//! - Nothing is lost when a rank dies (SIGKILL: no destructor, no last measurement). Each
//!   member's line holds what it counted (its share, the node, its GPUs) since its last report
//!   (a flush or stop that wrote its row), updated at every measurement. A member whose lock is
//!   free (it died) is removed by the next rank that measures, which takes that energy over
//!   into its own interval; a new counter counts from `counted_until`, the dead counter's last
//!   measurement, and a GPU's new counter from its last reading. So what a rank counted is on
//!   disk, or taken over, no later than one tick after it was measured, at any cadence.
//! - A member that joined after `counted_until` does not take the counting over while a live
//!   member that joined before does: only that one measured the time since.
//! - GPUs, each by its UUID (a MIG instance stands for its physical GPU): every GPU a rank sees
//!   has its own lock file, `<dir>/carbon-tracker-<job>.gpu-<uuid>`; the rank that holds it counts
//!   that GPU, the others that see it count nothing for it. A GPU seen by one rank is counted by
//!   that rank; one seen by several, by one of them; one seen by none, by nobody. The state file
//!   holds each GPU's own `counted_until` and, for a GPU with an energy counter, the counter's
//!   reading then (every process reads the same counter): a rank that takes a GPU over counts
//!   from exactly that reading, or, for a GPU without a counter, its own measurement of the
//!   time since. A lost GPU's lock is given up.
//! - A forked child's copy is inert: it unlocks nothing (`fork` shares the `flock`s), removes
//!   nothing and writes nothing; it only closes its descriptors.
//! - The files live in a private directory, `<dir>/carbon-tracker-<uid>` (mode 0700, owned by
//!   the user: refused otherwise), opened without following symbolic links. A `flock` that
//!   fails (a file system without it) is a warning, and the rank counts the whole machine (the
//!   job section of `ct_tracker_json` says why).
//! - `gpu_share=split` (docs/gpu-sharing.md): a rank that sees a GPU without counting it counts
//!   its process tree's part of it and adds that to the GPU's `pending` in the state file; the
//!   rank that counts the GPU takes `pending` off, as the counter does for the CPU and the RAM.
//!   So each rank carries its share and the job's total stays the device's energy. The GPU's
//!   counter takes off at most what it counts in that interval (never negative, its last one
//!   included); the rest waits for the GPU's next counter. A share is part of its rank's
//!   unreported energy like any other: a rank killed before reporting it leaves it to a
//!   survivor, while `pending` still takes it off the counter (so counted once).
//!
//! So the ranks' energies add up to the node's energy over the job, each joule once. Only the
//! first tracker of a process joins; a second tracker in the same process measures the
//! machine on its own, as any independent tracker does.
//!
//! Linux only: `flock` on files of a directory the ranks share, CLOCK_MONOTONIC shared by the
//! processes of one machine, and the process tree's shares from `/proc`.

mod history;
mod lock;
mod state;

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use once_cell::sync::Lazy;

use super::job::Job;
use crate::config::Config;
use crate::hardware::gpu::{DeviceInterval, Gpu};
use crate::hardware::Sample;
use crate::log::Logger;
use history::History;
use lock::{flock, open_private, private_dir, take_lock, Locked};
use state::State;

/// Jobs this process has joined: one participant per process and job.
static JOINED: Lazy<Mutex<HashSet<PathBuf>>> = Lazy::new(|| Mutex::new(HashSet::new()));

/// Members made by this process (unique ids within it).
static NEXT_MEMBER: AtomicU64 = AtomicU64::new(0);

/// CLOCK_MONOTONIC in ns: one clock for every process of the node.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills the struct it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
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
}

pub struct NodeShare {
    base: PathBuf,
    counter_path: PathBuf,
    state: File,
    /// Held shared for life: the last member to leave (it gets it exclusive) removes the files.
    members: File,
    /// This member's id and its own lock file (held exclusive for life).
    id: String,
    me: File,
    /// The process that joined: in a forked child this copy is inert.
    pid: u32,
    /// Some while this rank is the node's counter (the exclusive lock is held on it).
    counter: Option<File>,
    /// When it joined (CLOCK_MONOTONIC, ns): it counts nothing before.
    start_ns: u64,
    /// The machine-wide CPU and RAM energy this rank measured, kWh.
    cpu: History,
    ram: History,
    gpus: Vec<GpuClaim>,
    /// Its final report is made (`finish`): nothing of it is void any more.
    finished: bool,
    log: Logger,
}

/// The part of a member's interval (`since_ns`, `now_ns`] after `counted_until_ns`, what a
/// counter has not counted yet (the whole interval when it is empty).
fn part_after(counted_until_ns: u64, since_ns: u64, now_ns: u64) -> f64 {
    if now_ns > since_ns {
        (now_ns - counted_until_ns.clamp(since_ns, now_ns)) as f64 / (now_ns - since_ns) as f64
    } else {
        1.0
    }
}

/// The earliest last measurement of the members other than `id` (`now_ns` when there are none):
/// a counter counts up to it, as their shares of the time before are already pending.
fn others_measured_until(st: &State, id: &str, now_ns: u64) -> u64 {
    st.members.iter().filter(|m| m.id != id).map(|m| m.measured_until_ns).fold(now_ns, u64::min)
}

fn safe(t: &str) -> String {
    t.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

/// Keyed by job, host (in case the directory is shared between nodes) and user.
fn file_stem(job_id: &str) -> String {
    // SAFETY: getuid cannot fail.
    format!("carbon-tracker-{}-{}-uid{}", safe(job_id), safe(&crate::hardware::host::name()), unsafe { libc::getuid() })
}

impl NodeShare {
    /// Joins the node's coordination of `job` for the CPU, the RAM and the GPUs this rank sees
    /// (`gpus`), or says why not (logged): this process already takes part, or the private
    /// directory, its files or their locks cannot be had. Without it the rank counts the whole
    /// machine.
    pub fn join(c: &Config, job: &Job, gpus: &[Gpu], log: &Logger) -> Result<NodeShare, String> {
        Self::join_at(c, job, gpus, log, monotonic_ns())
    }

    pub(crate) fn join_at(c: &Config, job: &Job, gpus: &[Gpu], log: &Logger, start_ns: u64) -> Result<NodeShare, String> {
        let parent = if c.job_coordination_dir.is_dir() { c.job_coordination_dir.clone() } else { std::env::temp_dir() };
        let refuse = |why: String| {
            log.warning(format!("job {}: {why}; this rank counts the whole machine", job.id));
            why
        };
        let dir = private_dir(&parent).map_err(refuse)?;
        let base = dir.join(file_stem(&job.id));
        if !JOINED.lock().unwrap_or_else(|p| p.into_inner()).insert(base.clone()) {
            let why = "another tracker of this process already counts for this job: this one measures the machine on its own";
            log.info(why);
            return Err(why.into());
        }
        let forget = || JOINED.lock().unwrap_or_else(|p| p.into_inner()).remove(&base);
        let with = |ext: &str| PathBuf::from(format!("{}.{ext}", base.display()));
        let id = format!("{}-{}", std::process::id(), NEXT_MEMBER.fetch_add(1, Ordering::Relaxed));
        let opened = (|| -> std::io::Result<(File, File, File)> {
            Ok((open_private(&with("members"))?, open_private(&with("state"))?, open_private(&with(&format!("m-{id}")))?))
        })();
        let (members, state, me) = match opened {
            Ok(f) => f,
            Err(e) => {
                forget();
                return Err(refuse(format!("cannot open the node's coordination files in {} ({e})", dir.display())));
            }
        };
        // The first member of the node (nobody else holds `members`) starts from a clean state:
        // files left by a job that died with the same id must not leak into this one.
        let first = match flock(&members, libc::LOCK_EX | libc::LOCK_NB) {
            Locked::Yes => true,
            Locked::Held => false,
            Locked::Failed(e) => {
                forget();
                return Err(refuse(format!("flock fails in {} ({e}): the ranks cannot coordinate there", dir.display())));
            }
        };
        if first && flock(&state, libc::LOCK_EX) == Locked::Yes {
            let _ = state.set_len(0);
            flock(&state, libc::LOCK_UN);
        }
        flock(&members, libc::LOCK_SH);
        flock(&me, libc::LOCK_EX);
        let gpus = gpu_claims(gpus, &with, start_ns);
        let mut share = NodeShare {
            counter_path: with("counter"),
            base,
            state,
            members,
            id,
            me,
            pid: std::process::id(),
            counter: None,
            start_ns,
            cpu: History::new(start_ns),
            ram: History::new(start_ns),
            gpus,
            finished: false,
            log: log.clone(),
        };
        share.with_state(|sh, st| {
            st.member(&sh.id, start_ns);
            sh.try_to_count(st);
        });
        log.info(format!(
            "job {} rank {}: {} the node's machine-wide energy; counts the GPUs [{}] of the {} it sees",
            job.id,
            job.rank,
            if share.is_counter() { "counts" } else { "counts its share of" },
            share.gpus_counted().collect::<Vec<_>>().join(", "),
            share.gpus.len()
        ));
        Ok(share)
    }

    pub fn is_counter(&self) -> bool {
        self.counter.is_some()
    }

    /// The UUIDs of the GPUs this rank counts now.
    pub fn gpus_counted(&self) -> impl Iterator<Item = &str> {
        self.gpus.iter().filter(|g| g.lock.is_some()).map(|g| g.uuid.as_str())
    }

    /// Whether this copy belongs to a forked child of the process that joined (inert).
    fn forked(&self) -> bool {
        std::process::id() != self.pid
    }

    /// Takes the counter's lock (when this rank may count the node: [`State::may_count`]), and
    /// those of the GPUs, that no live rank holds.
    fn try_to_count(&mut self, st: &State) {
        if self.counter.is_none() && st.may_count(&self.id, self.start_ns) {
            self.counter = take_lock(&self.counter_path);
        }
        for g in &mut self.gpus {
            if g.lock.is_none() && !g.lost {
                g.lock = take_lock(&g.lock_path);
            }
        }
    }

    /// Runs `f` on the shared state under its lock, and writes it back: one write of the whole
    /// state, padded over the old text (a rank killed mid-write leaves the old state or the
    /// new one, never a mix or an empty file). The members found dead are voided first.
    fn with_state<T>(&mut self, f: impl FnOnce(&mut Self, &mut State) -> T) -> T {
        if let Locked::Failed(e) = flock(&self.state, libc::LOCK_EX) {
            // It worked at join: the file system changed under the job. Said, never silent.
            self.log.warning(format!("cannot lock the node's coordination state ({e}): the ranks' counts may overlap"));
        }
        let mut text = String::new();
        let _ = self.state.seek(SeekFrom::Start(0)).and_then(|_| self.state.read_to_string(&mut text));
        let old_len = text.len();
        let mut st = State::parse(&text);
        self.void_the_dead(&mut st);
        let out = f(self, &mut st);
        let mut text = st.text();
        if text.len() < old_len {
            text.push_str(&" ".repeat(old_len - text.len()));
        }
        if let Err(e) = self.state.write_all_at(text.as_bytes(), 0) {
            self.log.warning(format!("cannot write the node's coordination state: {e}"));
        }
        flock(&self.state, libc::LOCK_UN);
        out
    }

    /// Removes every other member whose lock is free (it died without its final report): what
    /// it did not report becomes the orphan the next measurement takes over.
    fn void_the_dead(&self, st: &mut State) {
        let dead: Vec<String> = st.members.iter().filter(|m| m.id != self.id && !self.alive(&m.id)).map(|m| m.id.clone()).collect();
        for id in dead {
            self.log.warning(format!("a rank of this node (member {id}) died: this rank takes over what it had not reported"));
            st.leave(&id);
            let _ = std::fs::remove_file(self.member_path(&id));
        }
    }

    fn member_path(&self, id: &str) -> PathBuf {
        PathBuf::from(format!("{}.m-{id}", self.base.display()))
    }

    /// Whether member `id` holds its lock (a file that cannot be opened or locked otherwise
    /// counts as alive: nothing is voided on a doubt).
    fn alive(&self, id: &str) -> bool {
        match lock::open_existing(&self.member_path(id)) {
            Ok(f) => match flock(&f, libc::LOCK_EX | libc::LOCK_NB) {
                Locked::Yes => false,
                Locked::Held | Locked::Failed(_) => true,
            },
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }

    /// This rank's part of `s`, the machine-wide sample of its interval since the previous call,
    /// with `gpus` each tracked GPU's part of it (in the order given to `join`); `last`: the
    /// tracker's final measurement (stop).
    pub fn apportion(&mut self, s: Sample, gpus: impl Iterator<Item = DeviceInterval>, last: bool) -> Sample {
        self.measured_at(monotonic_ns(), s, gpus, last)
    }

    /// [`NodeShare::apportion`] at `now_ns`, not the last measurement (tests: a test clock).
    #[cfg(test)]
    pub(crate) fn apportion_at(&mut self, now_ns: u64, s: Sample, gpus: impl Iterator<Item = DeviceInterval>) -> Sample {
        self.measured_at(now_ns, s, gpus, false)
    }

    /// The last measurement at `now_ns` (tests).
    #[cfg(test)]
    pub(crate) fn apportion_last_at(&mut self, now_ns: u64, s: Sample, gpus: impl Iterator<Item = DeviceInterval>) -> Sample {
        self.measured_at(now_ns, s, gpus, true)
    }

    fn measured_at(&mut self, now_ns: u64, mut s: Sample, gpus: impl Iterator<Item = DeviceInterval>, last: bool) -> Sample {
        if self.forked() {
            return Sample { cpu_energy_kwh: 0.0, ram_energy_kwh: 0.0, gpu_energy_kwh: 0.0, ..s };
        }
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
        // Under the state's lock: a rank that stops gives its locks up under it too, so a rank
        // measuring after that stop's last measurement always takes over.
        self.with_state(|sh, st| {
            let was_counter = sh.is_counter();
            sh.try_to_count(st);
            if sh.is_counter() && !was_counter {
                sh.log.info("the node's counter stopped: this rank counts the node's machine-wide energy from now on");
            }
            sh.count_cpu_ram(st, now_ns, &mut s, last);
            s.gpu_energy_kwh = sh.count_gpus(st, now_ns, &intervals, last) / 3.6e6;
            // What dead members counted and never reported: taken over in this interval.
            s.cpu_energy_kwh += std::mem::take(&mut st.orphan_cpu_kwh);
            s.ram_energy_kwh += std::mem::take(&mut st.orphan_ram_kwh);
            s.gpu_energy_kwh += std::mem::take(&mut st.orphan_gpu_kwh);
            let me = st.member(&sh.id, sh.start_ns);
            me.measured_until_ns = now_ns;
            me.unreported_cpu_kwh += s.cpu_energy_kwh;
            me.unreported_ram_kwh += s.ram_energy_kwh;
            me.unreported_gpu_kwh += s.gpu_energy_kwh;
            if last {
                // Under the state's lock: the next rank to measure takes the counting over
                // from this measurement (its line stays, with what it has not reported, until
                // `finish`).
                sh.give_up_locks();
            }
            // Later questions start at these times or after.
            sh.cpu.forget_before(st.counted_until_ns);
            sh.ram.forget_before(st.counted_until_ns);
            for g in &mut sh.gpus {
                let until = st.gpus.iter().find(|x| x.uuid == g.uuid).map_or(0, |x| x.counted_until_ns);
                g.history.forget_before(until);
            }
        });
        s
    }

    fn count_cpu_ram(&mut self, st: &mut State, now_ns: u64, s: &mut Sample, last: bool) {
        if !self.is_counter() {
            // Only the part of its interval after `counted_until`: a counter's last measurement
            // counted the whole machine up to then (the time before is in its last row).
            let since_ns = st.member(&self.id, self.start_ns).measured_until_ns.min(now_ns);
            let mine = part_after(st.counted_until_ns, since_ns, now_ns);
            let share = s.process_share.unwrap_or_default();
            // At most the machine's energy since `counted_until` that no other rank's share
            // claims yet: the ranks' shares, each measured against its own reading of the
            // machine's busy time, can add up to more than the machine (sampling misaligned
            // under load), and what the counter cannot take off would be counted twice.
            let from = st.counted_until_ns.min(now_ns);
            let room = |h: &History, pending: f64| (h.at(now_ns) - h.at(from) - pending).max(0.0);
            let share = crate::hardware::ProcessShare {
                cpu_energy_kwh: (share.cpu_energy_kwh * mine).clamp(0.0, room(&self.cpu, st.pending_cpu_kwh)),
                ram_energy_kwh: (share.ram_energy_kwh * mine).clamp(0.0, room(&self.ram, st.pending_ram_kwh)),
            };
            s.cpu_energy_kwh = share.cpu_energy_kwh;
            s.ram_energy_kwh = share.ram_energy_kwh;
            st.pending_cpu_kwh += share.cpu_energy_kwh;
            st.pending_ram_kwh += share.ram_energy_kwh;
            return;
        }
        // What nobody counted yet: since `counted_until`, within this rank's own run, up to
        // the last measurement of every other member (their shares of it are in `pending`);
        // at its last measurement up to now (the others' shares of the time since are then
        // theirs no more).
        let from = st.counted_until_ns.max(self.start_ns).min(now_ns);
        let watermark = if last { now_ns } else { others_measured_until(st, &self.id, now_ns).max(from) };
        let cpu = self.cpu.at(watermark) - self.cpu.at(from);
        let ram = self.ram.at(watermark) - self.ram.at(from);
        // At most what it counts: the rest waits for its next interval (never negative).
        let take_cpu = st.pending_cpu_kwh.clamp(0.0, cpu.max(0.0));
        let take_ram = st.pending_ram_kwh.clamp(0.0, ram.max(0.0));
        st.pending_cpu_kwh -= take_cpu;
        st.pending_ram_kwh -= take_ram;
        s.cpu_energy_kwh = cpu - take_cpu;
        s.ram_energy_kwh = ram - take_ram;
        st.counted_until_ns = st.counted_until_ns.max(watermark);
    }

    /// The energy of the GPUs this rank counts, J. As for the CPU: where the ranks report shares,
    /// a counter counts up to the last measurement of every other member (a share reported later
    /// is of time it has not counted yet, so it can always be taken off), up to now at its last
    /// measurement; a share is only of the time after what a counter already counted.
    fn count_gpus(&mut self, st: &mut State, now_ns: u64, intervals: &[DeviceInterval], last: bool) -> f64 {
        let since_ns = st.member(&self.id, self.start_ns).measured_until_ns.min(now_ns);
        let others_until = others_measured_until(st, &self.id, now_ns);
        let mut gpu_j = 0.0;
        for (g, iv) in self.gpus.iter_mut().zip(intervals) {
            if g.lock.is_none() {
                // gpu_share=split: this rank's part, taken off by the GPU's counter.
                if let Some(own_j) = iv.own_j.filter(|_| !iv.lost) {
                    let gs = st.gpu(&g.uuid);
                    let own_j = own_j * part_after(gs.counted_until_ns, since_ns, now_ns);
                    gpu_j += own_j;
                    gs.pending_j += own_j;
                }
                continue;
            }
            let gs = st.gpu(&g.uuid);
            let from = gs.counted_until_ns.max(self.start_ns).min(now_ns);
            // (Only where the ranks report shares: under gpu_share=split, where this rank's own
            // interval has its share too.)
            let until = if last || iv.own_j.is_none() { now_ns } else { others_until.max(from) };
            // Exactly from the counter's reading where the previous counting stopped, when that
            // was within this rank's run, it counts up to now and the step is one the GPU could
            // make.
            let max_mj = crate::hardware::counter::max_step(g.max_mj_per_s, (now_ns - from) as f64 / 1e9);
            let exact = match (gs.counter_mj, iv.counter_mj) {
                (Some(a), Some(b)) if until == now_ns && gs.counted_until_ns >= self.start_ns && b >= a && ((b - a) as f64) <= max_mj => {
                    Some((b - a) as f64 / 1000.0)
                }
                _ => None,
            };
            let counted = exact.unwrap_or_else(|| g.history.at(until) - g.history.at(from));
            // The others' shares, at most what it counts now (never negative, at stop too, as
            // for the CPU): the rest waits for the GPU's next counter.
            let take = gs.pending_j.clamp(0.0, counted.max(0.0));
            gs.pending_j -= take;
            gpu_j += counted - take;
            gs.counted_until_ns = gs.counted_until_ns.max(until);
            // The counter's reading at `counted_until`, known only when that is now.
            gs.counter_mj = if until == now_ns { iv.counter_mj } else { None };
        }
        gpu_j
    }

    /// What this rank counted so far is in its outputs (a flush wrote it): nobody takes it
    /// over if it dies later.
    pub fn reported(&mut self) {
        if !self.forked() {
            self.with_state(|sh, st| {
                let me = st.member(&sh.id, sh.start_ns);
                (me.unreported_cpu_kwh, me.unreported_ram_kwh, me.unreported_gpu_kwh) = (0.0, 0.0, 0.0);
            });
        }
    }

    /// After the final measurement and report (`reported`: whether its row was written):
    /// leaves, giving up counting the node and the GPUs under the state's lock. What was not
    /// reported is taken over by the others.
    pub fn finish(&mut self, reported: bool) {
        if self.forked() || self.finished {
            return;
        }
        if reported {
            self.reported();
        }
        self.finished = true;
        self.with_state(|sh, st| {
            st.leave(&sh.id);
            sh.give_up_locks();
        });
    }

    /// Gives up counting the node and the GPUs (explicit unlocks: a child forked meanwhile
    /// shares the descriptors' locks, so the kernel would not drop them at close).
    fn give_up_locks(&mut self) {
        for l in self.gpus.iter_mut().filter_map(|g| g.lock.take()).chain(self.counter.take()) {
            flock(&l, libc::LOCK_UN);
        }
    }
}

impl Drop for NodeShare {
    /// Gives up the locks (what was not reported is void); the last member of the node removes
    /// the files. A forked child's copy only closes its descriptors: the locks and files are
    /// its parent's.
    fn drop(&mut self) {
        if self.forked() {
            return;
        }
        self.finish(false);
        let _ = std::fs::remove_file(self.member_path(&self.id));
        flock(&self.me, libc::LOCK_UN);
        flock(&self.members, libc::LOCK_UN);
        if flock(&self.members, libc::LOCK_EX | libc::LOCK_NB) == Locked::Yes {
            let stem = format!("{}.", self.base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            if let Some(Ok(entries)) = self.base.parent().map(std::fs::read_dir) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let ours = ["counter", "state", "members"].iter().any(|x| name == format!("{stem}{x}"))
                        || name.starts_with(&format!("{stem}gpu-"))
                        || name.starts_with(&format!("{stem}m-"));
                    if ours {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        JOINED.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.base);
    }
}


/// The GPUs a rank may count, each with its lock file beside the coordination files (`with`).
fn gpu_claims(gpus: &[Gpu], with: &dyn Fn(&str) -> PathBuf, start_ns: u64) -> Vec<GpuClaim> {
    gpus.iter()
        .map(|g| GpuClaim {
            uuid: g.uuid.clone(),
            lock_path: with(&format!("gpu-{}", safe(&g.uuid))),
            lock: None,
            history: History::new(start_ns),
            max_mj_per_s: g.counter_max_mj_per_s(),
            lost: false,
        })
        .collect()
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

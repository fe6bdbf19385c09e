//! The protocol, step by step, with a test clock (several participants in one process: the
//! in-process registry is cleared after each join).

use super::*;
use crate::hardware::gpu::fake::FakeGpu;
use crate::hardware::gpu::{self, GpuDevice};
use crate::hardware::ProcessShare;
use std::path::Path;
use std::sync::Arc;

pub(super) fn quiet() -> Logger {
    Logger { threshold: crate::log::Level::Critical, preamble: String::new() }
}

/// A machine-wide interval: `cpu` and `ram` kWh, this rank's share `share` of the CPU (a
/// tenth of it of the RAM); 1 kWh of GPU that a node share never passes through.
pub(super) fn sample(cpu: f64, ram: f64, share: f64) -> Sample {
    Sample {
        cpu_energy_kwh: cpu,
        ram_energy_kwh: ram,
        gpu_energy_kwh: 1.0,
        process_share: Some(ProcessShare { cpu_energy_kwh: share, ram_energy_kwh: share / 10.0 }),
        ..Default::default()
    }
}

/// The GPUs `uuids` as a tracker sees them (2 kW maximum).
pub(super) fn gpus(uuids: &[&str]) -> Vec<Gpu> {
    let devices: Vec<Arc<dyn GpuDevice>> = uuids.iter().enumerate().map(|(i, u)| FakeGpu::new(i as u32, u, true) as Arc<dyn GpuDevice>).collect();
    gpu::select(&devices, None, &quiet())
}

pub(super) fn member_at(dir: &Path, job: &str, seen: &[Gpu], start_ns: u64) -> NodeShare {
    let c = Config { job_coordination_dir: dir.to_path_buf(), gpu_ids: None, ..Config::default() };
    let j = Job::new(job, 0, "options");
    let m = NodeShare::join_at(&c, &j, seen, &quiet(), start_ns).unwrap();
    JOINED.lock().unwrap().remove(&m.base);
    m
}

fn member(dir: &Path, job: &str, start_ns: u64) -> NodeShare {
    member_at(dir, job, &[], start_ns)
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

/// A SIGKILL: the descriptors close (the kernel drops the locks), no destructor runs.
pub(super) fn kill(m: NodeShare) {
    let mut m = std::mem::ManuallyDrop::new(m);
    m.counter.take();
    for g in &mut m.gpus {
        g.lock.take();
    }
    // SAFETY: each descriptor is read out once and closed; the rest of `m` is leaked.
    unsafe {
        drop(std::ptr::read(&m.state));
        drop(std::ptr::read(&m.members));
        drop(std::ptr::read(&m.me));
    }
}

/// What `fork` gives a child: the same open files (so the same `flock`s), another process.
pub(super) fn forked_copy(m: &NodeShare) -> NodeShare {
    let dup = |f: &File| f.try_clone().unwrap();
    NodeShare {
        base: m.base.clone(),
        counter_path: m.counter_path.clone(),
        state: dup(&m.state),
        members: dup(&m.members),
        id: m.id.clone(),
        me: dup(&m.me),
        pid: m.pid.wrapping_add(1),
        counter: m.counter.as_ref().map(dup),
        start_ns: m.start_ns,
        cpu: m.cpu.clone(),
        ram: m.ram.clone(),
        gpus: m
            .gpus
            .iter()
            .map(|g| GpuClaim {
                uuid: g.uuid.clone(),
                lock_path: g.lock_path.clone(),
                lock: g.lock.as_ref().map(dup),
                history: g.history.clone(),
                max_mj_per_s: g.max_mj_per_s,
                lost: g.lost,
            })
            .collect(),
        finished: m.finished,
        log: m.log.clone(),
    }
}

/// The rank's directory of coordination files.
fn files(d: &Path) -> Vec<String> {
    let private = d.join(format!("carbon-tracker-{}", unsafe { libc::getuid() }));
    std::fs::read_dir(private).map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
}

#[test]
fn one_counter_others_share_and_a_dead_counter_is_replaced() {
    let d = tempfile::tempdir().unwrap();
    let mut a = member(d.path(), "j1", 0);
    let mut b = member(d.path(), "j1", 0);
    assert!(a.is_counter() && !b.is_counter());
    // b counts its share (2 of the machine's 10), a the machine minus that share.
    let sb = b.apportion_at(10, sample(10.0, 5.0, 2.0), no_gpu());
    assert_eq!((sb.cpu_energy_kwh, sb.ram_energy_kwh, sb.gpu_energy_kwh), (2.0, 0.2, 0.0));
    let sa = a.apportion_at(10, sample(10.0, 5.0, 3.0), no_gpu());
    assert_eq!((sa.cpu_energy_kwh, sa.ram_energy_kwh), (8.0, 4.8));
    a.finish(true);
    drop(a);
    let sb = b.apportion_at(20, sample(10.0, 5.0, 2.0), no_gpu());
    assert!(b.is_counter());
    assert_eq!(sb.cpu_energy_kwh, 10.0, "the node since a's last measurement");
    drop(b);
    assert!(files(d.path()).is_empty(), "the last member removes the files");
}

#[test]
fn the_counter_waits_for_the_others_measurements_and_a_stop_leaves_the_rest_to_them() {
    let d = tempfile::tempdir().unwrap();
    let mut a = member(d.path(), "j2", 0);
    let mut b = member(d.path(), "j2", 0);
    let mut total = 0.0;
    // b measured up to 10 only: a counts the node up to 10, not up to 20 (b's share of
    // 10..20 is not known yet).
    total += b.apportion_at(10, sample(10.0, 0.0, 4.0), no_gpu()).cpu_energy_kwh;
    let sa = a.apportion_at(20, sample(20.0, 0.0, 0.0), no_gpu());
    assert_eq!(sa.cpu_energy_kwh, 6.0);
    total += sa.cpu_energy_kwh;
    // a stops at 20: b takes 10..30 over, its own share of it no longer apart.
    a.finish(true);
    drop(a);
    let sb = b.apportion_at(30, sample(20.0, 0.0, 8.0), no_gpu());
    assert!(b.is_counter());
    assert_eq!(sb.cpu_energy_kwh, 20.0);
    total += sb.cpu_energy_kwh;
    assert_eq!(total, 30.0, "the node's 30, each interval positive");
}

#[test]
fn shares_reported_after_the_counter_stopped_never_make_an_interval_negative() {
    // The case: the counter flushes and stops while another rank reports its share.
    let d = tempfile::tempdir().unwrap();
    let mut a = member(d.path(), "j3", 0);
    let mut b = member(d.path(), "j3", 0);
    let mut total = a.apportion_at(10, sample(10.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh; // up to b's 0: nothing
    a.reported();
    let last = a.apportion_at(11, sample(1.0, 0.0, 0.0), no_gpu());
    assert!(last.cpu_energy_kwh >= 0.0);
    total += last.cpu_energy_kwh;
    a.finish(true);
    drop(a);
    total += b.apportion_at(12, sample(12.0, 0.0, 4.0), no_gpu()).cpu_energy_kwh;
    let sb = b.apportion_at(13, sample(1.0, 0.0, 0.5), no_gpu());
    assert!(sb.cpu_energy_kwh >= 0.0);
    total += sb.cpu_energy_kwh;
    assert!((total - 13.0).abs() < 1e-12, "{total}");
}

#[test]
fn shares_that_add_up_to_more_than_the_machine_are_counted_once_at_most() {
    // Three ranks each read half of the machine's busy time as theirs (their readings of
    // /proc misaligned under load): 1.5 times the machine. The counter stops right after.
    let d = tempfile::tempdir().unwrap();
    let mut a = member(d.path(), "j9", 0);
    let mut sharers: Vec<NodeShare> = (0..3).map(|_| member(d.path(), "j9", 0)).collect();
    let mut total = 0.0;
    for r in &mut sharers {
        let s = r.apportion_at(10, sample(10.0, 5.0, 5.0), no_gpu());
        assert!(s.cpu_energy_kwh >= 0.0 && s.ram_energy_kwh >= 0.0, "{s:?}");
        total += s.cpu_energy_kwh;
    }
    let last = a.apportion_last_at(10, sample(10.0, 5.0, 0.0), no_gpu());
    assert!(last.cpu_energy_kwh >= 0.0, "{last:?}");
    total += last.cpu_energy_kwh;
    a.finish(true);
    drop(a);
    for r in &mut sharers {
        let s = r.apportion_last_at(10, sample(0.0, 0.0, 0.0), no_gpu());
        assert!(s.cpu_energy_kwh >= 0.0, "{s:?}");
        total += s.cpu_energy_kwh;
    }
    assert!((total - 10.0).abs() < 1e-12, "the ranks' CPU {total} kWh, the node's 10 kWh");
}

#[test]
fn a_killed_counter_loses_nothing_it_counted_since_its_last_report() {
    let d = tempfile::tempdir().unwrap();
    let mut a = member(d.path(), "j4", 0);
    let mut b = member(d.path(), "j4", 0);
    let mut on_disk = 0.0;
    let mut a_total = 0.0;
    for t in 1..=10u64 {
        on_disk += b.apportion_at(t * 10, sample(10.0, 0.0, 1.0), no_gpu()).cpu_energy_kwh;
        a_total += a.apportion_at(t * 10 + 5, sample(if t == 1 { 15.0 } else { 10.0 }, 0.0, 0.0), no_gpu()).cpu_energy_kwh;
        if t == 3 {
            a.reported();
            on_disk += a_total;
            a_total = 0.0;
        }
    }
    b.reported();
    // a (at 105, counted up to 100) dies with 7 ticks unreported: b takes it all over.
    kill(a);
    for t in 11..=12u64 {
        on_disk += b.apportion_at(t * 10, sample(10.0, 0.0, 1.0), no_gpu()).cpu_energy_kwh;
    }
    assert!(b.is_counter());
    b.finish(true);
    assert!((on_disk - 120.0).abs() < 1e-9, "{on_disk} of the node's 120");
}

#[test]
fn a_killed_sharer_leaves_its_unreported_shares_to_a_survivor() {
    let d = tempfile::tempdir().unwrap();
    let mut a = member(d.path(), "j5", 0);
    let mut b = member(d.path(), "j5", 0);
    let mut on_disk = 0.0;
    b.apportion_at(10, sample(10.0, 0.0, 4.0), no_gpu()); // never reported
    on_disk += a.apportion_at(10, sample(10.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh; // 6
    kill(b);
    on_disk += a.apportion_at(20, sample(10.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh; // 10 + b's 4
    assert!((on_disk - 20.0).abs() < 1e-12, "{on_disk}");
}

#[test]
fn a_member_that_joined_late_waits_to_count_while_an_older_one_lives() {
    // The machine draws 1 kWh per clock unit.
    let d = tempfile::tempdir().unwrap();
    let mut a = member(d.path(), "j6", 0);
    let mut b = member(d.path(), "j6", 0);
    let mut total = 0.0;
    total += b.apportion_at(10, sample(10.0, 0.0, 2.0), no_gpu()).cpu_energy_kwh;
    total += a.apportion_at(10, sample(10.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh;
    total += b.apportion_at(20, sample(10.0, 0.0, 2.0), no_gpu()).cpu_energy_kwh;
    total += a.apportion_at(20, sample(10.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh;
    let mut c = member(d.path(), "j6", 22);
    a.finish(true);
    drop(a);
    // c measures first: it did not measure 20..22, b did: c shares, b takes over.
    total += c.apportion_at(25, sample(3.0, 0.0, 1.0), no_gpu()).cpu_energy_kwh;
    assert!(!c.is_counter());
    total += b.apportion_at(30, sample(10.0, 0.0, 2.0), no_gpu()).cpu_energy_kwh;
    assert!(b.is_counter());
    total += c.apportion_at(30, sample(5.0, 0.0, 0.5), no_gpu()).cpu_energy_kwh;
    c.finish(true);
    total += b.apportion_at(40, sample(10.0, 0.0, 2.0), no_gpu()).cpu_energy_kwh;
    assert!((total - 40.0).abs() < 1e-12, "{total}");
}

#[test]
fn a_forked_copy_freed_in_the_child_unlocks_and_removes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let mut a = member(d.path(), "j7", 0);
    let child = forked_copy(&a);
    drop(child);
    let mut b = member(d.path(), "j7", 0);
    assert!(a.is_counter() && !b.is_counter(), "the parent still counts");
    assert!(files(d.path()).iter().any(|f| f.ends_with(".state")));
    let mut total = b.apportion_at(10, sample(10.0, 0.0, 3.0), no_gpu()).cpu_energy_kwh;
    total += a.apportion_at(10, sample(10.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh;
    assert_eq!(total, 10.0);
    // A child's copy measures nothing either.
    let mut child = forked_copy(&a);
    assert_eq!(child.apportion_at(20, sample(10.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh, 0.0);
}

#[test]
fn a_stale_state_of_a_dead_job_is_reset_by_the_first_member() {
    let d = tempfile::tempdir().unwrap();
    let dir = private_dir(d.path()).unwrap();
    let stale = State { counted_until_ns: u64::MAX / 2, pending_cpu_kwh: 5.0, pending_ram_kwh: 1.0, ..State::default() };
    std::fs::write(dir.join(format!("{}.state", file_stem("j8"))), stale.text()).unwrap();
    let mut a = member(d.path(), "j8", 0);
    let s = a.apportion_at(10, sample(2.0, 1.0, 0.0), no_gpu());
    assert_eq!((s.cpu_energy_kwh, s.ram_energy_kwh), (2.0, 1.0));
}

#[test]
fn each_gpu_is_counted_by_one_rank_and_taken_over_from_its_counter_reading() {
    let d = tempfile::tempdir().unwrap();
    let both = gpus(&["GPU-x", "GPU-y"]);
    let mut a = member_at(d.path(), "g1", &both, 0);
    let mut b = member_at(d.path(), "g1", &both, 0);
    let mut c = member_at(d.path(), "g1", &both[1..], 0); // sees y only
    assert_eq!(a.gpus_counted().collect::<Vec<_>>(), vec!["GPU-x", "GPU-y"]);
    assert_eq!(b.gpus_counted().count() + c.gpus_counted().count(), 0, "the first to join counts both");
    let s = |cpu| sample(cpu, 0.0, 0.0);
    let mut total = 0.0;
    total += gpu_j(&a.apportion_at(10, s(0.0), [counted(10.0, 11_000), counted(5.0, 5_000)].into_iter()));
    a.reported();
    total += gpu_j(&b.apportion_at(10, s(0.0), [counted(10.0, 11_000), counted(5.0, 5_000)].into_iter()));
    total += gpu_j(&c.apportion_at(10, s(0.0), [counted(5.0, 5_000)].into_iter()));
    assert!((total - 15.0).abs() < 1e-9, "{total}");
    // b measures again while a (alive, silent) still counts; then a dies.
    total += gpu_j(&b.apportion_at(20, s(0.0), [counted(7.0, 18_000), counted(1.0, 6_000)].into_iter()));
    a.finish(true);
    drop(a);
    // c measures first: it takes y over, exactly from a's last reading of y's counter.
    total += gpu_j(&c.apportion_at(30, s(0.0), [counted(3.0, 9_000)].into_iter()));
    assert_eq!(c.gpus_counted().collect::<Vec<_>>(), vec!["GPU-y"]);
    // b takes x over from a's last reading (11 000 mJ): 20 J, its earlier interval included.
    let sb = b.apportion_at(30, s(0.0), [counted(13.0, 31_000), counted(2.0, 11_000)].into_iter());
    assert_eq!(b.gpus_counted().collect::<Vec<_>>(), vec!["GPU-x"]);
    assert!((gpu_j(&sb) - 20.0).abs() < 1e-9, "{}", gpu_j(&sb));
    total += gpu_j(&sb);
    total += gpu_j(&c.apportion_at(40, s(0.0), [counted(2.0, 11_000)].into_iter()));
    // The node: x went from 1 000 to 31 000 mJ, y from 0 to 11 000 mJ.
    assert!((total - (30.0 + 11.0)).abs() < 1e-9, "{total}");
}

#[test]
fn a_killed_gpu_counter_leaves_its_unreported_joules_to_the_one_taking_over() {
    let d = tempfile::tempdir().unwrap();
    let seen = gpus(&["GPU-k"]);
    let mut a = member_at(d.path(), "g4", &seen, 0);
    let mut b = member_at(d.path(), "g4", &seen, 0);
    let mut on_disk = gpu_j(&a.apportion_at(10, sample(0.0, 0.0, 0.0), [counted(10.0, 10_000)].into_iter()));
    a.reported();
    a.apportion_at(20, sample(0.0, 0.0, 0.0), [counted(10.0, 20_000)].into_iter()); // unreported
    kill(a);
    on_disk += gpu_j(&b.apportion_at(30, sample(0.0, 0.0, 0.0), [counted(30.0, 30_000)].into_iter()));
    assert!((on_disk - 30.0).abs() < 1e-9, "{on_disk}");
}

#[test]
fn a_gpu_without_a_counter_is_taken_over_from_the_survivors_own_measurement() {
    let d = tempfile::tempdir().unwrap();
    let seen = gpus(&["GPU-p"]);
    let mut a = member_at(d.path(), "g2", &seen, 0);
    let mut b = member_at(d.path(), "g2", &seen, 0);
    let power = |j: f64| [DeviceInterval { energy_j: j, counter_mj: None, lost: false, own_j: None }].into_iter();
    let by_a = gpu_j(&a.apportion_at(10, sample(0.0, 0.0, 0.0), power(100.0)));
    assert_eq!(gpu_j(&b.apportion_at(20, sample(0.0, 0.0, 0.0), power(200.0))), 0.0, "a counts it");
    a.finish(true);
    drop(a);
    let by_b = gpu_j(&b.apportion_at(30, sample(0.0, 0.0, 0.0), power(100.0)));
    // b counts its last interval and the part of the one before that came after a's last
    // measurement (its own measurement, interpolated in time).
    assert!((by_a - 100.0).abs() < 1e-9, "{by_a}");
    assert!((by_b - 200.0).abs() < 1e-9, "{by_b}");
}

#[test]
fn a_lost_gpu_is_given_up_and_disjoint_gpus_are_each_counted() {
    let d = tempfile::tempdir().unwrap();
    let mut a = member_at(d.path(), "g3", &gpus(&["GPU-1"]), 0);
    let mut b = member_at(d.path(), "g3", &gpus(&["GPU-2"]), 0);
    assert_eq!((a.gpus_counted().count(), b.gpus_counted().count()), (1, 1), "a GPU seen by one rank is counted by it");
    let lost = DeviceInterval { energy_j: 0.0, counter_mj: None, lost: true, own_j: None };
    a.apportion_at(10, sample(0.0, 0.0, 0.0), [lost].into_iter());
    assert_eq!(a.gpus_counted().count(), 0);
    assert!((gpu_j(&b.apportion_at(10, sample(0.0, 0.0, 0.0), [counted(4.0, 4_000)].into_iter())) - 4.0).abs() < 1e-9);
    drop((a, b));
    assert!(files(d.path()).is_empty(), "GPU lock files removed too");
}

#[test]
fn a_share_of_time_a_stopped_counter_counted_whole_is_not_counted_again() {
    // The machine draws 1 kWh per clock unit; b's share is 0.3 of it.
    let d = tempfile::tempdir().unwrap();
    let mut a = member(d.path(), "j9", 0);
    let mut b = member(d.path(), "j9", 0);
    let mut c = member(d.path(), "j9", 0);
    let mut total = 0.0;
    total += b.apportion_at(10, sample(10.0, 0.0, 3.0), no_gpu()).cpu_energy_kwh;
    total += c.apportion_at(10, sample(10.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh;
    total += a.apportion_at(10, sample(10.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh;
    // a's last measurement counts the whole machine up to 28, b's share of 10..28 unknown.
    total += a.apportion_last_at(28, sample(18.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh;
    total += c.apportion_at(28, sample(18.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh;
    assert!(c.is_counter());
    a.finish(true);
    // b's interval 10..30: only its share of 28..30 is its own.
    let sb = b.apportion_last_at(30, sample(20.0, 0.0, 6.0), no_gpu());
    assert!((sb.cpu_energy_kwh - 0.6).abs() < 1e-12, "{}", sb.cpu_energy_kwh);
    total += sb.cpu_energy_kwh;
    total += c.apportion_last_at(31, sample(3.0, 0.0, 0.0), no_gpu()).cpu_energy_kwh;
    assert!((total - 31.0).abs() < 1e-12, "{total}");
}

/// `gpu_share=split`: one interval of a GPU with a counter, `j` joules (the counter at `mj`),
/// of which this rank's part is `own`.
fn split(j: f64, mj: u64, own: f64) -> std::iter::Once<DeviceInterval> {
    std::iter::once(DeviceInterval { energy_j: j, counter_mj: Some(mj), lost: false, own_j: Some(own) })
}

#[test]
fn split_gpu_each_rank_its_share_and_the_job_total_is_the_device() {
    let d = tempfile::tempdir().unwrap();
    let seen = gpus(&["GPU-s"]);
    let mut a = member_at(d.path(), "s1", &seen, 0);
    let mut b = member_at(d.path(), "s1", &seen, 0);
    let mut c = member_at(d.path(), "s1", &seen, 0);
    // The device: 100 J per interval. b's part 30 %, c's 10 %; a counts the device less theirs.
    let sb = gpu_j(&b.apportion_at(10, sample(0.0, 0.0, 0.0), split(100.0, 100_000, 30.0)));
    let sc = gpu_j(&c.apportion_at(10, sample(0.0, 0.0, 0.0), split(100.0, 100_000, 10.0)));
    assert_eq!((sb, sc), (30.0, 10.0), "a rank that does not count the GPU carries its share");
    let sa = gpu_j(&a.apportion_at(10, sample(0.0, 0.0, 0.0), split(100.0, 100_000, 60.0)));
    assert!((sa - 60.0).abs() < 1e-9, "{sa}");
    let mut total = sa + sb + sc;
    total += gpu_j(&b.apportion_at(20, sample(0.0, 0.0, 0.0), split(100.0, 200_000, 25.0)));
    total += gpu_j(&a.apportion_last_at(20, sample(0.0, 0.0, 0.0), split(100.0, 200_000, 75.0)));
    assert!((total - 200.0).abs() < 1e-9, "the job's total is the device's energy: {total}");
    let st = State::parse(&std::fs::read_to_string(format!("{}.state", c.base.display())).unwrap());
    assert_eq!(st.gpus[0].pending_j, 0.0);
}

#[test]
fn a_killed_rank_leaves_its_unreported_gpu_share_to_a_survivor_counted_once() {
    let d = tempfile::tempdir().unwrap();
    let seen = gpus(&["GPU-s"]);
    let mut a = member_at(d.path(), "s2", &seen, 0);
    let mut b = member_at(d.path(), "s2", &seen, 0);
    assert_eq!(gpu_j(&b.apportion_at(10, sample(0.0, 0.0, 0.0), split(100.0, 100_000, 30.0))), 30.0); // never reported
    let mut on_disk = gpu_j(&a.apportion_at(10, sample(0.0, 0.0, 0.0), split(100.0, 100_000, 70.0)));
    kill(b);
    // a: the device's next 100 J and b's 30 it takes over; b's share still taken off once.
    on_disk += gpu_j(&a.apportion_at(20, sample(0.0, 0.0, 0.0), split(100.0, 200_000, 100.0)));
    assert!((on_disk - 200.0).abs() < 1e-9, "{on_disk} of the device's 200 J");
}

#[test]
fn a_gpu_counters_last_interval_is_never_negative_and_the_rest_of_the_shares_waits() {
    let d = tempfile::tempdir().unwrap();
    let seen = gpus(&["GPU-s"]);
    let mut a = member_at(d.path(), "s3", &seen, 0);
    let mut b = member_at(d.path(), "s3", &seen, 0);
    let mut total = gpu_j(&b.apportion_at(10, sample(0.0, 0.0, 0.0), split(100.0, 100_000, 40.0)));
    total += gpu_j(&a.apportion_at(10, sample(0.0, 0.0, 0.0), split(100.0, 100_000, 60.0)));
    // b's share of 10..20 is 50 J; a stops at 12 after 20 J: it takes 20 J of it off, not 50.
    total += gpu_j(&b.apportion_at(20, sample(0.0, 0.0, 0.0), split(100.0, 200_000, 50.0)));
    let last = gpu_j(&a.apportion_last_at(12, sample(0.0, 0.0, 0.0), split(20.0, 120_000, 10.0)));
    assert!(last.abs() < 1e-9, "a's last interval: {last} J");
    total += last;
    a.finish(true);
    drop(a);
    // b counts the GPU from a's last reading (180 J) less the 30 J of its share left pending.
    let sb = gpu_j(&b.apportion_at(30, sample(0.0, 0.0, 0.0), split(100.0, 300_000, 100.0)));
    assert!((sb - 150.0).abs() < 1e-9, "{sb}");
    total += sb;
    assert!((total - 300.0).abs() < 1e-9, "the device's 300 J: {total}");
}

/// gpu_share=split, the ranks flushing together: the GPU's counter measures just before the
/// other rank reports its share of the same time, then stops just after. The counter counts only
/// up to the other's last measurement (as for the CPU), so the share is taken off at its stop:
/// before, it had counted the whole device up to its flush and the late share was left over
/// (the job counted 1.5 times the device).
#[test]
fn a_share_reported_just_after_the_gpu_counter_measured_is_taken_off_at_its_stop() {
    let d = tempfile::tempdir().unwrap();
    let seen = gpus(&["GPU-s"]);
    let mut counter = member_at(d.path(), "g5", &seen, 0);
    let mut other = member_at(d.path(), "g5", &seen, 0);
    let split = |device_j: f64, mj: u64, own_j: f64| {
        [DeviceInterval { energy_j: device_j, counter_mj: Some(mj), lost: false, own_j: Some(own_j) }].into_iter()
    };
    let s = || sample(0.0, 0.0, 0.0);
    // 300 W; the other rank uses half of the device, the counter a sixth.
    let mut by_counter = gpu_j(&counter.apportion_at(1_000_000_000, s(), split(300.0, 300_000, 50.0)));
    let mut by_other = gpu_j(&other.apportion_at(1_003_000_000, s(), split(300.9, 300_900, 150.45)));
    by_other += gpu_j(&other.apportion_last_at(1_006_000_000, s(), split(0.9, 301_800, 0.45)));
    other.finish(true);
    by_counter += gpu_j(&counter.apportion_last_at(1_009_000_000, s(), split(2.7, 302_700, 0.45)));
    let total = by_counter + by_other;
    // Each rank keeps its own share: the other rank its half of the device over its run.
    assert!((by_other - 150.9).abs() < 1e-6, "the other rank counted {by_other} J, its share is 150.9 J");
    assert!((total - 302.7).abs() < 1e-6, "the job counted {total} J of the device's 302.7 J");
}

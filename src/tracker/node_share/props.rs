//! A property test of the node-share protocol: random joins, measurements in any order,
//! flushes, stops, SIGKILLs (a participant dropped without its final report) and forks (a copy
//! freed in a child) over N ranks, with a test clock. Invariants: no interval is negative, and
//! what the ranks reported (their rows on disk) adds up to the node's energy. Every rank sees
//! one GPU, split (`gpu_share=split`): its GPU energy adds up to the device's, plus the shares
//! still pending when its counting ended (the limit said in docs/gpu-sharing.md).
//!
//! The machine draws 1 kWh of CPU and 0.5 kWh of RAM per clock unit (constant: interpolating a
//! rank's measurements in time is then exact), the GPU 2 J (no energy counter); rank i's share
//! is a fixed fraction of each, up to all of it: each rank reads its busy time and the
//! machine's at its own instants, so under load the shares can add up to more than the machine
//! (each one is capped at the whole machine only). Rank 0 joins first and lives until the end,
//! so some rank measures every instant of the job.
//! `PROPTEST_CASES` raises the number of cases (64 by default: well under a second).

use super::tests::{forked_copy, gpus, kill, member_at, quiet};
use crate::hardware::gpu::DeviceInterval;
use super::*;
use crate::hardware::ProcessShare;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Op {
    Join,
    Measure,
    Flush,
    Stop,
    Kill,
    Fork,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![2 => Just(Op::Join), 6 => Just(Op::Measure), 2 => Just(Op::Flush), 1 => Just(Op::Stop), 1 => Just(Op::Kill), 1 => Just(Op::Fork)]
}

struct Rank {
    share: f64,
    node: Option<NodeShare>,
    joined: bool,
    last_ns: u64,
    /// The totals of its intervals, and what of them its last report wrote.
    cpu: f64,
    ram: f64,
    disk_cpu: f64,
    disk_ram: f64,
    gpu_j: f64,
    disk_gpu_j: f64,
}

/// The GPU draws this per clock unit, J.
const GPU_J: f64 = 2.0;

impl Rank {
    /// One measurement at `t`: the machine's energy since its last one, and its share of it.
    fn measure(&mut self, t: u64, last: bool) -> Result<(), TestCaseError> {
        let dt = (t - self.last_ns) as f64;
        let s = Sample {
            cpu_energy_kwh: dt,
            ram_energy_kwh: dt * 0.5,
            process_share: Some(ProcessShare { cpu_energy_kwh: dt * self.share, ram_energy_kwh: dt * 0.5 * self.share }),
            ..Default::default()
        };
        let gpu = std::iter::once(DeviceInterval { energy_j: dt * GPU_J, counter_mj: None, lost: false, own_j: Some(dt * GPU_J * self.share) });
        let node = self.node.as_mut().expect("joined");
        let got = if last { node.apportion_last_at(t, s, gpu) } else { node.apportion_at(t, s, gpu) };
        prop_assert!(got.cpu_energy_kwh >= 0.0 && got.ram_energy_kwh >= 0.0 && got.gpu_energy_kwh >= 0.0, "a negative interval: {got:?}");
        self.cpu += got.cpu_energy_kwh;
        self.ram += got.ram_energy_kwh;
        self.gpu_j += got.gpu_energy_kwh * 3.6e6;
        self.last_ns = t;
        Ok(())
    }

    fn report(&mut self) {
        (self.disk_cpu, self.disk_ram, self.disk_gpu_j) = (self.cpu, self.ram, self.gpu_j);
    }
}

/// One step of the property on rank `r` (`first`: rank 0, which stops at the end only), at `t`.
fn step(r: &mut Rank, op: Op, first: bool, t: u64, dir: &std::path::Path, seen: &[Gpu]) -> Result<(), TestCaseError> {
    match op {
        Op::Join if !r.joined => {
            r.node = Some(member_at(dir, "prop", seen, t));
            (r.joined, r.last_ns) = (true, t);
        }
        Op::Measure if r.node.is_some() => r.measure(t, false)?,
        Op::Flush if r.node.is_some() => {
            r.measure(t, false)?;
            r.node.as_mut().unwrap().reported();
            r.report();
        }
        // Rank 0 stops at the end only; a killed rank's rows stay as last written.
        Op::Stop if r.node.is_some() && !first => {
            r.measure(t, true)?;
            r.report();
            r.node.take().unwrap().finish(true);
        }
        Op::Kill if r.node.is_some() && !first => kill(r.node.take().unwrap()),
        Op::Fork if r.node.is_some() => {
            let mut child = forked_copy(r.node.as_ref().unwrap());
            let s = child.apportion_at(t, Sample { cpu_energy_kwh: 1.0, ..Default::default() }, std::iter::empty());
            prop_assert_eq!(s.cpu_energy_kwh, 0.0, "a forked copy counts nothing");
            drop(child);
        }
        _ => {}
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_ranks_sum_to_the_node_and_no_interval_is_negative(
        shares in prop::collection::vec(0.0f64..1.0, 2..=5),
        steps in prop::collection::vec((op(), 0usize..5, 0u64..20), 1..60),
        end in prop::collection::vec((0usize..5, 0u64..20), 5),
        finish_late in any::<bool>(),
    ) {
        let d = tempfile::tempdir().unwrap();
        let _ = quiet();
        let mut t = 0u64;
        let mut ranks: Vec<Rank> = shares
            .iter()
            .map(|&share| Rank { share, node: None, joined: false, last_ns: 0, cpu: 0.0, ram: 0.0, disk_cpu: 0.0, disk_ram: 0.0, gpu_j: 0.0, disk_gpu_j: 0.0 })
            .collect();
        let n = ranks.len();
        let seen = gpus(&["GPU-p"]);
        let state = private_dir(d.path()).unwrap().join(format!("{}.state", file_stem("prop")));
        // The GPU's shares pending when the last rank leaves (read before each leaves).
        let pending_j = || State::parse(&std::fs::read_to_string(&state).unwrap_or_default()).gpus.first().map_or(0.0, |g| g.pending_j);
        let mut left_pending_j = 0.0;
        ranks[0].node = Some(member_at(d.path(), "prop", &seen, 0));
        ranks[0].joined = true;
        for (op, i, dt) in steps {
            t += dt;
            step(&mut ranks[i % n], op, i % n == 0, t, d.path(), &seen)?;
        }
        // The end: every rank still running stops, in a random order; with `finish_late`, all
        // take their last measurement before any writes its last row and leaves.
        let mut order: Vec<usize> = (0..n).collect();
        for (k, (j, dt)) in end.iter().enumerate() {
            order.swap(k % n, j % n);
            t += dt;
        }
        for &i in &order {
            let r = &mut ranks[i];
            if r.node.is_some() {
                t += 1;
                r.measure(t, true)?;
                r.report();
                if !finish_late {
                    left_pending_j = pending_j();
                    r.node.take().unwrap().finish(true);
                }
            }
        }
        for &i in &order {
            if let Some(mut node) = ranks[i].node.take() {
                left_pending_j = pending_j();
                node.finish(true);
            }
        }
        let cpu: f64 = ranks.iter().map(|r| r.disk_cpu).sum();
        let ram: f64 = ranks.iter().map(|r| r.disk_ram).sum();
        let node_cpu = t as f64;
        prop_assert!((cpu - node_cpu).abs() <= 1e-9 * node_cpu.max(1.0), "CPU: ranks' sum {} of the node's {}", cpu, node_cpu);
        prop_assert!((ram - node_cpu * 0.5).abs() <= 1e-9 * node_cpu.max(1.0), "RAM: ranks' sum {} of the node's {}", ram, node_cpu * 0.5);
        let gpu: f64 = ranks.iter().map(|r| r.disk_gpu_j).sum();
        let device_j = t as f64 * GPU_J;
        prop_assert!(left_pending_j >= 0.0);
        prop_assert!(
            (gpu - device_j - left_pending_j).abs() <= 1e-9 * device_j.max(1.0),
            "GPU: ranks' sum {} J of the device's {} J ({} J left pending)", gpu, device_j, left_pending_j
        );
    }
}

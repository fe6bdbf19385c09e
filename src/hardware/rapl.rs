//! Intel/AMD RAPL through the Linux powercap sysfs tree (docs/measuring.md).
//!
//! The root is the `rapl_dir` option (default `/sys/class/powercap`), so tests use fake trees.
//! Zones are found both in the flat layout of `/sys/class/powercap` (`intel-rapl:0`,
//! `intel-rapl:0:0`, …) and nested under `intel-rapl/` (the `/sys/devices/virtual` layout).
//! Selection: `psys` when `rapl_prefer_psys`; else every `package-N` zone (plus `dram` zones with
//! `rapl_include_dram`, which really are added, unlike CodeCarbon's #1305); else `psys`.
//! MMIO duplicates of a zone (`intel-rapl-mmio:N`) win over the MSR one, as in CodeCarbon.
//! Counters wrap at `max_energy_range_uj`; each delta is wrap-corrected per zone.
//!
//! Linux only: powercap is a Linux sysfs interface (elsewhere no tree is found and the TDP model
//! is used).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::counter::{CounterDiff, Step};
use super::kept_open::KeptOpen;
use super::source::{EnergySource, Interval};
use crate::log::Logger;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ZoneKind {
    Package,
    Dram,
    Psys,
}

/// One selected zone (what the hardware cache keeps).
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub dir: PathBuf,
    pub name: String,
    pub kind: ZoneKind,
    /// 0 when unknown: then a decreasing counter is taken as a reset, not a wrap.
    pub max_energy_range_uj: u64,
    /// The zone's highest power constraint (`constraint_N_max_power_uw`, else
    /// `constraint_N_power_limit_uw`), µW; 0 when it has none. Bounds what a step of its
    /// counter can credit.
    pub max_power_uw: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Discovery {
    /// No powercap tree or no usable zone there.
    Unavailable(String),
    /// Zones exist but `energy_uj` cannot be read (root-only since CVE-2020-8694).
    PermissionDenied(PathBuf),
    Zones(Vec<Zone>),
}

fn read_trimmed(p: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(p).map(|s| s.trim().to_string())
}

pub fn read_energy_uj(dir: &Path) -> std::io::Result<u64> {
    let s = read_trimmed(&dir.join("energy_uj"))?;
    s.parse().map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad energy_uj `{s}`")))
}

/// A zone's `energy_uj`, kept open and re-read (sysfs regenerates it in place).
struct EnergyFile(KeptOpen);

impl EnergyFile {
    fn new(zone: &Zone) -> EnergyFile {
        EnergyFile(KeptOpen::owned(zone.dir.join("energy_uj").to_string_lossy().into_owned()))
    }

    fn read_uj(&self) -> Result<u64, String> {
        self.0.read(|s| s.trim().parse::<u64>().ok()).ok_or_else(|| format!("{}: unreadable or not a number", self.0.path()))
    }
}

/// Every zone directory (name contains ':' and has `energy_uj`) under `root`, at most two levels
/// down, keyed by directory name so the flat and nested views of one zone count once.
fn zone_dirs(root: &Path) -> Vec<PathBuf> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), 0u32)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("intel-rapl") {
                continue;
            }
            let p = e.path();
            if name.contains(':') && p.join("energy_uj").exists() {
                found.entry(name).or_insert_with(|| p.clone());
            }
            if depth < 2 && p.is_dir() {
                stack.push((p, depth + 1));
            }
        }
    }
    found.into_values().collect()
}

fn socket_of(dir_name: &str) -> String {
    dir_name.split(':').nth(1).unwrap_or("").to_string()
}

/// The highest power limit a zone exposes, µW (0: none readable): the largest of every
/// constraint's `power_limit_uw` and `max_power_uw` (a 65 W TDP in `constraint_0_max_power_uw`
/// with a 250 W PL2 in `constraint_1_power_limit_uw` is 250 W).
fn max_power_uw(dir: &Path) -> u64 {
    let read = |f: String| read_trimmed(&dir.join(f)).ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let constraints = (0..16).take_while(|i| dir.join(format!("constraint_{i}_power_limit_uw")).exists() || dir.join(format!("constraint_{i}_max_power_uw")).exists() || *i < 3);
    constraints.flat_map(|i| [read(format!("constraint_{i}_max_power_uw")), read(format!("constraint_{i}_power_limit_uw"))]).max().unwrap_or(0)
}

/// Finds and selects the zones to sum.
pub fn discover(root: &Path, include_dram: bool, prefer_psys: bool) -> Discovery {
    if !root.exists() {
        return Discovery::Unavailable(format!("{} does not exist", root.display()));
    }
    // (kind, name, socket) -> zone; MMIO entries replace MSR ones.
    let mut zones: BTreeMap<(ZoneKind, String, String), (bool, Zone)> = BTreeMap::new();
    for dir in zone_dirs(root) {
        let base = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(name) = read_trimmed(&dir.join("name")) else { continue };
        let kind = if name.starts_with("package") {
            ZoneKind::Package
        } else if name == "psys" {
            ZoneKind::Psys
        } else if name.contains("dram") {
            ZoneKind::Dram
        } else {
            continue; // core, uncore: already inside the package
        };
        let mmio = base.starts_with("intel-rapl-mmio");
        let max = read_trimmed(&dir.join("max_energy_range_uj")).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        let key = (kind, name.clone(), if kind == ZoneKind::Dram { socket_of(&base) } else { String::new() });
        let zone = Zone { max_power_uw: max_power_uw(&dir), dir, name, kind, max_energy_range_uj: max };
        match zones.get(&key) {
            Some((true, _)) if !mmio => {}
            _ => {
                zones.insert(key, (mmio, zone));
            }
        }
    }
    let all: Vec<Zone> = zones.into_values().map(|(_, z)| z).collect();
    let of = |k: ZoneKind| all.iter().filter(|z| z.kind == k).cloned().collect::<Vec<_>>();
    let (packages, psys, dram) = (of(ZoneKind::Package), of(ZoneKind::Psys), of(ZoneKind::Dram));
    let selected = if prefer_psys && !psys.is_empty() {
        psys
    } else if !packages.is_empty() {
        let mut s = packages;
        if include_dram {
            s.extend(dram);
        }
        s
    } else if !psys.is_empty() {
        psys
    } else {
        return Discovery::Unavailable(format!("no package or psys RAPL zone under {}", root.display()));
    };
    for z in &selected {
        if let Err(e) = read_energy_uj(&z.dir) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Discovery::PermissionDenied(z.dir.join("energy_uj"));
            }
            return Discovery::Unavailable(format!("{}: {e}", z.dir.join("energy_uj").display()));
        }
    }
    Discovery::Zones(selected)
}

/// `package-0-die-1` → `package-0`: zones of one package's dies.
fn package_of(name: &str) -> Option<&str> {
    name.find("-die-").map(|i| &name[..i])
}

/// RAPL counters update about once a millisecond: two mirrors of one counter, read one after
/// the other, differ by at most one update's energy (plus a few energy units of rounding).
const COUNTER_UPDATE_S: f64 = 0.001;
const ENERGY_UNITS_UJ: f64 = 4.0 * 61.0;

/// Whether two die deltas agree within a counter update, over an interval of `dt_s`.
fn agree_within_an_update(lo: u64, hi: u64, dt_s: f64) -> bool {
    let per_update = if dt_s > COUNTER_UPDATE_S { hi as f64 * COUNTER_UPDATE_S / dt_s } else { hi as f64 };
    (hi - lo) as f64 <= per_update + ENERGY_UNITS_UJ
}

/// Whether a package's die counters are mirrors of one package counter (Zen 1/2 Threadripper
/// and EPYC expose the same energy on every die: summing them over-counts, CodeCarbon #1274).
/// Decided on evidence: the intervals where the dies' deltas agree within a counter update
/// against those where they do not, once one side has two and more than the other, so that one
/// unlucky interval decides nothing. Until then the package is counted once (its largest die)
/// and the rest is held back: credited at the decision if the dies are distinct, dropped if
/// they are mirrors; the totals are exact either way.
#[derive(Debug, Clone, PartialEq)]
struct DieGroup {
    /// Indices of the package's die zones.
    zones: Vec<usize>,
    mirrored: Option<bool>,
    agree: u32,
    disagree: u32,
    held_back_uj: u64,
}

impl DieGroup {
    /// This interval's energy of the package from its dies' deltas (`None`: not read); `last`:
    /// the final measurement, which credits what is still held back (distinct dies being the
    /// reading that loses nothing: mirrored dies agree within a counter update from the first
    /// interval, so a run too short to decide is one whose dies never agreed twice).
    fn energy_uj(&mut self, deltas: &[Option<u64>], dt_s: f64, last: bool) -> u64 {
        let read: Vec<u64> = self.zones.iter().filter_map(|&i| deltas[i]).collect();
        let (sum, max) = (read.iter().sum::<u64>(), read.iter().copied().max().unwrap_or(0));
        match self.mirrored {
            Some(true) => max,
            Some(false) => sum,
            None => {
                if read.len() == self.zones.len() && max > 0 {
                    let lo = read.iter().copied().min().unwrap_or(0);
                    if agree_within_an_update(lo, max, dt_s) {
                        self.agree += 1;
                    } else {
                        self.disagree += 1;
                    }
                }
                self.held_back_uj += sum - max;
                if self.agree >= 2 && self.agree > self.disagree {
                    self.mirrored = Some(true);
                    self.held_back_uj = 0;
                } else if self.disagree >= 2 && self.disagree > self.agree {
                    self.mirrored = Some(false);
                    return max + std::mem::take(&mut self.held_back_uj);
                }
                if last && self.disagree >= self.agree {
                    return max + std::mem::take(&mut self.held_back_uj);
                }
                max
            }
        }
    }
}

/// The per-tracker reader: each zone's counter, kept open, and its last value.
pub struct RaplMeter {
    files: Vec<EnergyFile>,
    counters: Vec<CounterDiff>,
    /// Zones that are no die of a multi-die package: summed.
    plain: Vec<usize>,
    dies: Vec<DieGroup>,
    deltas: Vec<Option<u64>>,
    error_logged: bool,
}

/// The most a zone can draw when its constraints say nothing: no CPU package or DRAM zone
/// comes near 2 kW.
const DEFAULT_MAX_POWER_UW: u64 = 2_000_000_000;

impl RaplMeter {
    pub fn start(zones: &[Zone]) -> RaplMeter {
        let files: Vec<EnergyFile> = zones.iter().map(EnergyFile::new).collect();
        // Physical maximum: twice the zone's highest power constraint (limits are averages over
        // windows; bursts go above them).
        let max_per_s = |z: &Zone| 2.0 * if z.max_power_uw > 0 { z.max_power_uw } else { DEFAULT_MAX_POWER_UW } as f64;
        let mut counters: Vec<CounterDiff> = zones.iter().map(|z| CounterDiff::new(z.max_energy_range_uj).with_max_per_s(max_per_s(z))).collect();
        for (f, c) in files.iter().zip(counters.iter_mut()) {
            if let Ok(uj) = f.read_uj() {
                c.step(uj, 0.0);
            }
        }
        let mut dies: Vec<DieGroup> = Vec::new();
        let mut plain = Vec::new();
        for (i, z) in zones.iter().enumerate() {
            let group: Vec<usize> = match package_of(&z.name) {
                Some(p) => zones.iter().enumerate().filter(|(_, o)| package_of(&o.name) == Some(p)).map(|(j, _)| j).collect(),
                None => vec![i],
            };
            if group.len() < 2 {
                plain.push(i);
            } else if group[0] == i {
                dies.push(DieGroup { zones: group, mirrored: None, agree: 0, disagree: 0, held_back_uj: 0 });
            }
        }
        RaplMeter { files, counters, plain, dies, deltas: vec![None; zones.len()], error_logged: false }
    }

    /// µJ over the last `dt_s` seconds (since the previous call), summed over zones (mirrored
    /// dies once); the error names a zone that could not be read (its energy for this interval
    /// is counted at the next good read) or whose counter glitched (not credited).
    pub fn read_delta_uj(&mut self, dt_s: f64, last: bool) -> (u64, Option<String>) {
        let mut err = None;
        for ((f, c), delta) in self.files.iter().zip(self.counters.iter_mut()).zip(self.deltas.iter_mut()) {
            *delta = None;
            match f.read_uj() {
                Ok(now) => match c.step(now, dt_s) {
                    Step::First => {}
                    Step::Rejected(g) => {
                        if c.worth_a_warning() {
                            err = Some(format!("{}: the counter {g}; not credited", f.0.path()));
                        }
                    }
                    step => *delta = Some(step.counted()),
                },
                Err(e) => {
                    c.missed(dt_s);
                    err = Some(e);
                }
            }
        }
        let mut sum: u64 = self.plain.iter().filter_map(|&i| self.deltas[i]).sum();
        for g in &mut self.dies {
            sum += g.energy_uj(&self.deltas, dt_s, last);
        }
        (sum, err)
    }
}

impl EnergySource for RaplMeter {
    fn energy_kwh(&mut self, iv: &Interval, log: &Logger) -> f64 {
        let (uj, err) = self.read_delta_uj(iv.dt_s, iv.last);
        if let Some(e) = err {
            if e.contains("not credited") {
                log.warning(format!("RAPL: {e}"));
            } else if !self.error_logged {
                log.warning(format!("RAPL read failed, that zone's energy is counted at its next good read: {e}"));
                self.error_logged = true;
            }
        }
        uj as f64 / 3.6e12
    }
}

#[cfg(test)]
pub mod fake {
    //! A fake powercap tree for tests.
    use std::path::Path;

    pub fn zone(root: &Path, dir: &str, name: &str, energy_uj: u64, max_uj: u64) {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
        std::fs::write(d.join("energy_uj"), format!("{energy_uj}\n")).unwrap();
        std::fs::write(d.join("max_energy_range_uj"), format!("{max_uj}\n")).unwrap();
    }

    pub fn set(root: &Path, dir: &str, energy_uj: u64) {
        std::fs::write(root.join(dir).join("energy_uj"), format!("{energy_uj}\n")).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::fake::*;
    use super::*;

    fn names(d: &Discovery) -> Vec<String> {
        match d {
            Discovery::Zones(z) => z.iter().map(|z| z.name.clone()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_root_is_unavailable() {
        let d = discover(Path::new("/nonexistent/powercap"), false, false);
        assert!(matches!(d, Discovery::Unavailable(_)));
    }

    #[test]
    fn packages_selected_core_ignored_dram_optional() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl:0", "package-0", 1000, 262143328850);
        zone(r, "intel-rapl:0:0", "core", 500, 262143328850);
        zone(r, "intel-rapl:0:1", "dram", 300, 262143328850);
        zone(r, "intel-rapl:1", "package-1", 1000, 262143328850);
        zone(r, "intel-rapl:1:0", "dram", 300, 262143328850);
        zone(r, "intel-rapl:2", "psys", 9000, 262143328850);
        assert_eq!(names(&discover(r, false, false)), vec!["package-0", "package-1"]);
        assert_eq!(names(&discover(r, true, false)), vec!["package-0", "package-1", "dram", "dram"]);
        assert_eq!(names(&discover(r, true, true)), vec!["psys"]);
    }

    #[test]
    fn psys_only_and_mmio_dedup_and_nested_layout() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl:0", "psys", 1, 100);
        assert_eq!(names(&discover(r, false, false)), vec!["psys"]);

        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl/intel-rapl:0", "package-0", 1, 100);
        zone(r, "intel-rapl/intel-rapl:0/intel-rapl:0:0", "core", 1, 100);
        zone(r, "intel-rapl-mmio/intel-rapl-mmio:0", "package-0", 1, 100);
        match discover(r, false, false) {
            Discovery::Zones(z) => {
                assert_eq!(z.len(), 1);
                assert!(z[0].dir.ends_with("intel-rapl-mmio:0"), "{:?}", z[0].dir);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn meter_sums_zones_with_wrap() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl:0", "package-0", 900, 1000);
        zone(r, "intel-rapl:1", "package-1", 10, 1000);
        let Discovery::Zones(z) = discover(r, false, false) else { panic!() };
        let mut m = RaplMeter::start(&z);
        set(r, "intel-rapl:0", 100); // wrapped: +200
        set(r, "intel-rapl:1", 60); // +50
        assert_eq!(m.read_delta_uj(1.0, false), (250, None));
        set(r, "intel-rapl:0", 150);
        assert_eq!(m.read_delta_uj(1.0, false), (50, None));
        std::fs::write(r.join("intel-rapl:1/energy_uj"), "garbage\n").unwrap(); // rewritten in place, unreadable
        let (d, err) = m.read_delta_uj(1.0, false);
        assert_eq!(d, 0);
        assert!(err.unwrap().contains("intel-rapl:1"));
    }

    /// Two die zones of one package, started at 1000 µJ.
    fn two_dies() -> (tempfile::TempDir, RaplMeter) {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl:0", "package-0-die-0", 1000, 1 << 40);
        zone(r, "intel-rapl:1", "package-0-die-1", 1000, 1 << 40);
        let Discovery::Zones(z) = discover(r, false, false) else { panic!() };
        assert_eq!(z.len(), 2);
        let m = RaplMeter::start(&z);
        (t, m)
    }

    /// Moves both dies' counters by these deltas and reads one interval of 1 s.
    fn interval(t: &tempfile::TempDir, m: &mut RaplMeter, d0: u64, d1: u64) -> u64 {
        let r = t.path();
        set(r, "intel-rapl:0", read_energy_uj(&r.join("intel-rapl:0")).unwrap() + d0);
        set(r, "intel-rapl:1", read_energy_uj(&r.join("intel-rapl:1")).unwrap() + d1);
        m.read_delta_uj(1.0, false).0
    }

    #[test]
    fn mirrored_die_counters_count_once_distinct_ones_add_up() {
        let (t, mut m) = two_dies();
        assert_eq!(interval(&t, &mut m, 5000, 5000), 5000); // the same energy on both dies: a mirror
        assert_eq!(interval(&t, &mut m, 3000, 3000), 3000);
        assert_eq!(m.dies[0].mirrored, Some(true));
        // Reads straddling a counter update (here 0.05 % apart, ~1 ms of 1 s) still agree.
        assert_eq!(interval(&t, &mut m, 100_000_000, 100_050_000), 100_050_000);

        // Really separate dies: counted once until the evidence is in, then what was held back.
        let (t, mut m) = two_dies();
        assert_eq!(interval(&t, &mut m, 3000, 1000), 3000);
        assert_eq!(m.dies[0].mirrored, None);
        assert_eq!(interval(&t, &mut m, 4000, 2000), 6000 + 1000);
        assert_eq!(m.dies[0].mirrored, Some(false));
        assert_eq!(interval(&t, &mut m, 10, 20), 30);
    }

    #[test]
    fn one_noisy_interval_does_not_double_mirrored_dies() {
        // Mirrors whose first interval disagrees (a read delayed between the two zones): the
        // evidence of the next intervals decides; the package is never counted twice.
        let (t, mut m) = two_dies();
        let mut total = interval(&t, &mut m, 50_000_000, 56_000_000);
        total += interval(&t, &mut m, 30_000_000, 30_000_000);
        total += interval(&t, &mut m, 20_000_000, 20_000_000);
        assert_eq!(m.dies[0].mirrored, Some(true));
        assert_eq!(total, 56_000_000 + 30_000_000 + 20_000_000);
        // Once decided, a noisy interval is just the package's (largest) reading.
        assert_eq!(interval(&t, &mut m, 10_000_000, 13_000_000), 13_000_000);
        // The old rule (1 ppm on the first interval) would have summed every interval from here.
        let (t, mut m) = two_dies();
        let mut total = interval(&t, &mut m, 50_000_000, 50_000_100);
        for _ in 0..5 {
            total += interval(&t, &mut m, 10_000_000, 10_000_000);
        }
        assert_eq!(total, 50_000_100 + 5 * 10_000_000);
    }

    #[test]
    fn the_glitch_limit_is_the_largest_of_every_constraint_and_a_confirmed_rate_is_credited() {
        // A 65 W TDP (constraint 0's max_power) with a 250 W PL2 (constraint 1's limit), drawing
        // 250 W: credited 250 W, not 0 W.
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl:0", "package-0", 0, 1 << 40);
        for (f, v) in [("constraint_0_max_power_uw", 65), ("constraint_0_power_limit_uw", 65), ("constraint_1_power_limit_uw", 250)] {
            std::fs::write(r.join("intel-rapl:0").join(f), format!("{}\n", v * 1_000_000)).unwrap();
        }
        let Discovery::Zones(z) = discover(r, false, false) else { panic!() };
        assert_eq!(z[0].max_power_uw, 250_000_000);
        // The same board with only the TDP exposed: 250 W steps are confirmed and credited.
        std::fs::remove_file(r.join("intel-rapl:0/constraint_1_power_limit_uw")).unwrap();
        let Discovery::Zones(z) = discover(r, false, false) else { panic!() };
        assert_eq!(z[0].max_power_uw, 65_000_000);
        let mut m = RaplMeter::start(&z);
        let mut credited = 0;
        for k in 1..=4u64 {
            set(r, "intel-rapl:0", k * 15 * 250_000_000); // 250 W, 15 s ticks
            credited += m.read_delta_uj(15.0, false).0;
        }
        assert_eq!(credited, 4 * 15 * 250_000_000);
    }

    #[test]
    fn held_back_die_energy_is_credited_at_stop() {
        // Two distinct dies, a run of one interval (the decision needs two): nothing lost.
        let (t, mut m) = two_dies();
        let r = t.path();
        set(r, "intel-rapl:0", 1000 + 3000);
        set(r, "intel-rapl:1", 1000 + 1500);
        assert_eq!(m.read_delta_uj(1.0, true).0, 4500);
        // Mirrors that agreed once are not doubled at stop.
        let (t, mut m) = two_dies();
        let r = t.path();
        set(r, "intel-rapl:0", 1000 + 3000);
        set(r, "intel-rapl:1", 1000 + 3000);
        assert_eq!(m.read_delta_uj(1.0, false).0, 3000);
        set(r, "intel-rapl:0", 1000 + 6000);
        set(r, "intel-rapl:1", 1000 + 6000);
        assert_eq!(m.read_delta_uj(1.0, true).0, 3000);
    }

    #[test]
    fn a_glitched_zone_counter_is_not_credited() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl:0", "package-0", 1_000_000, 1 << 40);
        std::fs::write(r.join("intel-rapl:0/constraint_0_max_power_uw"), "100000000\n").unwrap(); // 100 W
        let Discovery::Zones(z) = discover(r, false, false) else { panic!() };
        assert_eq!(z[0].max_power_uw, 100_000_000);
        let mut m = RaplMeter::start(&z);
        set(r, "intel-rapl:0", 51_000_000); // 50 J in 1 s: fine
        assert_eq!(m.read_delta_uj(1.0, false), (50_000_000, None));
        set(r, "intel-rapl:0", 51_000_000 + (1 << 35)); // 34 kJ in 1 s from a 100 W package: a glitch
        let (d, err) = m.read_delta_uj(1.0, false);
        assert_eq!(d, 0);
        assert!(err.unwrap().contains("physical maximum"));
        set(r, "intel-rapl:0", 131_000_000); // back on track: both seconds credited
        assert_eq!(m.read_delta_uj(1.0, false), (80_000_000, None));
    }

    #[test]
    fn unreadable_counter_is_permission_denied() {
        if unsafe { libc::geteuid() } == 0 {
            // root reads mode-000 files; emulate with a directory in place of the file instead.
            let t = tempfile::tempdir().unwrap();
            let r = t.path();
            zone(r, "intel-rapl:0", "package-0", 1, 100);
            std::fs::remove_file(r.join("intel-rapl:0/energy_uj")).unwrap();
            std::fs::create_dir(r.join("intel-rapl:0/energy_uj")).unwrap();
            assert!(matches!(discover(r, false, false), Discovery::Unavailable(_)));
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl:0", "package-0", 1, 100);
        std::fs::set_permissions(r.join("intel-rapl:0/energy_uj"), std::fs::Permissions::from_mode(0o000)).unwrap();
        assert!(matches!(discover(r, false, false), Discovery::PermissionDenied(_)));
    }
}

//! Intel/AMD RAPL through the Linux powercap sysfs tree (spec 3.3).
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
        let zone = Zone { dir, name, kind, max_energy_range_uj: max };
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

/// Whether a package's die counters are mirrors of one package counter (Zen 1/2 Threadripper
/// and EPYC expose the same energy on every die: summing them over-counts, CodeCarbon #1274).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dies {
    Undecided,
    Mirrored,
    Distinct,
}

/// The per-tracker reader: each zone's counter, kept open, and its last value.
pub struct RaplMeter {
    zones: Vec<Zone>,
    files: Vec<EnergyFile>,
    counters: Vec<CounterDiff>,
    /// Per package with several die zones.
    dies: Vec<(String, Dies)>,
    error_logged: bool,
}

impl RaplMeter {
    pub fn start(zones: &[Zone]) -> RaplMeter {
        let files: Vec<EnergyFile> = zones.iter().map(EnergyFile::new).collect();
        let mut counters: Vec<CounterDiff> = zones.iter().map(|z| CounterDiff::new(z.max_energy_range_uj)).collect();
        for (f, c) in files.iter().zip(counters.iter_mut()) {
            if let Ok(uj) = f.read_uj() {
                c.step(uj);
            }
        }
        let mut dies: Vec<(String, Dies)> = Vec::new();
        for z in zones {
            if let Some(p) = package_of(&z.name) {
                if zones.iter().filter(|o| package_of(&o.name) == Some(p)).count() > 1 && !dies.iter().any(|(q, _)| q == p) {
                    dies.push((p.to_string(), Dies::Undecided));
                }
            }
        }
        RaplMeter { zones: zones.to_vec(), files, counters, dies, error_logged: false }
    }

    /// µJ since the previous call, summed over zones (mirrored dies once); the error names a
    /// zone that could not be read (its energy for this interval is counted at the next good read).
    pub fn read_delta_uj(&mut self) -> (u64, Option<String>) {
        let mut deltas: Vec<Option<u64>> = Vec::with_capacity(self.zones.len());
        let mut err = None;
        for (f, c) in self.files.iter().zip(self.counters.iter_mut()) {
            match f.read_uj() {
                Ok(now) => deltas.push(match c.step(now) {
                    Step::First => None,
                    step => Some(step.counted()),
                }),
                Err(e) => {
                    deltas.push(None);
                    err = Some(e);
                }
            }
        }
        let mut sum = 0;
        for (i, z) in self.zones.iter().enumerate() {
            let Some(d) = deltas[i] else { continue };
            let Some(pkg) = package_of(&z.name) else {
                sum += d;
                continue;
            };
            let Some(state) = self.dies.iter_mut().find(|(p, _)| p == pkg) else {
                sum += d;
                continue;
            };
            let group: Vec<u64> = self
                .zones
                .iter()
                .enumerate()
                .filter(|(_, o)| package_of(&o.name) == Some(pkg))
                .filter_map(|(j, _)| deltas[j])
                .collect();
            if state.1 == Dies::Undecided && group.len() > 1 && group.iter().any(|&x| x > 0) {
                let (lo, hi) = (*group.iter().min().unwrap() as f64, *group.iter().max().unwrap() as f64);
                state.1 = if hi - lo <= 1e-6 * hi { Dies::Mirrored } else { Dies::Distinct };
            }
            match state.1 {
                // Count the package once: at its first die zone, the largest reading.
                Dies::Mirrored => {
                    let first = self.zones.iter().position(|o| package_of(&o.name) == Some(pkg)) == Some(i);
                    if first {
                        sum += group.iter().copied().max().unwrap_or(0);
                    }
                }
                Dies::Distinct | Dies::Undecided => sum += d,
            }
        }
        (sum, err)
    }
}

impl EnergySource for RaplMeter {
    fn energy_kwh(&mut self, _: &Interval, log: &Logger) -> f64 {
        let (uj, err) = self.read_delta_uj();
        if let Some(e) = err {
            if !self.error_logged {
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
        assert_eq!(m.read_delta_uj(), (250, None));
        set(r, "intel-rapl:0", 150);
        assert_eq!(m.read_delta_uj(), (50, None));
        std::fs::write(r.join("intel-rapl:1/energy_uj"), "garbage\n").unwrap(); // rewritten in place, unreadable
        let (d, err) = m.read_delta_uj();
        assert_eq!(d, 0);
        assert!(err.unwrap().contains("intel-rapl:1"));
    }

    #[test]
    fn mirrored_die_counters_count_once_distinct_ones_add_up() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl:0", "package-0-die-0", 1000, 1 << 40);
        zone(r, "intel-rapl:1", "package-0-die-1", 1000, 1 << 40);
        let Discovery::Zones(z) = discover(r, false, false) else { panic!() };
        assert_eq!(z.len(), 2);
        let mut m = RaplMeter::start(&z);
        set(r, "intel-rapl:0", 6000);
        set(r, "intel-rapl:1", 6000); // the same energy on both dies: a mirror
        assert_eq!(m.read_delta_uj(), (5000, None));
        set(r, "intel-rapl:0", 9000);
        set(r, "intel-rapl:1", 9000);
        assert_eq!(m.read_delta_uj(), (3000, None));

        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        zone(r, "intel-rapl:0", "package-0-die-0", 1000, 1 << 40);
        zone(r, "intel-rapl:1", "package-0-die-1", 1000, 1 << 40);
        let Discovery::Zones(z) = discover(r, false, false) else { panic!() };
        let mut m = RaplMeter::start(&z);
        set(r, "intel-rapl:0", 4000);
        set(r, "intel-rapl:1", 2000); // really separate dies
        assert_eq!(m.read_delta_uj(), (4000, None));
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

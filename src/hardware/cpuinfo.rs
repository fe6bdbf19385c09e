//! CPU model, thread count and socket count, read once per process (no child process, unlike
//! py-cpuinfo which costs CodeCarbon about a second of start-up).
//!
//! The model and the thread count come from `sysinfo` (portable; on Linux it reads
//! `/proc/cpuinfo` and `/proc/stat`). sysinfo has no socket count, so sockets are the CPU packages
//! of the kernel's topology in sysfs (Linux only; 1 elsewhere or when unreadable): what `lscpu`
//! counts as "Socket(s)", CodeCarbon's source, and on x86 the same number as the distinct
//! `physical id` values of `/proc/cpuinfo`.

use std::collections::BTreeSet;
use std::path::Path;

use sysinfo::{CpuRefreshKind, System};

#[derive(Debug, Clone, PartialEq)]
pub struct CpuInfo {
    /// The model (brand) string of the first CPU that has one; `None` when the system does not
    /// say (some ARM boards).
    pub model: Option<String>,
    /// Logical CPUs (threads) online, machine-wide.
    pub threads: usize,
    /// CPU packages; 1 when unknown.
    pub sockets: usize,
}

/// [`read_from`] the process's [`super::system`].
#[cfg(any(test, feature = "test-hooks"))]
pub fn read() -> CpuInfo {
    read_from(&mut super::system())
}

/// Reads the CPU facts, refreshing only `sys`'s CPU list (no usage, no frequency); falls back to
/// `sysconf` for the thread count.
pub fn read_from(sys: &mut System) -> CpuInfo {
    sys.refresh_cpu_list(CpuRefreshKind::nothing());
    // sysinfo pairs the n-th CPU of /proc/stat with processor n of /proc/cpuinfo: with CPU 0
    // offline the first has no brand, so take the first that has one.
    let model = sys.cpus().iter().map(|c| c.brand().trim()).find(|b| !b.is_empty()).map(str::to_string);
    let mut threads = sys.cpus().len();
    if threads == 0 {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        threads = if n > 0 { n as usize } else { 1 };
    }
    CpuInfo { model, threads, sockets: sockets_in(Path::new(SYSFS_CPU)).unwrap_or(1) }
}

const SYSFS_CPU: &str = "/sys/devices/system/cpu";

/// The number of CPU packages among the online CPUs under `cpu_dir` (`/sys/devices/system/cpu`):
/// one `package_cpus_list` read per package (`core_siblings_list` on kernels before 5.4), not one
/// file per CPU. `None` when the tree is missing or malformed.
pub fn sockets_in(cpu_dir: &Path) -> Option<usize> {
    let read = |p: &Path| super::kept_open::read_small_file(p.to_str()?);
    let online = parse_cpu_list(&read(&cpu_dir.join("online"))?)?;
    let mut counted = BTreeSet::new();
    let mut packages = 0;
    for cpu in online {
        if counted.contains(&cpu) {
            continue;
        }
        let topology = cpu_dir.join(format!("cpu{cpu}/topology"));
        let siblings = read(&topology.join("package_cpus_list")).or_else(|| read(&topology.join("core_siblings_list")))?;
        counted.extend(parse_cpu_list(&siblings)?);
        counted.insert(cpu);
        packages += 1;
    }
    (packages > 0).then_some(packages)
}

/// The kernel's CPU list format: `0-3,8-11`, `0,2`, empty for none.
pub fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo.parse::<u32>().ok()?, hi.parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        // A real list names at most a few thousand CPUs: refuse what would only fill memory.
        if lo > hi || hi - lo > 1 << 16 {
            return None;
        }
        cpus.extend(lo..=hi);
    }
    Some(cpus)
}

/// The hand parser of `/proc/cpuinfo` this module used before sysinfo, kept for the tests and
/// the benchmark that compare the two on the machine they run on.
#[cfg(any(test, feature = "test-hooks"))]
pub mod proc_reference {
    use super::CpuInfo;
    use std::collections::BTreeSet;

    /// `model name` of the first processor, `processor` lines, distinct `physical id` values.
    pub fn parse(text: &str) -> CpuInfo {
        let mut model = None;
        let mut threads = 0;
        let mut sockets = BTreeSet::new();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            let (k, v) = (k.trim(), v.trim());
            match k {
                "processor" => threads += 1,
                "model name" | "Model Name" if model.is_none() && !v.is_empty() => model = Some(v.to_string()),
                "physical id" => {
                    sockets.insert(v.to_string());
                }
                _ => {}
            }
        }
        CpuInfo { model, threads, sockets: sockets.len().max(1) }
    }

    pub fn read() -> CpuInfo {
        parse(&crate::hardware::kept_open::read_small_file("/proc/cpuinfo").unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The facts through sysinfo and sysfs equal what the old hand parser reads from
    /// `/proc/cpuinfo` on this machine: same model string (so the same TDP match), same counts.
    #[test]
    fn facts_match_proc_cpuinfo_on_this_machine() {
        let ours = read();
        let reference = proc_reference::read();
        assert_eq!(ours, reference);
        assert!(ours.threads >= 1);
        assert_eq!(
            ours.model.as_deref().and_then(crate::hardware::tdp::find),
            reference.model.as_deref().and_then(crate::hardware::tdp::find)
        );
    }

    #[test]
    fn thread_count_matches_sysconf() {
        // SAFETY: sysconf has no preconditions.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        assert_eq!(read().threads as i64, online as i64);
    }

    #[test]
    fn reference_parser_two_threads_one_socket() {
        let t = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nphysical id\t: 0\n\n\
                 processor\t: 1\nmodel name\t: AMD EPYC\nphysical id\t: 0\n";
        assert_eq!(proc_reference::parse(t), CpuInfo { model: Some("AMD EPYC".into()), threads: 2, sockets: 1 });
        let t = "processor: 0\nphysical id: 0\nprocessor: 1\nphysical id: 1\n";
        assert_eq!(proc_reference::parse(t), CpuInfo { model: None, threads: 2, sockets: 2 });
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8-9\n"), Some(vec![0, 1, 2, 3, 8, 9]));
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list("\n"), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("0-4294967295"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    fn cpu(root: &Path, n: u32, file: &str, list: &str) {
        let dir = root.join(format!("cpu{n}/topology"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), format!("{list}\n")).unwrap();
    }

    #[test]
    fn sockets_from_fake_topologies() {
        // Two packages of four threads; CPU 5 offline.
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("online"), "0-4,6-7\n").unwrap();
        for n in 0..8 {
            cpu(t.path(), n, "package_cpus_list", if n < 4 { "0-3" } else { "4-7" });
        }
        assert_eq!(sockets_in(t.path()), Some(2));
        // Only CPUs 0 and 4 are read: the others are known from their package's list.
        std::fs::remove_dir_all(t.path().join("cpu1")).unwrap();
        std::fs::remove_dir_all(t.path().join("cpu6")).unwrap();
        assert_eq!(sockets_in(t.path()), Some(2));

        // An older kernel: core_siblings_list only.
        let old = tempfile::tempdir().unwrap();
        std::fs::write(old.path().join("online"), "0-1").unwrap();
        cpu(old.path(), 0, "core_siblings_list", "0-1");
        assert_eq!(sockets_in(old.path()), Some(1));

        // Missing or malformed: unknown (the caller counts one socket).
        assert_eq!(sockets_in(&t.path().join("nowhere")), None);
        let bad = tempfile::tempdir().unwrap();
        std::fs::write(bad.path().join("online"), "0-1").unwrap();
        cpu(bad.path(), 0, "package_cpus_list", "zero");
        assert_eq!(sockets_in(bad.path()), None);
        std::fs::write(bad.path().join("online"), "").unwrap();
        assert_eq!(sockets_in(bad.path()), None);
    }

    #[test]
    fn sockets_of_this_machine_match_physical_ids() {
        let counted = sockets_in(Path::new(SYSFS_CPU)).expect("this machine has a sysfs CPU topology");
        assert_eq!(counted, proc_reference::read().sockets);
    }
}

//! CPU model, thread count and socket count from `/proc/cpuinfo` (no child process, unlike
//! py-cpuinfo which costs CodeCarbon about a second of start-up).

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq)]
pub struct CpuInfo {
    /// `model name` of the first processor; `None` when the kernel does not say (some ARM boards).
    pub model: Option<String>,
    /// Logical CPUs (threads), machine-wide.
    pub threads: usize,
    /// Distinct `physical id` values; 1 when absent.
    pub sockets: usize,
}

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

/// Reads `/proc/cpuinfo`; falls back to `sysconf` for the thread count.
pub fn read() -> CpuInfo {
    let mut info = parse(&super::kept_open::read_small_file("/proc/cpuinfo").unwrap_or_default());
    if info.threads == 0 {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        info.threads = if n > 0 { n as usize } else { 1 };
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_threads_one_socket() {
        let t = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nphysical id\t: 0\n\n\
                 processor\t: 1\nmodel name\t: AMD EPYC\nphysical id\t: 0\n";
        assert_eq!(parse(t), CpuInfo { model: Some("AMD EPYC".into()), threads: 2, sockets: 1 });
    }

    #[test]
    fn two_sockets_and_missing_fields() {
        let t = "processor: 0\nphysical id: 0\nprocessor: 1\nphysical id: 1\n";
        assert_eq!(parse(t), CpuInfo { model: None, threads: 2, sockets: 2 });
        assert_eq!(parse(""), CpuInfo { model: None, threads: 0, sockets: 1 });
    }

    #[test]
    fn this_machine_has_at_least_one_thread() {
        assert!(read().threads >= 1);
    }
}

//! `tracking_mode=process`: the CPU time and resident memory of this process and its live
//! descendants, from `/proc` (no child process, no psutil).
//!
//! Children are found through `/proc/<pid>/task/<tid>/children` (a full `/proc` scan when the
//! kernel lacks it). Each process counts `utime + stime + cutime + cstime`: when a child exits
//! and is reaped, its time moves into its parent's `cutime`/`cstime`, so the total neither drops
//! nor doubles.
//!
//! Linux only, and hand-written on purpose: sysinfo's process times leave out `cutime`/`cstime`
//! (a reaped child's time would vanish from the tree) and finding the tree through it means a
//! refresh of every process (`cargo bench --bench machine_facts` shows both).

use std::collections::HashMap;

/// One `/proc/<pid>/stat` line: parent, CPU ticks (own + reaped children), resident pages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub ppid: u32,
    pub ticks: u64,
    /// The part of `ticks` that reaped children used (`cutime + cstime`).
    pub reaped_ticks: u64,
    pub rss_pages: u64,
}

/// Parses a stat line; the command name may contain spaces and parentheses, so fields are
/// counted after the last `)`.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17) … rss(24); f[0] is field 3.
    let n = |i: usize| f.get(i - 3)?.parse::<i64>().ok();
    let t = |i: usize| n(i).unwrap_or(0).max(0) as u64;
    let reaped_ticks = t(16) + t(17);
    Some(Stat { ppid: n(4)? as u32, ticks: t(14) + t(15) + reaped_ticks, reaped_ticks, rss_pages: n(24).unwrap_or(0).max(0) as u64 })
}

fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&super::kept_open::read_small_file(&format!("/proc/{pid}/stat"))?)
}

/// Children of `pid` from the `children` files of its threads, or `None` if the kernel has none.
fn children_of(pid: u32) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    let mut any = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            any = true;
            out.extend(text.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
    }
    any.then_some(out)
}

/// Every process's parent, from a scan of `/proc` (the fallback).
fn parent_map() -> HashMap<u32, Vec<u32>> {
    let mut kids: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                if let Some(s) = read_stat(pid) {
                    kids.entry(s.ppid).or_default().push(pid);
                }
            }
        }
    }
    kids
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// CPU seconds used so far by the process tree.
    pub cpu_s: f64,
    /// The same in clock ticks (the counter behind `cpu_s`).
    pub ticks: u64,
    /// Resident memory of the tree now, bytes.
    pub rss_bytes: u64,
}

/// Which processes a process-mode tracker counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tree {
    /// This process and its descendants (the library's process mode).
    #[default]
    WithThisProcess,
    /// Only the descendants, live and reaped: for a command runner (`carbon-tracker monitor`)
    /// whose own work (its ticks, its location lookup) is not the command's.
    DescendantsOnly,
}

impl Tree {
    pub fn usage(self) -> Usage {
        match self {
            Tree::WithThisProcess => usage(),
            Tree::DescendantsOnly => descendants_usage_of(std::process::id()),
        }
    }

    /// Whether live process `pid` is in the tree: its parents are followed up to this process
    /// (a few `/proc/<pid>/stat` reads, cheaper than walking the whole tree).
    pub fn contains(self, pid: u32) -> bool {
        let me = std::process::id();
        if pid == me {
            return self == Tree::WithThisProcess;
        }
        let mut p = pid;
        for _ in 0..256 {
            match read_stat(p) {
                Some(s) if s.ppid == me => return true,
                Some(s) if s.ppid > 1 && s.ppid != p => p = s.ppid,
                _ => return false,
            }
        }
        false
    }
}

/// The usage of `root`'s descendants: the live ones, and the reaped ones through `root`'s
/// `cutime`/`cstime`; not `root`'s own time or memory.
pub fn descendants_usage_of(root: u32) -> Usage {
    let reaped = read_stat(root).map_or(0, |s| s.reaped_ticks);
    // One walk of the tree (one scan of /proc at most where the kernel has no `children`).
    let mut total = sum_stats(descendants_of(root));
    total.ticks += reaped;
    total.cpu_s = total.ticks as f64 / ticks_per_s();
    total
}

/// The usage of `root` and its live descendants.
pub fn usage_of(root: u32) -> Usage {
    sum_stats(tree_of(root))
}

/// The summed CPU time and resident memory of `pids` (those still there).
fn sum_stats(pids: Vec<u32>) -> Usage {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = if page > 0 { page as u64 } else { 4096 };
    let (mut ticks, mut pages) = (0u64, 0u64);
    for s in pids.into_iter().filter_map(read_stat) {
        ticks += s.ticks;
        pages += s.rss_pages;
    }
    Usage { cpu_s: ticks as f64 / ticks_per_s(), ticks, rss_bytes: pages * page }
}

/// The live descendants of `root` (children, their children, ...), `root` excluded.
pub fn descendants_of(root: u32) -> Vec<u32> {
    let mut tree = tree_of(root);
    tree.retain(|p| *p != root);
    tree
}

/// `root` and its live descendants.
fn tree_of(root: u32) -> Vec<u32> {
    let mut fallback: Option<HashMap<u32, Vec<u32>>> = None;
    let mut stack = vec![root];
    let mut seen = Vec::new();
    while let Some(pid) = stack.pop() {
        if seen.contains(&pid) {
            continue;
        }
        seen.push(pid);
        match children_of(pid) {
            Some(kids) => stack.extend(kids),
            None => stack.extend(fallback.get_or_insert_with(parent_map).get(&pid).cloned().unwrap_or_default()),
        }
    }
    seen
}

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times.
pub fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if tck > 0 {
        tck as f64
    } else {
        100.0
    }
}

pub fn usage() -> Usage {
    usage_of(std::process::id())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn a_tree_contains_its_descendants_only() {
        // A grandchild: sh starts sleep and waits for it.
        let mut child = std::process::Command::new("sh").args(["-c", "sleep 5; true"]).spawn().unwrap();
        let me = std::process::id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let grandchild = loop {
            if let Some(g) = descendants_of(me).into_iter().find(|p| *p != child.id()) {
                break Some(g);
            }
            if std::time::Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let checks = (
            Tree::WithThisProcess.contains(me),
            Tree::DescendantsOnly.contains(me),
            Tree::DescendantsOnly.contains(child.id()),
            grandchild.map(|g| Tree::WithThisProcess.contains(g)),
            Tree::WithThisProcess.contains(1),
            Tree::WithThisProcess.contains(u32::MAX - 7),
        );
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(checks, (true, false, true, Some(true), false, false));
    }

    /// Busy on this thread until it has used `seconds` of CPU time (CLOCK_THREAD_CPUTIME_ID),
    /// however long that takes: a loaded machine gives a loop of a fixed wall time less.
    pub(in crate::hardware) fn busy_for_cpu_s(seconds: f64) {
        let thread_cpu_s = || {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: clock_gettime writes the timespec it is given.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
        };
        let start = thread_cpu_s();
        let mut x = 0u64;
        while thread_cpu_s() - start < seconds {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
    }

    #[test]
    fn stat_lines_with_odd_command_names() {
        let line = "4242 (my (odd) prog) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 50 30 20 20 0 3 0 1000 123456789 2560 18446744073709551615";
        assert_eq!(parse_stat(line), Some(Stat { ppid: 17, ticks: 350, reaped_ticks: 50, rss_pages: 2560 }));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_cpu_time_and_memory_are_seen() {
        let before = usage();
        busy_for_cpu_s(0.3);
        let after = usage();
        // Tick-granular (10 ms) accounting, so a little under 0.3 s.
        assert!(after.cpu_s - before.cpu_s >= 0.25, "{before:?} -> {after:?}");
        assert!(after.rss_bytes > 1 << 20);
    }

    #[test]
    fn descendants_are_the_whole_tree() {
        let mut child = std::process::Command::new("sh").args(["-c", "sleep 5 & sleep 5 & wait"]).spawn().unwrap();
        let mut found = Vec::new();
        for _ in 0..200 {
            found = descendants_of(child.id());
            if found.len() >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(found.len(), 2, "its two sleeps: {found:?}");
        assert!(!found.contains(&child.id()));
        assert!(descendants_of(std::process::id()).contains(&child.id()));
        for pid in found {
            // SAFETY: kill(2) of the two sleeps this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn children_count_while_alive_and_after_exit() {
        // Against the CPU time the busy child really got (its own stat while it runs, the
        // kernel's rusage of it once reaped), not wall time: a loaded machine gives it less.
        /// Killed and reaped when dropped, unless reaped already: a failing assert leaves no busy
        /// process behind.
        struct Busy(Option<std::process::Child>);
        impl Drop for Busy {
            fn drop(&mut self) {
                if let Some(c) = &mut self.0 {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
        let before = usage();
        let mut busy = Busy(Some(std::process::Command::new("sh").arg("-c").arg("while :; do :; done").spawn().unwrap()));
        let pid = busy.0.as_ref().unwrap().id();
        let waited = std::time::Instant::now();
        let mut child_ticks = 0;
        while child_ticks < (0.2 * ticks_per_s()) as u64 {
            assert!(waited.elapsed() < std::time::Duration::from_secs(60), "the busy child got {child_ticks} ticks in 60 s");
            std::thread::sleep(std::time::Duration::from_millis(20));
            child_ticks = read_stat(pid).expect("the child runs").ticks;
        }
        let live = usage();
        // Our own ticks only grow, and other tests' children leave their time in our cutime.
        assert!(live.ticks.saturating_sub(before.ticks) >= child_ticks, "live child ({child_ticks} ticks): {before:?} -> {live:?}");
        busy.0.take().unwrap().kill().unwrap();
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 reaps our own child and fills it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::wait4(pid as i32, &mut status, 0, &mut ru) }, pid as i32); // its time moves into our cutime
        let after = usage();
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        let child_s = seconds(ru.ru_utime) + seconds(ru.ru_stime);
        // cutime and cstime are each whole ticks (truncated): up to two ticks short.
        assert!(after.cpu_s - before.cpu_s >= child_s - 2.0 / ticks_per_s() - 1e-9, "reaped child of {child_s} s: {before:?} -> {after:?}");
        assert!(after.ticks + 2 >= live.ticks, "time lost at exit: {live:?} -> {after:?}");
    }

    #[test]
    fn descendants_only_leave_out_this_process() {
        // Our own busy time (0.05 CPU-seconds: at least 4 ticks of our own) is not counted; a
        // busy child is, live and after it is reaped.
        let before = descendants_usage_of(std::process::id());
        busy_for_cpu_s(0.05);
        let mut child = std::process::Command::new("sh").arg("-c").arg("i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done").spawn().unwrap();
        child.wait().unwrap();
        let after = descendants_usage_of(std::process::id());
        let own = usage();
        assert!(after.cpu_s - before.cpu_s > 0.0, "the reaped child counts: {before:?} -> {after:?}");
        assert!(after.cpu_s < own.cpu_s, "without our own time: {after:?} vs {own:?}");
    }
}

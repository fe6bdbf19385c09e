//! `monitor --max-energy-kwh` / `--max-emissions-kg`: stop the command when its measured total
//! reaches a limit. The whole process tree gets SIGTERM (a shell's children as well as the shell:
//! orphans stay in our tree, we are their subreaper), then SIGKILL whatever is left after the
//! grace period (`--kill-after`, 10 s by default); the command's exit status is then
//! [`LIMIT_EXIT_STATUS`].

use std::time::{Duration, Instant};

use carbon_tracker::EmissionsSnapshot;

use crate::format;

/// The exit status of a command stopped at a limit (as `timeout(1)` when its time is up).
pub const LIMIT_EXIT_STATUS: i32 = 124;
pub const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limits {
    pub max_energy_kwh: Option<f64>,
    pub max_emissions_kg: Option<f64>,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.max_energy_kwh.is_some() || self.max_emissions_kg.is_some()
    }

    /// Why the command must stop, if a measured total has reached its limit.
    pub fn reached(&self, s: &EmissionsSnapshot) -> Option<String> {
        if let Some(max) = self.max_energy_kwh.filter(|max| s.energy_consumed_kwh >= *max) {
            return Some(format!(
                "the energy limit is reached: {} measured, --max-energy-kwh {max} ({})",
                format::energy_kwh(s.energy_consumed_kwh),
                format::energy_kwh(max)
            ));
        }
        if let Some(max) = self.max_emissions_kg.filter(|max| s.emissions_kg >= *max) {
            return Some(format!(
                "the emissions limit is reached: {} measured, --max-emissions-kg {max} ({})",
                format::mass_kg(s.emissions_kg),
                format::mass_kg(max)
            ));
        }
        None
    }
}

/// Sends `sig` to every process of our tree (the command and what it started, orphans included).
/// Returns how many were signalled.
pub fn signal_tree(sig: libc::c_int) -> usize {
    let pids = carbon_tracker::process::descendants_of(std::process::id());
    for pid in &pids {
        // SAFETY: kill(2) with a pid of our tree and a valid signal.
        unsafe { libc::kill(*pid as libc::pid_t, sig) };
    }
    pids.len()
}

/// The stop in progress: SIGTERM was sent at `since`; SIGKILL is due `kill_after` later.
#[derive(Debug, Clone)]
pub struct Stopping {
    pub why: String,
    pub since: Instant,
    pub kill_after: Duration,
    pub killed: bool,
}

impl Stopping {
    /// Sends SIGTERM to the tree now.
    pub fn begin(why: String, kill_after: Duration) -> Stopping {
        signal_tree(libc::SIGTERM);
        Stopping { why, since: Instant::now(), kill_after, killed: false }
    }

    /// When SIGKILL is due.
    pub fn kill_due(&self) -> Instant {
        self.since + self.kill_after
    }

    /// SIGKILL to what is left of the tree, once the grace period is over.
    pub fn kill_if_due(&mut self) {
        if !self.killed && Instant::now() >= self.kill_due() {
            signal_tree(libc::SIGKILL);
            self.killed = true;
        }
    }

    /// After the command has exited: waits for the rest of the tree until the grace period is
    /// over, kills what is left, and reaps it (nothing of a stopped command runs on after us).
    /// `command` (not reaped yet, a zombie) is left for its owner to reap.
    pub fn finish(&mut self, command: libc::pid_t) {
        let me = std::process::id();
        let others = || carbon_tracker::process::descendants_of(me).into_iter().any(|p| p as libc::pid_t != command);
        loop {
            reap_except(command);
            if !others() {
                return;
            }
            if Instant::now() >= self.kill_due() {
                signal_tree(libc::SIGKILL);
                self.killed = true;
                std::thread::sleep(Duration::from_millis(50));
                reap_except(command);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Reaps exited descendants (orphans that became our children), but not `command`.
fn reap_except(command: libc::pid_t) {
    for pid in carbon_tracker::process::descendants_of(std::process::id()) {
        let pid = pid as libc::pid_t;
        if pid != command {
            // SAFETY: waitpid on a pid of our tree, without blocking; not our child: ECHILD.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reached_says_which_limit_and_the_numbers() {
        let l = Limits { max_energy_kwh: Some(0.001), max_emissions_kg: Some(1.0) };
        let mut s = EmissionsSnapshot::default();
        (s.energy_consumed_kwh, s.emissions_kg) = (0.0005, 0.1);
        assert_eq!(l.reached(&s), None);
        s.energy_consumed_kwh = 0.001;
        assert_eq!(
            l.reached(&s).unwrap(),
            "the energy limit is reached: 1.00 Wh measured, --max-energy-kwh 0.001 (1.00 Wh)"
        );
        let l = Limits { max_energy_kwh: None, max_emissions_kg: Some(0.05) };
        assert!(l.reached(&s).unwrap().starts_with("the emissions limit is reached: 100 g CO2e measured"));
        assert!(!Limits::default().any());
    }
}

//! `carbon-tracker monitor -- CMD ARGS...`: runs the command under a started tracker.
//!
//! - The command inherits standard input, output and error.
//! - SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked in every thread of this process (the
//!   library's threads inherit the mask) and taken by one thread with `sigwaitinfo`, which sends
//!   them on to the command (started with them unblocked). A signal the terminal sent (Ctrl-C)
//!   already reached the command, which is in our process group, so it is not sent twice.
//!   A signal sent by `kill` to the whole process group does reach it twice.
//! - This process is a child subreaper: descendants that the command orphans stay in the tracked
//!   tree and are reaped here, so their CPU time is counted.
//! - When the command exits it is left a zombie (`waitid(WNOWAIT)`) while the tracker stops: a
//!   zombie's CPU time still shows in `/proc`, so the final measurement counts all of it; it is
//!   reaped after.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use carbon_tracker::{ErrorKind, Tracker};

use crate::format;
use crate::lib_options::LibOptions;
use crate::limits::{Limits, Stopping, LIMIT_EXIT_STATUS};
use crate::progress_file::{self, ProgressFile};
use crate::status_line::StatusLine;

pub struct Settings {
    pub lib: LibOptions,
    pub command: Vec<OsString>,
    pub live_status: bool,
    pub summary: bool,
    /// Keep the command's exit status when the results could not be saved.
    pub allow_unsaved: bool,
    /// Write a row (cumulative totals) this often while the command runs, as `flush` does.
    pub flush_every: Option<Duration>,
    /// Stop the command when a measured total reaches one of these.
    pub limits: Limits,
    /// Between SIGTERM and SIGKILL when a limit stops the command.
    pub kill_after: Duration,
    /// Where the command writes `done total`.
    pub progress_file: Option<PathBuf>,
}

/// What the thread that watches the running command does besides the status line.
struct Watch<'a> {
    flush_every: Option<Duration>,
    limits: Limits,
    kill_after: Duration,
    progress: Option<ProgressFile>,
    command: &'a [OsString],
}

const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The exit status when the command succeeded but its results were not saved (sysexits.h's
/// EX_IOERR), unless `--allow-unsaved`.
pub const UNSAVED_EXIT: i32 = 74;

pub fn run(s: Settings) -> i32 {
    let tracker = match start_tracker(&s) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut child = match spawn_command(&tracker, &s.command) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let pid = child.id() as libc::pid_t;
    // Held while a signal is sent, and set under it once the command is about to be reaped, so a
    // late signal never reaches a recycled pid.
    let reaped = Arc::new(Mutex::new(false));
    spawn_forwarder(pid, reaped.clone());
    let (describe, mut stopping) = watch_until_exit(&tracker, &s, pid);
    if let Some(stop) = &mut stopping {
        stop.finish(pid);
    }
    // The command's last word on its progress, written after the last poll.
    let last_prediction = s.progress_file.as_deref().and_then(|path| {
        ProgressFile::new(path).poll(&tracker);
        tracker.peek_prediction().ok()
    });
    let stopped = tracker.stop();
    *reaped.lock().unwrap_or_else(|p| p.into_inner()) = true;
    let status = child.wait().map(|s| s.into_raw()).unwrap_or(0);
    let (mut code, mut how) = exit_code(status);
    if let Some(stop) = &stopping {
        code = LIMIT_EXIT_STATUS;
        how = format!("was stopped by carbon-tracker ({}; it {how})", stop.why);
    }
    // The numbers, also when an output failed (they were measured; the errors say what was not saved).
    let (numbers, errors) = match stopped {
        Ok(numbers) => (Some(numbers), Vec::new()),
        Err(e) => e.into_parts(),
    };
    if let (true, Some(numbers)) = (s.summary, numbers) {
        say!("{}", summary(&s.command, &how, &numbers, &describe, tracker.run_id(), &errors).trim_end());
        if let Some(p) = last_prediction.filter(|p| p.progress.is_finite()) {
            say!("  progress   {} % reported", format::sig3(p.progress * 100.0));
        }
    }
    exit_with_errors(code, &errors, s.allow_unsaved)
}

/// The library's options with the command's defaults and limits, the command checked, the
/// forwarded signals blocked, and the tracker started; else the exit status.
fn start_tracker(s: &Settings) -> Result<Tracker, i32> {
    let mut lib = s.lib.clone();
    lib.apply_cli_defaults(!s.summary);
    // A limit is also the library's budget (unless one is given): its warnings when the run is
    // predicted to exceed it, and the budget state in the outputs.
    if let Some(max) = s.limits.max_energy_kwh {
        lib.push_default("energy_budget_kwh", &max.to_string());
    }
    if let Some(max) = s.limits.max_emissions_kg {
        lib.push_default("emissions_budget_kg", &max.to_string());
    }
    if let Err((code, msg)) = check_runnable(&s.command[0]) {
        say!("carbon-tracker: {msg}");
        return Err(code);
    }
    block_forwarded_signals();
    // Our own work (ticks, the location lookup, the status line) is not the command's.
    let tracker = match Tracker::new(lib.to_options()) {
        Ok(t) => t.counting_only_descendants(),
        Err(e) => {
            say!("carbon-tracker: {e}");
            return Err(2);
        }
    };
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer argument.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if let Err(e) = tracker.start() {
        say!("carbon-tracker: cannot start tracking: {e}");
        return Err(if e.kind == ErrorKind::InvalidOption { 2 } else { 1 });
    }
    Ok(tracker)
}

/// Starts the command with the forwarded signals unblocked; else stops the tracker and gives
/// the shell's exit status.
fn spawn_command(tracker: &Tracker, argv: &[OsString]) -> Result<std::process::Child, i32> {
    let program = &argv[0];
    let mut command = Command::new(program);
    command.args(&argv[1..]);
    // SAFETY: the hook only calls pthread_sigmask, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            // The command starts with none of our blocked signals blocked (std does not reset
            // the mask on every spawn path).
            let set = forwarded_set();
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    command.spawn().map_err(|e| {
        // check_runnable passed, so this is rare (a missing interpreter, a race).
        let _ = tracker.stop();
        say!("carbon-tracker: {}: {e}", program.to_string_lossy());
        if e.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        }
    })
}

/// Waits for the command to exit while a thread shows the status line, flushes and watches the
/// limits and the progress file; returns the description taken while running and the limit
/// that stopped the command, if one did.
fn watch_until_exit(tracker: &Tracker, s: &Settings, pid: libc::pid_t) -> (serde_json::Value, Option<Stopping>) {
    // SAFETY: isatty has no preconditions.
    let show_status = s.live_status && unsafe { libc::isatty(2) } == 1;
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let watch = Watch {
        flush_every: s.flush_every,
        limits: s.limits,
        kill_after: s.kill_after,
        progress: s.progress_file.as_deref().map(ProgressFile::new),
        command: &s.command,
    };
    std::thread::scope(|scope| {
        let watcher = (show_status || watch.flush_every.is_some() || watch.limits.any() || watch.progress.is_some())
            .then(|| scope.spawn(move || while_running(tracker, stop_rx, show_status, watch)));
        wait_for_exit(pid);
        drop(stop_tx);
        // Taken while running: the intensity in use and where it comes from.
        let describe = tracker.describe();
        (describe, watcher.and_then(|w| w.join().ok().flatten()))
    })
}

/// `code`, or when results were not saved: the errors said, and 74 for a command that
/// succeeded (unless `--allow-unsaved`).
fn exit_with_errors(code: i32, errors: &[carbon_tracker::Error], allow_unsaved: bool) -> i32 {
    if errors.is_empty() {
        return code;
    }
    for e in errors {
        say!("carbon-tracker: {e}");
    }
    let unsaved_code = if code == 0 && !allow_unsaved { UNSAVED_EXIT } else { code };
    say!(
        "carbon-tracker: the results were NOT saved (see above); exit status {unsaved_code}{}",
        match (code, allow_unsaved) {
            (0, false) => " (--allow-unsaved keeps the command's)",
            (0, true) => ", the command's (--allow-unsaved)",
            _ => ", the command's",
        }
    );
    unsaved_code
}

/// What a shell would say before running `program`: 127 if it is not found, 126 if it is found
/// but cannot be executed.
fn check_runnable(program: &OsString) -> Result<(), (i32, String)> {
    let name = program.to_string_lossy();
    let runnable = |p: &Path| -> Result<(), String> {
        let m = std::fs::metadata(p).map_err(|e| e.to_string())?;
        if m.is_dir() {
            return Err("Is a directory".into());
        }
        if m.permissions().mode() & 0o111 == 0 {
            return Err("Permission denied".into());
        }
        Ok(())
    };
    if program.as_bytes().contains(&b'/') {
        return match runnable(Path::new(program)) {
            Ok(()) => Ok(()),
            Err(_) if !Path::new(program).exists() => Err((127, format!("{name}: No such file or directory"))),
            Err(why) => Err((126, format!("{name}: {why}"))),
        };
    }
    if program.is_empty() {
        return Err((127, "'': command not found".into()));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut found_unrunnable: Option<(PathBuf, String)> = None;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        match runnable(&candidate) {
            Ok(()) => return Ok(()),
            Err(why) if candidate.exists() && found_unrunnable.is_none() => found_unrunnable = Some((candidate, why)),
            Err(_) => {}
        }
    }
    Err(match found_unrunnable {
        Some((p, why)) => (126, format!("{}: {why}", p.display())),
        None => (127, format!("{name}: command not found")),
    })
}

fn forwarded_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initializes the set; sigaddset with valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in FORWARDED {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// Blocks the forwarded signals in this thread; threads started later (the library's included)
/// inherit the mask. The command unblocks them before exec (the `pre_exec` hook in `run`).
fn block_forwarded_signals() {
    let set = forwarded_set();
    // SAFETY: a valid, initialized set.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

fn spawn_forwarder(pid: libc::pid_t, reaped: Arc<Mutex<bool>>) {
    std::thread::spawn(move || {
        let set = forwarded_set();
        loop {
            // SAFETY: zeroed siginfo_t is a valid out-parameter.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let sig = unsafe { libc::sigwaitinfo(&set, &mut info) };
            if sig < 0 {
                continue; // EINTR
            }
            // SI_KERNEL: the terminal sent it to its foreground process group, the command included.
            if info.si_code == libc::SI_KERNEL {
                continue;
            }
            let done = reaped.lock().unwrap_or_else(|p| p.into_inner());
            if !*done {
                // SAFETY: pid is our unreaped child (a zombie at worst), so it names that process.
                unsafe { libc::kill(pid, sig) };
            }
        }
    });
}

/// Waits until the command has exited, without reaping it; reaps orphaned descendants that
/// exit meanwhile (their CPU time moves into ours).
fn wait_for_exit(pid: libc::pid_t) {
    loop {
        // SAFETY: zeroed siginfo_t is a valid out-parameter.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if r < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        // SAFETY: waitid filled in a SIGCHLD siginfo.
        let exited = unsafe { info.si_pid() };
        if exited == pid {
            return;
        }
        unsafe { libc::waitpid(exited, std::ptr::null_mut(), 0) };
    }
}

/// While the command runs: about once a second the live status line (when `show_status`), the
/// progress file and the limits (SIGTERM to the command's tree when one is reached, SIGKILL after
/// the grace period), and a row every `flush_every`, until `stop` is dropped; the status line is
/// gone when it returns. Returns the stop it began, if a limit was reached.
fn while_running(tracker: &Tracker, stop: mpsc::Receiver<()>, show_status: bool, mut w: Watch) -> Option<Stopping> {
    let mut status = StatusLine::new();
    let start = Instant::now();
    let flush_every = w.flush_every;
    let mut next_flush = flush_every.map(|d| start + d);
    let mut next_status = start;
    let mut stopping: Option<Stopping> = None;
    loop {
        let now = Instant::now();
        if let Some(s) = &mut stopping {
            s.kill_if_due();
        }
        if let Some(due) = next_flush.filter(|due| now >= *due) {
            if let Err(failed) = tracker.flush() {
                for e in failed.errors() {
                    status.message(&format!("carbon-tracker: {e}"));
                }
            }
            next_flush = flush_every.map(|d| due + d);
        }
        if now >= next_status {
            if let Some(complaint) = w.progress.as_mut().and_then(|p| p.poll(tracker)) {
                status.message(&complaint);
            }
            let totals = tracker.peek();
            if let (Ok(s), None) = (&totals, &stopping) {
                if let Some(why) = w.limits.reached(s) {
                    status.message(&format!(
                        "carbon-tracker: {why}: stopping `{}` (SIGTERM to its processes, SIGKILL {} later)",
                        command_line(w.command),
                        format::duration_s(w.kill_after.as_secs_f64())
                    ));
                    stopping = Some(Stopping::begin(why, w.kill_after));
                }
            }
            if let (true, Ok(s)) = (show_status, totals) {
                let power = s.cpu_power_w + s.gpu_power_w + s.ram_power_w;
                let mut line = format!(
                    "carbon-tracker {} | {} | {} | {}",
                    format::clock(s.duration_s),
                    format::energy_kwh(s.energy_consumed_kwh),
                    format::mass_kg(s.emissions_kg),
                    format::power_w(power)
                );
                if let Some(p) = w
                    .progress
                    .is_some()
                    .then(|| tracker.peek_prediction().ok())
                    .flatten()
                    .and_then(|p| progress_file::status(&p))
                {
                    line += &format!(" | {p}");
                }
                status.draw(&line);
            }
            // A quarter second after each whole second: just after the tracker's own
            // measurement when it measures every second (the default here), not just before.
            next_status =
                start + Duration::from_secs(now.duration_since(start).as_secs() + 1) + Duration::from_millis(250);
        }
        let kill_due = stopping.as_ref().filter(|s| !s.killed).map(Stopping::kill_due);
        let wake = [next_flush, Some(next_status), kill_due]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + Duration::from_secs(1));
        match stop.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            _ => {
                status.finish();
                return stopping;
            }
        }
    }
}

/// The shell's convention: the exit code, or 128+N when killed by signal N.
fn exit_code(raw: i32) -> (i32, String) {
    let st = std::process::ExitStatus::from_raw(raw);
    match (st.code(), st.signal()) {
        (Some(c), _) => (c, format!("exited with status {c}")),
        (None, Some(sig)) => (128 + sig, format!("was killed by signal {sig} ({})", signal_name(sig))),
        _ => (1, "ended".into()),
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGPIPE => "SIGPIPE".into(),
        libc::SIGALRM => "SIGALRM".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGBUS => "SIGBUS".into(),
        _ => format!("signal {sig}"),
    }
}

/// `a b` → `'a b'`, so the command in the summary reads as it was typed.
fn shell_word(a: &str) -> String {
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// The command as typed, shortened to 40 characters.
fn command_line(command: &[OsString]) -> String {
    let cmd: Vec<String> = command.iter().map(|a| shell_word(&a.to_string_lossy())).collect();
    let cmd = cmd.join(" ");
    if cmd.chars().count() > 40 {
        cmd.chars().take(37).collect::<String>() + "..."
    } else {
        cmd
    }
}

fn summary(
    command: &[OsString],
    how: &str,
    e: &carbon_tracker::EmissionsSnapshot,
    describe: &serde_json::Value,
    run_id: &str,
    errors: &[carbon_tracker::Error],
) -> String {
    let cmd = command_line(command);
    let mode = describe["tracking_mode"].as_str().unwrap_or("?");
    let scope = if mode == "process" { "its process tree" } else { "the whole machine" };
    let mut out = format!("carbon-tracker: `{cmd}` {how} after {}\n", format::duration_s(e.duration_s));
    out += &format!(
        "  energy     {}  (CPU {}, GPU {}, RAM {}; {scope})\n",
        format::energy_kwh(e.energy_consumed_kwh),
        format::energy_kwh(e.cpu_energy_kwh),
        format::energy_kwh(e.gpu_energy_kwh),
        format::energy_kwh(e.ram_energy_kwh)
    );
    let i = &describe["intensity"];
    let place = i["country_name"].as_str().or(i["country_iso_code"].as_str()).unwrap_or("unknown location");
    let intensity = match i["g_per_kwh"].as_f64() {
        Some(g) => format!(" at {} gCO2e/kWh ({place}: {})", format::sig3(g), i["source"].as_str().unwrap_or("?")),
        None => String::new(),
    };
    out += &format!("  emissions  {}{intensity}\n", format::mass_kg(e.emissions_kg));
    out += &format!(
        "  power      CPU {}, GPU {}, RAM {} (means)\n",
        format::power_w(e.cpu_power_w),
        format::power_w(e.gpu_power_w),
        format::power_w(e.ram_power_w)
    );
    let csv_failed = errors.iter().any(|e| e.kind == ErrorKind::Io);
    match describe["outputs"]["csv"].as_str() {
        Some(csv) if csv_failed => out += &format!("  NOT saved  {csv} could not be written (run_id {run_id})\n"),
        Some(csv) => out += &format!("  saved to   {csv} (run_id {run_id})\n"),
        None => out += &format!("  run_id     {run_id} (no CSV: save_to_file is off)\n"),
    }
    out
}

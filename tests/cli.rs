//! The `carbon-tracker` command end to end: the built binary, real child processes, real
//! signals, a real pseudo-terminal, and CSV files written by this library and by CodeCarbon.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support;
use support::{ChildTimeout, CommandTimeout};

const BIN: &str = env!("CARGO_BIN_EXE_carbon-tracker");

/// The command in `dir`, with HOME there too: no config file or CODECARBON_* variable of the
/// machine running the tests leaks in; and with the default action for the signals the tests
/// send, even when the tests run with SIGINT ignored (`nohup cargo test &`).
fn ct(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    support::default_signals(&mut c);
    c.current_dir(dir).env("HOME", dir).env("CODECARBON_LOG_LEVEL", "error");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().to_ascii_uppercase().starts_with("CODECARBON_") && k != "CODECARBON_LOG_LEVEL" {
            c.env_remove(k);
        }
    }
    c
}

/// `monitor` offline in France, plus `extra` options, then `--` and the command.
fn monitor(dir: &Path, extra: &[&str], cmd: &[&str]) -> Command {
    let mut c = ct(dir);
    c.args(["monitor", "--offline", "true", "--country-iso-code", "FRA"]).args(extra).arg("--").args(cmd);
    c
}

fn run(mut c: Command, stdin: &[u8]) -> Output {
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output_timeout()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| header.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

fn num(row: &HashMap<String, String>, key: &str) -> f64 {
    row[key].parse().unwrap_or_else(|_| panic!("{key}={}", row[key]))
}

fn detect_json(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = ct(dir)
        .args(["detect", "--json", "--offline", "true", "--country-iso-code", "FRA"])
        .args(extra)
        .output_timeout();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `times` output of sh: "0m0.210000s 0m0.000000s" lines (self, then reaped children) → seconds.
fn times_total_s(stdout: &str) -> f64 {
    let secs = |w: &str| -> f64 {
        let w = w.trim_end_matches('s');
        let (m, s) = w.split_once('m').unwrap();
        m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap()
    };
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.contains("m0.")
                || l.contains("m1.")
                || l.starts_with(|c: char| c.is_ascii_digit()) && l.contains('m') && l.ends_with('s')
        })
        .collect();
    assert_eq!(lines.len(), 2, "times output: {stdout:?}");
    lines.iter().flat_map(|l| l.split_whitespace()).map(secs).sum()
}

#[test]
fn monitor_counts_the_whole_process_tree_of_a_cpu_burning_child() {
    let dir = tempfile::tempdir().unwrap();
    let power = one_kwh_per_1000_cpu_s(dir.path());
    // The burn runs in a grandchild (reaped by the shell, so counted through its cutime) and in
    // the shell itself; `times` prints the shell's own and its reaped children's CPU time.
    let script = "sh -c 'i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done'; i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done; times";
    let out =
        run(monitor(dir.path(), &["--force-cpu-power", &power, "--project-name", "burn"], &["sh", "-c", script]), b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let child_cpu_s = times_total_s(&text(&out.stdout));
    let rows = csv_rows(&dir.path().join("emissions.csv"));
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["project_name"], "burn");
    assert_eq!(row["tracking_mode"], "process");
    assert_eq!(row["country_iso_code"], "FRA");
    let tree_cpu_s = num(row, "cpu_energy") * 1000.0;
    // All of the child's CPU time is counted; the rest is this command's own (small) share.
    assert!(child_cpu_s > 0.05, "the burn was too short to measure: {child_cpu_s} s");
    assert!(tree_cpu_s >= child_cpu_s - 0.02, "tree {tree_cpu_s} s < child {child_cpu_s} s");
    assert!(tree_cpu_s <= child_cpu_s + 0.5, "tree {tree_cpu_s} s >> child {child_cpu_s} s");
    assert!(num(row, "emissions") > 0.0 && num(row, "duration") > 0.0);
    // The summary on stderr, and no live status (stderr is a pipe here).
    assert!(stderr.contains("exited with status 0") && stderr.contains("its process tree"), "{stderr}");
    assert!(stderr.contains("emissions.csv"), "{stderr}");
    assert!(!stderr.contains('\r'), "live status on a pipe: {stderr:?}");
}

/// `--force-cpu-power` for the machine's thread count that makes cpu_energy (kWh) × 1000 the
/// tree's CPU seconds (process mode: energy = power × CPU seconds / threads).
fn one_kwh_per_1000_cpu_s(dir: &Path) -> String {
    let threads = detect_json(dir, &[])["cpu"]["threads"].as_u64().unwrap() as f64;
    format!("{}", 3600.0 * threads)
}

#[test]
fn a_running_child_is_counted_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("emissions.csv");
    let power = one_kwh_per_1000_cpu_s(dir.path());
    // Burns CPU until the test says stop: the rows written meanwhile (the command has not
    // exited, nothing is reaped) must already hold its CPU time, read live from /proc.
    let mut c = monitor(
        dir.path(),
        &["--flush-every", "0.1", "--force-cpu-power", &power],
        &["sh", "-c", "while [ ! -e stop ]; do :; done"],
    );
    let mut child = c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    let live_cpu_s = loop {
        let cpu_s = if csv.exists() {
            csv_rows(&csv).last().map(|r| num(r, "cpu_energy") * 1000.0).unwrap_or(0.0)
        } else {
            0.0
        };
        if cpu_s >= 0.2 {
            break cpu_s;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the running child's CPU time never showed: {cpu_s} s");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::fs::write(dir.path().join("stop"), "").unwrap();
    assert_eq!(child.wait_timeout().code(), Some(0));
    let last = num(csv_rows(&csv).last().unwrap(), "cpu_energy") * 1000.0;
    assert!(last >= live_cpu_s, "CPU time lost when the child exited: {live_cpu_s} -> {last}");
}

#[test]
fn orphans_of_the_command_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let power = one_kwh_per_1000_cpu_s(dir.path());
    // The inner sh exits at once, orphaning the burning subshell; the command waits for it.
    let script = "sh -c '(i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done; times > orphan-times; touch done) &'; \
                  while [ ! -e done ]; do sleep 0.02; done";
    let out = run(monitor(dir.path(), &["--force-cpu-power", &power], &["sh", "-c", script]), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let orphan_cpu_s = times_total_s(&std::fs::read_to_string(dir.path().join("orphan-times")).unwrap());
    let tree_cpu_s = num(&csv_rows(&dir.path().join("emissions.csv"))[0], "cpu_energy") * 1000.0;
    assert!(orphan_cpu_s > 0.05, "the burn was too short to measure: {orphan_cpu_s} s");
    assert!(tree_cpu_s >= orphan_cpu_s - 0.02, "tree {tree_cpu_s} s < orphan {orphan_cpu_s} s");
}

#[test]
fn flush_every_writes_cumulative_rows_while_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("emissions.csv");
    // The command runs until the test has seen two rows written while it ran.
    let mut c = monitor(dir.path(), &["--flush-every", "0.1"], &["sh", "-c", "while [ ! -e go ]; do sleep 0.02; done"]);
    let mut child = c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while !csv.exists() || csv_rows(&csv).len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(60), "no rows while running");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(dir.path().join("go"), "").unwrap();
    assert_eq!(child.wait_timeout().code(), Some(0));
    let rows = csv_rows(&csv);
    assert!(rows.len() >= 3, "{}", rows.len());
    assert!(rows.iter().all(|r| r["run_id"] == rows[0]["run_id"]));
    for w in rows.windows(2) {
        assert!(
            num(&w[1], "duration") >= num(&w[0], "duration")
                && num(&w[1], "energy_consumed") >= num(&w[0], "energy_consumed")
        );
    }
}

#[test]
fn exit_status_is_the_commands_and_the_row_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(monitor(dir.path(), &[], &["sh", "-c", "exit 3"]), b"");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("exited with status 3"));
    assert_eq!(csv_rows(&dir.path().join("emissions.csv")).len(), 1);
}

#[test]
fn results_not_saved_are_said_plainly_and_fail_a_successful_command() {
    let dir = tempfile::tempdir().unwrap();
    // The command removes the output directory (created at start): the final row cannot be written.
    let vanish = ["sh", "-c", "rm -rf out; exit $0", "0"];
    let out = run(monitor(dir.path(), &["--output-dir", "out"], &vanish), b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{stderr}");
    assert!(stderr.contains("NOT saved  out/emissions.csv could not be written"), "{stderr}");
    assert!(!stderr.contains("saved to"), "{stderr}");
    assert!(
        stderr.contains("carbon-tracker: cannot open the emissions CSV for appending out/emissions.csv"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the results were NOT saved (see above); exit status 74 (--allow-unsaved keeps the command's)"),
        "{stderr}"
    );
    // --allow-unsaved: the command's status, the failure still said.
    let out = run(monitor(dir.path(), &["--output-dir", "out", "--allow-unsaved", "-q"], &vanish), b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr)
        .contains("the results were NOT saved (see above); exit status 0, the command's (--allow-unsaved)"));
    // A failed command keeps its own status.
    let out = run(monitor(dir.path(), &["--output-dir", "out"], &["sh", "-c", "rm -rf out; exit 3"]), b"");
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("exit status 3, the command's"));
}

#[test]
fn mistakes_are_refused_before_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let touch = ["touch", "ran"];
    // The library's words, as in every binding; the command is not run.
    for (extra, code, words) in [
        (
            &["--country-iso-code", "FRN"][..],
            2,
            "country_iso_code=FRN: no country has the ISO 3166-1 alpha-3 code FRN; did you mean FRA (France)",
        ),
        (
            &["--output-dir", "no/such/dir"][..],
            1,
            "cannot start tracking: output_dir no/such/dir: no such directory, nor its parent no/such",
        ),
        (
            &["--output-dir", "/sys"][..],
            1,
            "cannot start tracking: output_dir /sys: cannot open the emissions CSV for appending /sys/emissions.csv",
        ),
    ] {
        let mut c = ct(dir.path());
        c.args(["monitor", "--offline"]).args(extra).arg("--").args(touch);
        let out = run(c, b"");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{extra:?}: {stderr}");
        assert!(stderr.contains(words), "{extra:?}: {stderr}");
        assert!(!ran.exists(), "{extra:?}: the command ran");
    }
    // A flag's value that looks like a flag: refused by the parser, not taken as the value.
    let mut c = ct(dir.path());
    c.args(["monitor", "--project-name", "--", "touch", "ran"]);
    let out = run(c, b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("a value is required for '--project-name"), "{}", text(&out.stderr));
    assert!(!ran.exists());
}

#[test]
fn a_closed_standard_error_does_not_change_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = monitor(dir.path(), &[], &["sh", "-c", "sleep 0.2; exit 5"]);
    let mut child = c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stderr.take()); // the summary goes to a pipe nobody reads: EPIPE
    assert_eq!(child.wait_timeout().code(), Some(5));
    assert_eq!(csv_rows(&dir.path().join("emissions.csv")).len(), 1);
}

#[test]
fn killed_by_a_signal_gives_128_plus_n() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(monitor(dir.path(), &[], &["sh", "-c", "kill -TERM $$; sleep 5"]), b"");
    assert_eq!(out.status.code(), Some(128 + 15), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("killed by signal 15 (SIGTERM)"), "{}", text(&out.stderr));
    assert_eq!(csv_rows(&dir.path().join("emissions.csv")).len(), 1);
}

#[test]
fn stdin_stdout_and_stderr_pass_through_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let input: Vec<u8> = b"first line\n\xff\xfe not UTF-8\nno newline at the end".to_vec();
    let out = run(monitor(dir.path(), &["--quiet"], &["sh", "-c", "cat; echo to-stderr >&2"]), &input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, input);
    assert_eq!(text(&out.stderr), "to-stderr\n", "--quiet: only the command's own stderr");
}

/// A shell that says "ready", then exits 7 on SIGINT (after its current `sleep`).
const WAITS_FOR_SIGINT: &str = "trap 'echo got-sigint; exit 7' INT; echo ready; while :; do sleep 0.05; done";

fn wait_for(buf: &Arc<Mutex<Vec<u8>>>, needle: &str) {
    let start = Instant::now();
    while !text(&buf.lock().unwrap()).contains(needle) {
        assert!(start.elapsed() < Duration::from_secs(30), "no {needle:?} in {:?}", text(&buf.lock().unwrap()));
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

#[test]
fn sigint_sent_to_the_command_reaches_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = monitor(dir.path(), &[], &["sh", "-c", WAITS_FOR_SIGINT]);
    let mut child = c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    wait_for(&stdout, "ready");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait_timeout();
    wait_for(&stdout, "got-sigint");
    wait_for(&stderr, "exited with status 7");
    assert_eq!(status.code(), Some(7));
    assert_eq!(csv_rows(&dir.path().join("emissions.csv")).len(), 1);
}

#[test]
fn sigterm_sighup_and_sigquit_sent_to_the_command_reach_the_child() {
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = monitor(dir.path(), &[], &["sh", "-c", "echo ready; exec sleep 30"]);
        let mut child = c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        wait_for(&stdout, "ready");
        unsafe { libc::kill(child.id() as i32, sig) };
        assert_eq!(child.wait_timeout().code(), Some(128 + sig), "signal {sig}");
        assert_eq!(csv_rows(&dir.path().join("emissions.csv")).len(), 1, "signal {sig}");
    }
}

/// Runs the command on a new pseudo-terminal (its controlling terminal, foreground group), and
/// returns it with the terminal's master side.
fn spawn_on_pty(mut c: Command) -> (std::process::Child, std::fs::File) {
    let (mut master, mut slave) = (0, 0);
    let ws = libc::winsize { ws_row: 24, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0 };
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &ws) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    c.stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave);
    unsafe {
        c.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = c.spawn().unwrap();
    drop(c); // closes our copies of the slave, so reads end with EIO when the command exits
    (child, unsafe { std::fs::File::from_raw_fd(master) })
}

#[test]
fn on_a_terminal_ctrl_c_reaches_the_child_once_and_a_live_status_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut master) = spawn_on_pty(monitor(dir.path(), &[], &["sh", "-c", WAITS_FOR_SIGINT]));
    let out = collect(master.try_clone().unwrap());
    wait_for(&out, "ready");
    wait_for(&out, "carbon-tracker 0:0");
    master.write_all(b"\x03").unwrap(); // Ctrl-C: the terminal sends SIGINT to its foreground group
    let status = child.wait_timeout();
    wait_for(&out, "exited with status 7");
    let all = text(&out.lock().unwrap());
    assert_eq!(status.code(), Some(7), "{all}");
    assert_eq!(all.split(['\r', '\n']).filter(|l| l.ends_with("got-sigint")).count(), 1, "{all}");
    // The status line on the last row (24) below a scroll region of rows 1-23: elapsed time,
    // energy, emissions, power. The region is reset and the row cleared before the summary.
    assert!(all.contains("\x1b[1;23r"), "{all:?}");
    let drawn = all.split("\x1b[24;1H\x1b[2K\x1b[7m ").nth(1).and_then(|s| s.split("\x1b[0m").next()).unwrap();
    assert!(
        drawn.starts_with("carbon-tracker 0:0")
            && drawn.contains("Wh")
            && drawn.contains("CO2e")
            && drawn.contains(" W"),
        "{drawn:?}"
    );
    let reset = all.rfind("\x1b[r").expect("scroll region reset");
    assert!(reset > all.rfind("\x1b[7m").unwrap() && reset < all.find("exited with status 7").unwrap(), "{all:?}");
    assert_eq!(csv_rows(&dir.path().join("emissions.csv")).len(), 1);
}

#[test]
fn missing_or_unrunnable_command_exits_127_or_126_without_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(monitor(dir.path(), &[], &["no-such-command-for-carbon-tracker", "x"]), b"");
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains("no-such-command-for-carbon-tracker: command not found"),
        "{}",
        text(&out.stderr)
    );
    let out = run(monitor(dir.path(), &[], &["./missing.sh"]), b"");
    assert_eq!(out.status.code(), Some(127));
    assert!(text(&out.stderr).contains("./missing.sh: No such file or directory"), "{}", text(&out.stderr));
    std::fs::write(dir.path().join("plain.txt"), "echo hi\n").unwrap();
    let out = run(monitor(dir.path(), &[], &["./plain.txt"]), b"");
    assert_eq!(out.status.code(), Some(126));
    assert!(text(&out.stderr).contains("Permission denied"), "{}", text(&out.stderr));
    assert!(!dir.path().join("emissions.csv").exists());
}

#[test]
fn options_are_escaped_and_environment_and_config_files_apply() {
    let dir = tempfile::tempdir().unwrap();
    // `;` and `\` in a value reach the library intact.
    let out = run(
        monitor(
            dir.path(),
            &["--project-name", r"a;b\c", "--experiment_name", "key spelled as the library"],
            &["true"],
        ),
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(csv_rows(&dir.path().join("emissions.csv"))[0]["project_name"], r"a;b\c");

    // A CODECARBON_* variable and ./.codecarbon.config are read as the library reads them; a
    // tracking_mode there wins over the command's process-tree default.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".codecarbon.config"),
        "[codecarbon]\ntracking_mode = machine\noutput_file = from-file.csv\n",
    )
    .unwrap();
    let mut c = monitor(dir.path(), &[], &["true"]);
    c.env("CODECARBON_PROJECT_NAME", "from-env");
    let out = run(c, b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let row = &csv_rows(&dir.path().join("from-file.csv"))[0];
    assert_eq!((row["project_name"].as_str(), row["tracking_mode"].as_str()), ("from-env", "machine"));

    // A bad value: the library's message names the key; the command is not run.
    let out = run(monitor(dir.path(), &["--pue", "zero"], &["sh", "-c", "echo ran"]), b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pue"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    // An unknown flag: clap names it.
    let out = ct(dir.path()).args(["monitor", "--no-such-option", "1", "--", "true"]).output_timeout();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--no-such-option"), "{}", text(&out.stderr));
}

#[test]
fn the_same_options_mean_what_they_mean_in_every_binding() {
    // A key given twice: the last value wins, as in the library's options (clap refused it).
    // A value with blanks around it: trimmed, as the options string of every binding trims it.
    let dir = tempfile::tempdir().unwrap();
    let out = run(monitor(dir.path(), &["--project-name", "first", "--project_name", "  second  "], &["true"]), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(csv_rows(&dir.path().join("emissions.csv"))[0]["project_name"], "second");
    // A value that is not UTF-8: refused before the command runs, naming the key in the
    // library's words (clap said only "invalid UTF-8 was detected in one or more arguments").
    use std::os::unix::ffi::OsStrExt;
    let mut c = ct(dir.path());
    c.args(["monitor", "--offline", "--output-dir"])
        .arg(std::ffi::OsStr::from_bytes(b"caf\xe9"))
        .args(["--", "touch", "ran"]);
    let out = c.output_timeout();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("options: output_dir: the value is not valid UTF-8 (--output-dir)"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("ran").exists());
}

#[test]
fn an_unreadable_config_file_is_skipped_with_a_warning() {
    // Python's configparser, which CodeCarbon uses, skips a file it cannot open; so do we, and say so.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".codecarbon.config")).unwrap(); // both ~/ and ./ (HOME is the cwd)
    let mut c = monitor(dir.path(), &["--project-name", "skipped-config"], &["true"]);
    c.env("CODECARBON_LOG_LEVEL", "warning");
    let out = run(c, b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(csv_rows(&dir.path().join("emissions.csv"))[0]["project_name"], "skipped-config");
    assert!(stderr.contains(".codecarbon.config") && stderr.contains("skipped"), "{stderr}");
}

#[test]
fn detect_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let doc = detect_json(dir.path(), &["--force-cpu-power", "65"]);
    assert_eq!(doc["cpu"]["source"]["tdp_w"], 65.0);
    assert_eq!(doc["tracking_mode"], "process");
    assert_eq!(doc["intensity"]["country_iso_code"], "FRA");
    assert!(doc["methods"].as_array().unwrap().iter().any(|m| m.as_str().unwrap().contains("forced power 65 W")));
    let out = ct(dir.path())
        .args(["detect", "--offline", "true", "--country-iso-code", "FRA", "--force-cpu-power", "65"])
        .output_timeout();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    for needle in
        ["CPU ", "TDP 65 W", "RAM ", "Intensity ", "France", "How each number is obtained:", "forced power 65 W"]
    {
        assert!(t.contains(needle), "no {needle:?} in:\n{t}");
    }
    assert!(!dir.path().join("emissions.csv").exists(), "detect writes nothing");
}

/// A loopback geolocation service that places the machine in Germany after `delay`, and the
/// options that point the library at it.
fn german_geo_service(delay: Duration) -> (support::FakeServer, Vec<String>) {
    let server = support::FakeServer::start();
    let geojs = r#"{"region":"","country_code3":"DEU","country":"Germany","country_code":"DE","latitude":"52.5","longitude":"13.4"}"#;
    server.set(|b| {
        b.get_routes.insert("/geo".into(), (200, geojs.into()));
        b.delay = delay;
    });
    let u = server.url();
    let options = vec![
        "--geo-api-url".into(),
        format!("{u}/geo"),
        "--geo-backup-api-url".into(),
        format!("{u}/ipinfo"),
        "--cloud-metadata-url".into(),
        u,
    ];
    (server, options)
}

#[test]
fn the_monitors_own_work_is_not_charged_to_the_command() {
    // The monitor measures 100 times a second and looks its location up (a loopback geo
    // service), all on its own threads; the command sleeps. With the linear model at 100 W,
    // the CPU energy is 100 W x the tree's CPU time / threads: only the command's (`sleep`
    // uses about 1 ms; /proc counts in 10 ms ticks).
    let (_server, lookup) = german_geo_service(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let mut c = ct(dir.path());
    c.arg("monitor").args(&lookup).args(["--cloud-detection", "false"]).args([
        "--force-cpu-power",
        "100",
        "--measure-power-secs",
        "0.01",
        "--",
        "sleep",
        "1.5",
    ]);
    let out = run(c, b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let row = &csv_rows(&dir.path().join("emissions.csv"))[0];
    assert_eq!(row["country_iso_code"], "DEU", "the lookup ran");
    let cpu_s = num(row, "cpu_energy") * 3.6e6 * num(row, "cpu_count") / 100.0;
    assert!(cpu_s <= 0.0101, "{cpu_s} CPU-seconds counted for `sleep 1.5`: the monitor's own");
    assert!(num(row, "ram_energy") > 0.0, "the command's memory is counted");
}

#[test]
fn quiet_silences_the_librarys_warnings_unless_a_log_level_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let warn = |extra: &[&str]| {
        let mut c = ct(dir.path());
        c.env_remove("CODECARBON_LOG_LEVEL")
            .args(["monitor", "--offline", "true", "--country-iso-code", "ATA"])
            .args(extra)
            .args(["--", "true"]);
        let out = run(c, b"");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    assert!(warn(&[]).contains("ATA"), "without -q a country without data is a warning");
    assert_eq!(warn(&["-q"]), "", "-q: nothing on standard error");
    assert!(warn(&["-q", "--log-level", "warning"]).contains("ATA"), "an explicit log level wins");
}

#[test]
fn one_name_for_the_unit_co2e_in_every_output_and_document() {
    // `CO2e` as in the option force_carbon_intensity_g_co2e_kwh, the C header and the bindings.
    let dir = tempfile::tempdir().unwrap();
    let out = run(monitor(dir.path(), &[], &["true"]), b"");
    let summary = text(&out.stderr);
    assert!(summary.contains(" CO2e at ") && summary.contains("gCO2e/kWh"), "{summary}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack: Vec<PathBuf> = ["src", "include", "bindings", "examples", "README.md", "docs", "CONTRIBUTING.md"]
        .iter()
        .map(|p| root.join(p))
        .collect();
    let mut found = Vec::new();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(t) = std::fs::read_to_string(&p) {
            found.extend(
                t.lines().filter(|l| l.contains(concat!("CO2", "eq"))).map(|l| format!("{}: {l}", p.display())),
            );
        }
    }
    assert!(found.is_empty(), "`CO2eq` where the unit is written `CO2e`:\n{}", found.join("\n"));
}

#[test]
fn detect_waits_for_the_location_lookup_and_monitor_uses_it() {
    // Slower than start: the lookup runs in the background.
    let (server, lookup) = german_geo_service(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let out = ct(dir.path()).arg("detect").args(&lookup).output_timeout();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("location: Germany, DEU") && !t.contains("world average"), "{t}");
    let mut c = ct(dir.path());
    // The command runs until a row written while it runs shows the looked-up country.
    c.arg("monitor").args(&lookup).args([
        "--flush-every",
        "0.1",
        "--",
        "sh",
        "-c",
        "until grep -q ,DEU, emissions.csv 2> /dev/null; do sleep 0.05; done",
    ]);
    let out = run(c, b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(csv_rows(&dir.path().join("emissions.csv")).last().unwrap()["country_iso_code"], "DEU");
    // And a lookup that fails is said so.
    let u = server.url();
    let out = ct(dir.path())
        .args([
            "detect",
            "--geo-api-url",
            &format!("{u}/nothing"),
            "--geo-backup-api-url",
            &format!("{u}/ipinfo"),
            "--cloud-detection",
            "false",
        ])
        .output_timeout();
    assert!(text(&out.stdout).contains("the location lookup failed"), "{}", text(&out.stdout));
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Our own CSV: two runs of one project.
fn our_csv(dir: &Path) -> PathBuf {
    for _ in 0..2 {
        let out = run(
            monitor(
                dir,
                &["--project-name", "ours"],
                &["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"],
            ),
            b"",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    dir.join("emissions.csv")
}

#[test]
fn report_reads_codecarbon_and_our_csv_and_writes_a_chart() {
    let dir = tempfile::tempdir().unwrap();
    let ours = our_csv(dir.path());
    let cc = data("codecarbon-3.3.2-emissions.csv");
    let html = dir.path().join("report.html");
    let out = ct(dir.path()).arg("report").arg(&cc).arg(&ours).arg("--html").arg(&html).output_timeout();
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Per project, a line per run (short run ids), with its duration, energy and emissions.
    for needle in [
        "Project cc-infer: 1 run",
        "Project cc-train: 2 runs",
        "Project ours: 2 runs",
        "e2eb31f4",
        "5c901535",
        "9a8763bd",
        "intensity (g/kWh)",
    ] {
        assert!(table.contains(needle), "no {needle:?} in:\n{table}");
    }
    // The CodeCarbon run with three rows: its total is the last row, 1.22 s, 5.73 mWh, 321 µg.
    assert!(table.contains("energy (mWh)") && table.contains("emissions (µg CO2e)"), "{table}");
    let line = table.lines().find(|l| l.contains("e2eb31f4")).unwrap();
    assert!(line.contains("1.22") && line.contains("5.73") && line.contains("321") && line.contains("3.3.2"), "{line}");
    // Without a file: ./emissions.csv.
    let out = ct(dir.path()).arg("report").output_timeout();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("Project ours: 2 runs from emissions.csv"), "{}", text(&out.stdout));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("<polyline") && page.contains("e2eb31f4"));
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href="), "self-contained");
}

#[test]
fn report_names_bad_files_and_lines_and_still_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let good = data("codecarbon-3.3.2-emissions.csv");
    let bad = dir.path().join("bad.csv");
    let text_in = std::fs::read_to_string(&good).unwrap();
    let mut lines: Vec<String> = text_in.lines().map(str::to_string).collect();
    lines[2] = lines[2].replacen(",cc-train,", ",cc-train,,", 1); // one field too many, line 3
    lines[4] = lines[4].replace("2026-", "someday-"); // not a timestamp, line 5
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let not_csv = dir.path().join("notes.txt");
    std::fs::write(&not_csv, "just some notes\n").unwrap();
    let out = ct(dir.path())
        .arg("report")
        .arg(&bad)
        .arg(dir.path().join("missing.csv"))
        .arg(&not_csv)
        .arg(&good)
        .output_timeout();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains(&format!("{}:3: 39 fields where the header has 38", bad.display())), "{stderr}");
    assert!(stderr.contains(&format!("{}:5: column `timestamp`", bad.display())), "{stderr}");
    assert!(stderr.contains("missing.csv: cannot read"), "{stderr}");
    assert!(stderr.contains(&format!("{}:1: not an emissions.csv header", not_csv.display())), "{stderr}");
    assert!(stdout.contains("Project cc-infer") && stdout.contains("Project cc-train"), "{stdout}");
}

/// CodeCarbon itself, when a venv with it is at hand (target/codecarbon-venv, made by
/// `python3 -m venv target/codecarbon-venv && target/codecarbon-venv/bin/pip install codecarbon==3.3.2`,
/// or CODECARBON_PYTHON): a fresh CSV from it is reported.
#[test]
fn report_reads_a_csv_codecarbon_writes_now() {
    let python = std::env::var_os("CODECARBON_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/codecarbon-venv/bin/python"));
    if !python.exists() {
        eprintln!(
            "skipped: no CodeCarbon venv at {} (the committed fixture is used by the other tests)",
            python.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/codecarbon-csv.py");
    let out = Command::new(&python).arg(script).arg(dir.path()).env("HOME", dir.path()).output_timeout();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ct(dir.path()).args(["report", "emissions.csv"]).output_timeout();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("Project cc-train: 2 runs") && table.contains("Project cc-infer: 1 run"), "{table}");
}

// ---- limits and progress ----

/// RAM forced to 3.6 kW in machine mode: 1 Wh per second, whatever the machine does.
const ONE_WH_PER_S: [&str; 6] =
    ["--tracking-mode", "machine", "--force-ram-power", "3600", "--force-cpu-power", "0.001"];

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
}

fn pids(path: &Path) -> Vec<u32> {
    std::fs::read_to_string(path).unwrap_or_default().split_whitespace().map(|p| p.parse().unwrap()).collect()
}

#[test]
fn an_energy_limit_stops_the_whole_tree_with_status_124() {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = ONE_WH_PER_S.to_vec();
    extra.extend(["--max-energy-kwh", "0.002"]);
    // A shell with a child in the background and one in the foreground: both must stop.
    let script = "sleep 60 & echo $! > pids; sleep 60 & echo $! >> pids; wait; echo never";
    let out = run(monitor(dir.path(), &extra, &["sh", "-c", script]), b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{stderr}");
    assert!(!text(&out.stdout).contains("never"));
    assert!(
        stderr.contains("carbon-tracker: the energy limit is reached: ")
            && stderr.contains("--max-energy-kwh 0.002 (2.00 Wh)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "stopping `sh -c 'sleep 60 & echo $! > pids; sle...` (SIGTERM to its processes, SIGKILL 10.0 s later)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("was stopped by carbon-tracker (the energy limit is reached"), "{stderr}");
    let sleeps = pids(&dir.path().join("pids"));
    assert_eq!(sleeps.len(), 2);
    assert!(sleeps.iter().all(|p| !alive(*p)), "still running: {sleeps:?}");
    let rows = csv_rows(&dir.path().join("emissions.csv"));
    assert!(num(&rows[0], "energy_consumed") >= 0.002, "{rows:?}");
}

#[test]
fn what_ignores_sigterm_gets_sigkill_after_kill_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = ONE_WH_PER_S.to_vec();
    extra.extend(["--max-emissions-kg", "1e-4", "--kill-after", "1"]); // 0.1 g: 2 s at 56 g/kWh
                                                                       // SIGTERM ignored by the shell and (inherited) by its sleep.
    let script = "trap '' TERM; sleep 60 & echo $! > pids; wait; wait; echo never";
    let out = run(monitor(dir.path(), &extra, &["sh", "-c", script]), b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{stderr}");
    assert!(
        stderr.contains("the emissions limit is reached: ")
            && stderr.contains("--max-emissions-kg 0.0001 (100 mg CO2e)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("SIGKILL 1.00 s later") && stderr.contains("it was killed by signal 9 (SIGKILL)"),
        "{stderr}"
    );
    assert!(pids(&dir.path().join("pids")).iter().all(|p| !alive(*p)));
}

#[test]
fn a_limit_also_sets_the_budget_and_its_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = ONE_WH_PER_S.to_vec();
    extra.extend(["--max-energy-kwh", "0.006", "--progress-file", "p"]);
    // 20 steps of 0.4 s at 1 Wh/s: 8 Wh at the end, predicted from about 3 s on; 6 Wh at 6 s.
    let script = "i=0; while [ $i -le 20 ]; do echo \"$i 20\" > p; i=$((i+1)); sleep 0.4; done";
    let mut c = monitor(dir.path(), &extra, &["sh", "-c", script]);
    c.env("CODECARBON_LOG_LEVEL", "warning");
    let out = run(c, b"");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("energy budget: predicted to be exceeded: "), "{stderr}");
    assert!(stderr.contains("for a budget of 0.006 kWh"), "{stderr}");
    assert!(stderr.find("predicted to be exceeded") < stderr.find("the energy limit is reached"), "{stderr}");
    assert_eq!(out.status.code(), Some(124), "{stderr}");
}

#[test]
fn limits_are_checked_as_numbers() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in
        [("--max-energy-kwh", "0"), ("--max-emissions-kg", "-1"), ("--max-energy-kwh", "lots"), ("--kill-after", "1e9")]
    {
        let out = ct(dir.path()).args(["monitor", &format!("{flag}={value}"), "--", "true"]).output_timeout();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(text(&out.stderr).contains(flag), "{}", text(&out.stderr));
    }
}

/// Writes `i n` to the file p every 0.25 s, for i from 0 to n.
fn reports_progress(n: u32) -> String {
    format!("i=0; while [ $i -le {n} ]; do echo \"$i {n}\" > p; i=$((i+1)); sleep 0.25; done")
}

#[test]
fn progress_file_shows_the_prediction_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = ONE_WH_PER_S.to_vec();
    extra.extend(["--progress-file", "p"]);
    let (mut child, master) = spawn_on_pty(monitor(dir.path(), &extra, &["sh", "-c", &reports_progress(16)]));
    let out = collect(master);
    wait_for(&out, " s left | at the end ");
    assert!(child.wait_timeout().success());
    wait_for(&out, "progress   100 % reported");
    let all = text(&out.lock().unwrap());
    let drawn: Vec<&str> =
        all.split("\x1b[24;1H\x1b[2K\x1b[7m ").skip(1).filter_map(|s| s.split("\x1b[0m").next()).collect();
    let with_prediction = drawn.iter().find(|l| l.contains(" left | at the end ")).unwrap();
    // (A 100-column terminal cuts the line somewhere after the predicted energy.)
    let at_the_end = with_prediction.split(" left | at the end ").nth(1).unwrap_or("");
    assert!(with_prediction.contains(" % | ") && at_the_end.contains(" Wh"), "{with_prediction:?}");
}

#[test]
fn progress_file_errors_are_said_once_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(monitor(dir.path(), &["--progress-file", "p"], &["sh", "-c", "echo '5 2' > p; sleep 2.5"]), b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("--progress-file p: set_progress: done=5, total=2").count(), 1, "{stderr}");
}

/// The tests' time limit on a child (tests/support/child.rs): a child still running past it is
/// killed, and the waiting test fails instead of hanging.
#[test]
fn a_child_past_its_time_limit_is_killed_and_fails_the_test() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id() as i32;
    let start = Instant::now();
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        support::child::wait_timeout(&mut child, Duration::from_millis(200))
    }));
    assert!(waited.is_err(), "the wait returned instead of failing");
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    // Killed and reaped: no process with that id is left.
    assert_eq!(unsafe { libc::kill(pid, 0) }, -1);
}

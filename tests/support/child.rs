//! Waiting for a child process with a time limit, so that no test can hang: a child that is
//! still running after `CHILD_TIMEOUT` is killed and the test fails naming it. And the signals
//! a test relies on reset to their defaults in the child, so that tests started with SIGINT
//! ignored (`nohup cargo test &`, or `&` in a CI script) behave as from a terminal.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Generous: a C compile or a cluster test on a loaded 2-core machine takes well under this.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(300);

/// Waits for `child` at most `limit`; kills it (and fails the test) when it runs longer.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} still running after {limit:?}: killed", child.id());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `Child::wait_with_output` with a limit: stdout and stderr (when piped) are read by threads
/// while the child runs, so a full pipe never blocks it.
pub fn wait_with_output_timeout(mut child: Child, limit: Duration) -> Output {
    fn drain(r: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    }
    drop(child.stdin.take());
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let status = wait_timeout(&mut child, limit);
    Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// The time-limited forms of `Command::output`, `Command::status`, `Child::wait` and
/// `Child::wait_with_output`, with `CHILD_TIMEOUT`. The `try_` forms return a spawn error (a
/// program not installed); the others panic on it, as the tests' `.unwrap()` did.
pub trait CommandTimeout {
    fn try_output_timeout(&mut self) -> std::io::Result<Output>;
    fn try_status_timeout(&mut self) -> std::io::Result<ExitStatus>;
    fn output_timeout(&mut self) -> Output;
    fn status_timeout(&mut self) -> ExitStatus;
}

impl CommandTimeout for Command {
    fn try_output_timeout(&mut self) -> std::io::Result<Output> {
        // As `output()`: no stdin, stdout and stderr captured.
        let child = self.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        Ok(wait_with_output_timeout(child, CHILD_TIMEOUT))
    }

    fn try_status_timeout(&mut self) -> std::io::Result<ExitStatus> {
        Ok(wait_timeout(&mut self.spawn()?, CHILD_TIMEOUT))
    }

    fn output_timeout(&mut self) -> Output {
        self.try_output_timeout().unwrap_or_else(|e| panic!("{self:?}: {e}"))
    }

    fn status_timeout(&mut self) -> ExitStatus {
        self.try_status_timeout().unwrap_or_else(|e| panic!("{self:?}: {e}"))
    }
}

pub trait ChildTimeout {
    fn wait_timeout(&mut self) -> ExitStatus;
    fn wait_with_output_timeout(self) -> Output;
}

impl ChildTimeout for Child {
    fn wait_timeout(&mut self) -> ExitStatus {
        wait_timeout(self, CHILD_TIMEOUT)
    }

    fn wait_with_output_timeout(self) -> Output {
        wait_with_output_timeout(self, CHILD_TIMEOUT)
    }
}

/// Resets, in the child, the signals tests send (SIGINT, SIGTERM, SIGHUP, SIGQUIT) to their
/// default action and unblocks them: an ignored signal stays ignored across exec, so under
/// `nohup` or a background `&` a child would never see the test's SIGINT.
pub fn default_signals(c: &mut Command) -> &mut Command {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_DFL);
                libc::sigaddset(&mut set, sig);
            }
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        })
    }
}

//! Tests run side by side in one process (tests/integration.rs). A test that changes what the
//! whole process shares (the test clock, the logger, a resource limit) runs in a child process of
//! its own instead: this binary again, running that test alone.

use std::process::Command;

use super::CommandTimeout;

/// Set in the child to the test it runs.
const OWN_PROCESS_VAR: &str = "CT_TEST_OWN_PROCESS";

/// The name libtest gives test `name` of the module `module` (`module_path!()` there), as
/// `--exact` wants it: the module path without the crate's name (`node::name`).
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, inner)) => format!("{inner}::{name}"),
        None => name.to_string(),
    }
}

/// This test binary, run for the one test `name` of `module` (`--exact`), to be completed by
/// the caller (environment, output).
fn this_test(module: &str, name: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", &test_name(module, name), "--test-threads", "1"]);
    c
}

/// Runs `body` in a process of its own: in the parent, runs this binary for test `name` of
/// `module` alone and fails if it fails (printing its output: `--nocapture` shows what the
/// test prints); in that child, runs `body`.
pub fn in_own_process(module: &str, name: &str, body: impl FnOnce()) {
    let full = test_name(module, name);
    if std::env::var(OWN_PROCESS_VAR).as_deref() == Ok(full.as_str()) {
        body();
        return;
    }
    let out = this_test(module, name).arg("--nocapture").env(OWN_PROCESS_VAR, &full).output_timeout();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(out.status.success(), "{full} failed in its own process ({})", out.status);
    // A name that matched no test would pass with nothing run.
    assert!(stdout.contains("test result: ok. 1 passed"), "{full}: not run in its own process");
}

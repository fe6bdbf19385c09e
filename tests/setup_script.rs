//! scripts/setup.sh decides what to install by what works, not by what exists: an `mpicc` from
//! openmpi-bin without libopenmpi-dev exists but cannot compile, and the cluster tests then fail.

use crate::support;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use support::CommandTimeout;

/// The packages `setup.sh --print-missing` would install with `fakes` (name, script) first on PATH.
fn missing_with(fakes: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, script) in fakes {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup.sh");
    let out = Command::new("bash").arg(script).arg("--print-missing").env("PATH", path).output_timeout();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn an_mpicc_that_cannot_compile_asks_for_libopenmpi_dev() {
    // What Debian's mpicc says without libopenmpi-dev.
    let broken = "echo 'Cannot open configuration file /usr/share/openmpi/mpicc-wrapper-data.txt' >&2; exit 1";
    let missing = missing_with(&[("mpicc", broken), ("mpirun", "exit 0")]);
    assert!(missing.iter().any(|p| p == "libopenmpi-dev"), "{missing:?}");
    // One that compiles (a stand-in that writes its -o file) is enough.
    let works = r#"while [ $# -gt 0 ]; do [ "$1" = -o ] && : > "$2"; shift; done; exit 0"#;
    let missing = missing_with(&[("mpicc", works), ("mpirun", "exit 0")]);
    assert!(!missing.iter().any(|p| p == "libopenmpi-dev"), "{missing:?}");
}

#[test]
fn build_outputs_of_the_python_package_are_ignored_by_git() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join(".git").exists() {
        eprintln!("SKIPPED: not a git checkout");
        return;
    }
    for path in ["bindings/python/dist/carbon_tracker-0.1.0.tar.gz", "bindings/python/build/lib/x.py", "target/x"] {
        let out = Command::new("git").arg("-C").arg(root).args(["check-ignore", "-q", path]).output_timeout();
        assert!(out.status.success(), "{path} is not ignored by .gitignore");
    }
}

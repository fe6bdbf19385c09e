//! The tools tests need (shared by tests/cluster.rs and tests/fortran.rs): finding a program and
//! skipping without it, and building Fortran programs against bindings/fortran/carbon_tracker.f90
//! and the cdylib of this test run.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the cdylib built for this test run (next to the test binary).
pub fn lib_dir() -> PathBuf {
    std::env::current_exe().unwrap().parent().unwrap().to_path_buf()
}

pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// `name` on PATH, or `None` after saying why the test is skipped; a failure instead when
/// CT_REQUIRE_CLUSTER_TOOLS is set (`.ci/run` installs every tool).
pub fn require(name: &str, package: &str) -> Option<PathBuf> {
    let found = find_program(name);
    if found.is_none() {
        assert!(
            std::env::var_os("CT_REQUIRE_CLUSTER_TOOLS").is_none(),
            "`{name}` is not installed (Debian package {package}) and CT_REQUIRE_CLUSTER_TOOLS is set"
        );
        eprintln!("SKIPPED: `{name}` not found; install the Debian package {package} (.ci/run does) to run this test");
    }
    found
}

/// Compiles the module and `program` (relative to the crate root) with `compiler` (gfortran,
/// mpif90) into `out_dir`, linked to the library; the module is checked as Fortran 2008 with
/// every warning an error.
pub fn build_fortran(compiler: &Path, program: &str, out_dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = lib_dir();
    let stem = Path::new(program).file_stem().unwrap().to_string_lossy().into_owned();
    let mod_dir = out_dir.join(format!("{stem}-mod"));
    std::fs::create_dir_all(&mod_dir).unwrap();
    let object = mod_dir.join("carbon_tracker.o");
    let status = Command::new(compiler)
        .args(["-std=f2008", "-Wall", "-Wextra", "-pedantic", "-Werror", "-c"])
        .arg("-J")
        .arg(&mod_dir)
        .arg(root.join("bindings/fortran/carbon_tracker.f90"))
        .arg("-o")
        .arg(&object)
        .status()
        .expect("running the Fortran compiler");
    assert!(status.success(), "compiling the carbon_tracker module with {} failed", compiler.display());
    let exe = out_dir.join(&stem);
    let status = Command::new(compiler)
        .args(["-Wall", "-Werror", "-I"])
        .arg(&mod_dir)
        .arg(root.join(program))
        .arg(&object)
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lcarbon_tracker")
        .status()
        .expect("running the Fortran compiler");
    assert!(status.success(), "compiling {program} with {} failed", compiler.display());
    exe
}

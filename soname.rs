//! The SONAME of the shared library, shared by the two build scripts that make one:
//! capi/build.rs (the workspace's C libraries) and build.rs when the Python package builds this
//! crate as a cdylib (`cargo rustc --crate-type cdylib`, with CARBON_TRACKER_SONAME=1), so that
//! both libraries of the same name in target/<profile> have the same SONAME.

/// `link_arg`: the build script's directive for the linker argument (`rustc-cdylib-link-arg`).
///
/// ELF targets: the cdylib gets the SONAME `libcarbon_tracker.so.<abi>`, `<abi>` being the major
/// version, `0.<minor>` while the major is 0, `0.0.<patch>` while both are (semver: those are
/// the releases that may break the ABI; cargo-c names them the same way). Linked programs then record that name, and an installed
/// `libcarbon_tracker.so.<abi>` (CMake installs it with the versioned file and the symlinks)
/// satisfies them. The same symlink is made next to the cargo build, so that programs linked
/// against target/<profile> (tests, examples, the CMake build tree, the Go tests) also run.
/// Only `ct_*` symbols are exported: rustc's own version script for a cdylib exports exactly the
/// `#[no_mangle] pub extern` functions (scripts/install-test.sh checks the exported list).
pub fn soname(link_arg: &str) {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if !matches!(os.as_str(), "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly") {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = std::env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    let abi = match (major.as_str(), minor.as_str()) {
        ("0", "0") => format!("0.0.{patch}"),
        ("0", _) => format!("0.{minor}"),
        _ => major,
    };
    let soname = format!("libcarbon_tracker.so.{abi}");
    println!("cargo:{link_arg}=-Wl,-soname,{soname}");
    // OUT_DIR is <target>/[<triple>/]<profile>/build/<package>-<hash>/out.
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let Some(profile_dir) = out_dir.ancestors().nth(3) else { return };
    for dir in [profile_dir.to_path_buf(), profile_dir.join("deps")] {
        let link = dir.join(&soname);
        if std::fs::symlink_metadata(&link).is_ok() || std::fs::create_dir_all(&dir).is_err() {
            continue;
        }
        #[cfg(unix)]
        if let Err(e) = std::os::unix::fs::symlink("libcarbon_tracker.so", &link) {
            println!("cargo:warning=could not link {} to libcarbon_tracker.so: {e}", link.display());
        }
    }
}

//! The host's descriptive facts, read once: the platform string of the `os` column and the host
//! name (Prometheus' `instance`, OpenTelemetry's `host.name`, the node-share files' key), through
//! `sysinfo`.

use once_cell::sync::Lazy;

/// Python's `platform.platform()` on Linux, e.g. `Linux-6.18.44-fc-v657-x86_64-with-glibc2.36`:
/// the kernel's name and release and the machine through `sysinfo` (uname), and the C library's
/// version (no child process). On other systems only the shape is alike (not checked here).
pub static OS: Lazy<String> = Lazy::new(platform);

/// What [`OS`] holds, formed anew at each call.
pub fn platform() -> String {
    use sysinfo::System;
    let Some(release) = System::kernel_version() else {
        return std::env::consts::OS.to_string();
    };
    // "Linux 6.18.44-fc-v657": the kernel's name, then its release.
    let long = System::kernel_long_version();
    let kernel = long.strip_suffix(release.as_str()).map(str::trim_end).filter(|k| !k.is_empty()).unwrap_or(std::env::consts::OS);
    let mut s = format!("{kernel}-{release}-{}", System::cpu_arch());
    if let Some(v) = libc_version() {
        s.push_str(&format!("-with-glibc{v}"));
    }
    s
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn libc_version() -> Option<String> {
    extern "C" {
        fn gnu_get_libc_version() -> *const libc::c_char;
    }
    // SAFETY: glibc returns a static NUL-terminated string.
    let p = unsafe { gnu_get_libc_version() };
    if p.is_null() {
        return None;
    }
    Some(unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn libc_version() -> Option<String> {
    None
}

/// The host name, through `sysinfo` (`gethostname`). sysinfo's buffer has no room for the NUL
/// of a name of the longest length Linux allows (64 bytes) and gives none then, so that case asks
/// `gethostname` again with room to spare: ranks of a job on different nodes must not all be
/// "unknown" (the node-share files are keyed by host).
pub fn name() -> String {
    if let Some(name) = sysinfo::System::host_name() {
        return name;
    }
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    /// `uname` and glibc read by hand: what this module formed before sysinfo.
    fn os_from_uname() -> String {
        // SAFETY: uname fills a zeroed struct of fixed-size, NUL-terminated arrays.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::uname(&mut u) }, 0);
        let field = |f: &[libc::c_char]| {
            let bytes: Vec<u8> = f.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let mut s = format!("{}-{}-{}", field(&u.sysname), field(&u.release), field(&u.machine));
        if let Some(v) = super::libc_version() {
            s.push_str(&format!("-with-glibc{v}"));
        }
        s
    }

    #[test]
    fn os_string_matches_uname_on_this_machine() {
        let os = super::OS.clone();
        assert_eq!(os, os_from_uname());
        assert!(os.starts_with(&format!("{}-", std::env::consts::OS[..1].to_uppercase() + &std::env::consts::OS[1..])), "{os}");
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(os.contains("-with-glibc2."), "{os}");
    }

    /// The string CodeCarbon writes in the `os` column is Python's `platform.platform()`.
    #[test]
    fn os_string_matches_python_platform() {
        let out = match std::process::Command::new("python3").args(["-c", "import platform; print(platform.platform())"]).output() {
            Ok(out) if out.status.success() => out,
            _ => {
                eprintln!("SKIPPED: no python3 to compare with");
                return;
            }
        };
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), super::OS.as_str());
    }

    #[test]
    fn host_name_is_the_kernels() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(super::name(), kernel.trim_end());
    }

    /// A host name of 64 bytes (Linux's longest), where sysinfo gives none: set in a UTS
    /// namespace of one thread of its own (root only), so the rest of the process keeps its name.
    #[test]
    fn host_name_of_the_longest_length() {
        let name = "n".repeat(64);
        let seen = std::thread::spawn(move || {
            // SAFETY: unshare and sethostname on this thread only, with a valid buffer.
            unsafe {
                if libc::unshare(libc::CLONE_NEWUTS) != 0 {
                    return None;
                }
                assert_eq!(libc::sethostname(name.as_ptr().cast(), name.len()), 0);
            }
            assert_eq!(sysinfo::System::host_name(), None, "sysinfo now handles it: the fallback can go");
            Some(super::name())
        })
        .join()
        .unwrap();
        match seen {
            Some(seen) => assert_eq!(seen, "n".repeat(64)),
            None => eprintln!("SKIPPED: no new UTS namespace (needs root)"),
        }
        assert_ne!(super::name(), "n".repeat(64), "the namespace stayed in its thread");
    }
}

//! Machine-wide `/proc` and sysfs files read on every tick (`/proc/stat`, RAPL's `energy_uj`), kept open and re-read from offset 0 with `pread`: one syscall per reading
//! instead of open, read, read (EOF) and close. Not for `/proc/self/...`: a forked child would
//! keep reading its parent's file. Nor for files replaced by a rename: the open one is read.
//!
//! Linux only (`/proc`, sysfs; `pread` is Unix).

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// Reads a small `/proc` or sysfs file once, with one pre-sized buffer: `read_to_string` would
/// stat it (size 0) and grow its buffer from 32 bytes, about ten syscalls per read.
pub fn read_small_file(path: &str) -> Option<String> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(8192);
    File::open(path).ok()?.read_to_end(&mut buf).ok()?;
    String::from_utf8(buf).ok()
}

pub struct KeptOpen {
    path: Cow<'static, str>,
    /// The open file and the buffer its last reading went into.
    state: Mutex<Option<(File, Vec<u8>)>>,
}

impl KeptOpen {
    pub const fn new(path: &'static str) -> KeptOpen {
        KeptOpen { path: Cow::Borrowed(path), state: Mutex::new(None) }
    }

    pub fn owned(path: String) -> KeptOpen {
        KeptOpen { path: Cow::Owned(path), state: Mutex::new(None) }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Reads the whole file now and hands its text to `parse`. A failed read closes the file
    /// (the next call opens it again).
    pub fn read<T>(&self, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.is_none() {
            *state = Some((File::open(&*self.path).ok()?, vec![0; 8192]));
        }
        let (file, buf) = state.as_mut()?;
        let mut len = 0;
        loop {
            match file.read_at(&mut buf[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    // /proc (seq_file) and regular files fill the whole request unless at the
                    // end: a short read is the end, no second call to see 0.
                    if len < buf.len() {
                        break;
                    }
                    let grown = buf.len() * 2;
                    buf.resize(grown, 0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    *state = None;
                    return None;
                }
            }
        }
        parse(std::str::from_utf8(&buf[..len]).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_the_current_content_and_grows_for_big_files() {
        let dir = tempfile::tempdir().unwrap();
        let path: &'static str = Box::leak(dir.path().join("f").to_string_lossy().into_owned().into_boxed_str());
        let kept = KeptOpen::new(path);
        assert_eq!(kept.read(|s| Some(s.to_string())), None, "missing file");
        std::fs::write(path, "first").unwrap();
        assert_eq!(kept.read(|s| Some(s.to_string())).as_deref(), Some("first"));
        // Rewritten in place (same inode, as /proc files are regenerated): the new text is read.
        let big = "x".repeat(20_000);
        std::fs::OpenOptions::new().write(true).open(path).unwrap().write_all_at(big.as_bytes(), 0).unwrap();
        assert_eq!(kept.read(|s| Some(s.len())), Some(20_000));
        assert_eq!(kept.read(|s| Some(s == big)), Some(true));
    }

    #[test]
    fn proc_stat_changes_between_readings() {
        let kept = KeptOpen::new("/proc/stat");
        let a = kept.read(|s| Some(s.to_string())).unwrap();
        assert!(a.starts_with("cpu "), "{a}");
        let busy = std::time::Instant::now() + std::time::Duration::from_millis(50);
        while std::time::Instant::now() < busy {}
        let b = kept.read(|s| Some(s.to_string())).unwrap();
        assert_ne!(a, b, "a second reading must not be a cached copy");
    }
}

//! The files of the node's coordination: a private directory, opened without following links,
//! and `flock`s whose failure is told apart from a lock held by another rank.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a `flock` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Locked {
    Yes,
    /// Another open file holds it (non-blocking request).
    Held,
    /// The file system refuses (ENOLCK, EOPNOTSUPP as on some NFS or Lustre mounts, ...).
    Failed(String),
}

pub(super) fn flock(f: &File, op: libc::c_int) -> Locked {
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return Locked::Yes;
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Locked::Held,
            _ => return Locked::Failed(e.to_string()),
        }
    }
}

/// An exclusive lock on `path` (created if needed), if no live process holds it.
pub(super) fn take_lock(path: &Path) -> Option<File> {
    let f = open_private(path).ok()?;
    (flock(&f, libc::LOCK_EX | libc::LOCK_NB) == Locked::Yes).then_some(f)
}

/// Opens (creating it, mode 0600) a file of the private directory: never through a symbolic
/// link, never truncated.
pub(super) fn open_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path)
}

/// Opens a file that exists, without following a link.
pub(super) fn open_existing(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path)
}

/// `<parent>/carbon-tracker-<uid>`, made with mode 0700 if missing; refused (why) unless it is a
/// directory (not a link) owned by this user that nobody else can enter.
pub(super) fn private_dir(parent: &Path) -> Result<PathBuf, String> {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let dir = parent.join(format!("carbon-tracker-{uid}"));
    if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(format!("cannot make the private coordination directory {} ({e})", dir.display()));
        }
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("cannot read {} ({e})", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!("{} is not a directory (a link or a file someone made): refused for coordination", dir.display()));
    }
    if meta.uid() != uid {
        return Err(format!("{} belongs to user {}, not {uid}: refused for coordination", dir.display(), meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!("{} has mode {:o}, open to others (0700 expected): refused for coordination", dir.display(), meta.mode() & 0o777));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_private_directory_is_made_0700_and_refused_when_open_or_a_link() {
        let d = tempfile::tempdir().unwrap();
        let dir = private_dir(d.path()).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(private_dir(d.path()).unwrap_err().contains("mode 777"));
        std::fs::remove_dir(&dir).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), &dir).unwrap();
        assert!(private_dir(d.path()).unwrap_err().contains("not a directory"));
    }

    #[test]
    fn a_link_planted_for_a_coordination_file_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = d.path().join("carbon-tracker-x.state");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(open_private(&link).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}

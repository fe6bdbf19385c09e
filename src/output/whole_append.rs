//! Appending whole rows or nothing. When the disk fills (or a file-size limit is hit) part way
//! through a write, the kernel keeps the bytes it managed to write: a CSV would be left with
//! half a row, of the wrong width, which pandas and CodeCarbon's reader reject. Here a failed
//! append cuts the file back to the length it had before, so it is exactly as it was; the
//! caller keeps its rows and writes them again later. Every sink that appends rows to a file
//! (the emissions CSV, the region file) goes through [`append_whole`].
//!
//! The caller must be the only writer of the file while it appends (the CSV sinks hold their
//! file lock and the directory's `flock`): otherwise a row another writer appended meanwhile
//! could be cut with ours.

use std::fs::File;
use std::io::Write;

/// Appends `bytes` to `f` (opened for appending) all at once, or leaves `f` as it was and
/// returns the write's error (with the truncation's error added if that failed too).
pub fn append_whole(f: &File, bytes: &[u8]) -> std::io::Result<()> {
    let before = f.metadata()?.len();
    let mut w = f;
    match w.write_all(bytes) {
        Ok(()) => Ok(()),
        Err(e) => match f.set_len(before) {
            Ok(()) => Err(e),
            Err(t) => Err(std::io::Error::new(
                e.kind(),
                format!("{e}; and the part written could not be removed ({t}): the last line may be cut short"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    #[test]
    fn a_good_append_adds_everything() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        std::fs::write(&p, "a\n").unwrap();
        let f = OpenOptions::new().append(true).open(&p).unwrap();
        append_whole(&f, b"b\nc\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\nb\nc\n");
    }

    #[test]
    fn a_failed_append_changes_nothing() {
        // A descriptor that cannot write: the error comes back and the length is unchanged.
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        std::fs::write(&p, "a\n").unwrap();
        let f = File::open(&p).unwrap();
        assert!(append_whole(&f, b"b\n").is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\n");
    }
}

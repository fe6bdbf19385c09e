//! Files rewritten whole at each flush (the task and region files): written to a temporary
//! file beside the target and renamed over it, so a reader sees the old file or the new one,
//! never half of one.

use std::path::Path;

/// Replaces `path` with `bytes`; on failure the temporary file is removed and `path` is left as
/// it was.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

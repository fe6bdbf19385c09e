//! `emissions.csv`, byte-compatible with CodeCarbon's `FileOutput` (docs/outputs.md) minus its bugs:
//! - a missing or empty file gets the header, then the row;
//! - a file whose first line is not exactly our header is renamed to `<name>.bak`
//!   (`<name>_0.bak`, `<name>_1.bak`, … if taken) and a new file is started: appending to another
//!   column order would shift columns (CodeCarbon #1304);
//! - `append` adds one row per call in one `write` on an `O_APPEND` descriptor; every column is
//!   always written (empty fields for missing values, never dropped); a write that fails part
//!   way (a full disk) is cut back, so the file is left exactly as it was ([`append_whole`]);
//! - `update` replaces this run's row (key `run_id`) through a temporary file and a rename, and
//!   refuses to touch a file it cannot parse (`Io` error, file left as it was).
//!
//! Writers of one file coordinate, so the header is written once and `update`'s
//! read-modify-rename never loses another writer's row: trackers of one process through a
//! process-wide lock for that path, processes (the ranks of a job sharing `output_dir`) through
//! an advisory `flock` on the file's directory (the file itself is replaced by `update`'s
//! rename, so it cannot carry the lock), held around the header check and the write.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;

use super::emissions_data::{push_csv_field, EmissionsData, COLUMNS, CSV_HEADER, RUN_ID_COLUMN};
use super::whole_append::append_whole;
use crate::config::CsvWriteMode;
use crate::error::{Error, ErrorKind, Result};
use crate::log::Logger;

pub struct CsvSink {
    pub path: PathBuf,
    pub mode: CsvWriteMode,
    /// Shared by every sink of this process writing the same file.
    file_lock: Arc<Mutex<()>>,
}

static FILE_LOCKS: Lazy<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = Lazy::new(|| Mutex::new(HashMap::new()));

fn file_lock(path: &Path) -> Arc<Mutex<()>> {
    let key = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    FILE_LOCKS.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().clone()
}

/// An exclusive `flock` on a file's directory, released on drop (and by the kernel if the
/// process dies). `None` where the directory cannot be opened or locked (the write goes on; it
/// fails with its own message if the directory is missing).
struct DirLock {
    _held: File,
}

impl DirLock {
    fn take(path: &Path) -> Option<DirLock> {
        use std::os::fd::AsRawFd;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let f = File::open(dir).ok()?;
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Some(DirLock { _held: f });
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return None;
            }
        }
    }
}

impl Drop for DirLock {
    /// Unlocks explicitly: a child forked meanwhile shares the descriptor's lock, and closing
    /// our copy alone would leave the directory locked for as long as the child lives.
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own.
        unsafe { libc::flock(self._held.as_raw_fd(), libc::LOCK_UN) };
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// One CSV line (with `\n`) of fields read back from a file, quoted as they are written.
fn format_line(fields: &[String]) -> String {
    let mut line = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_csv_field(&mut line, f);
    }
    line.push('\n');
    line
}

/// At start: `output_dir` must be a directory. A missing one is created when its parent exists
/// (as a user expects of an output directory), else it is an error of `start`, as are a path
/// that is not a directory and one that cannot be created. The words are the library's, so
/// every binding and the command say the same.
pub fn ensure_output_dir(dir: &Path) -> Result<()> {
    let fail = |why: String| Error::new(ErrorKind::Io, format!("output_dir {}: {why}", dir.display()));
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(fail("not a directory".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(fail(format!(
                    "no such directory, nor its parent {}; create it or choose an existing directory",
                    parent.display()
                )));
            }
            match fs::create_dir(dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
                Err(e) => Err(fail(format!("cannot create it: {e}"))),
            }
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

impl super::sink::Sink for CsvSink {
    fn on_report(&mut self, record: &super::sink::Record<'_>, log: &Logger) -> Result<()> {
        self.write(record.row, log).inspect_err(|e| log.error(format!("{e} (totals kept; the next flush writes them again)")))
    }

    fn holds_the_row(&self) -> bool {
        true
    }
}

impl CsvSink {
    pub fn new(path: PathBuf, mode: CsvWriteMode) -> CsvSink {
        let file_lock = file_lock(&path);
        CsvSink { path, mode, file_lock }
    }

    fn io(&self, what: &str, e: &std::io::Error) -> Error {
        Error::io(&self.path, what, e)
    }

    pub fn write(&self, row: &EmissionsData, log: &Logger) -> Result<()> {
        let line = row.csv_line();
        let _guard = self.file_lock.lock().unwrap_or_else(|p| p.into_inner());
        let _dir_lock = DirLock::take(&self.path);
        match self.mode {
            CsvWriteMode::Append => self.append(&line, log),
            CsvWriteMode::Update => {
                if self.start_new_file_if_needed(&line, log)? {
                    return Ok(());
                }
                self.update(row, &line, log)
            }
        }
    }

    /// At start: creates the file with its header (or moves a file with another header aside),
    /// so that flushes only append. File creation is the slow part of a first write (a new
    /// directory entry): here it is paid by `start`, not by the caller's first flush. A failure
    /// here (an unwritable `output_dir`) is an error of `start`.
    pub fn prepare(&self, log: &Logger) -> Result<()> {
        let _guard = self.file_lock.lock().unwrap_or_else(|p| p.into_inner());
        let _dir_lock = DirLock::take(&self.path);
        let mut f = self.open_for_append()?;
        let len = f.metadata().map_err(|e| self.io("cannot read", &e))?.len();
        if len > 0 {
            if read_first_line(&f).map_err(|e| self.io("cannot read", &e))? == *CSV_HEADER {
                return Ok(());
            }
            drop(f);
            self.move_aside(log)?;
            f = self.open_for_append()?;
        }
        append_whole(&f, format!("{}\n", *CSV_HEADER).as_bytes()).map_err(|e| self.io("cannot write to", &e))
    }

    /// Renames a file with another header to `.bak` (it is someone else's format).
    fn move_aside(&self, log: &Logger) -> Result<()> {
        let bak = backup_path(&self.path);
        fs::rename(&self.path, &bak).map_err(|e| self.io("cannot rename the CSV with another header", &e))?;
        log.warning(format!("{} has another header; renamed it to {} and started a new file", self.path.display(), bak.display()));
        Ok(())
    }

    /// Opens (creating) the file for appending; one descriptor serves every check.
    fn open_for_append(&self) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| self.io("cannot open the emissions CSV for appending", &e))
    }

    /// `append`: header first in a new or empty file; a file with another header is moved
    /// aside; a last line cut short (crash, full disk) gets its line end so it cannot swallow
    /// our row. One open, one fstat, two preads and one write.
    fn append(&self, line: &str, log: &Logger) -> Result<()> {
        let mut f = self.open_for_append()?;
        let mut len = f.metadata().map_err(|e| self.io("cannot read", &e))?.len();
        if len > 0 && read_first_line(&f).map_err(|e| self.io("cannot read", &e))? != *CSV_HEADER {
            drop(f);
            self.move_aside(log)?;
            f = self.open_for_append()?;
            len = 0;
        }
        let text = if len == 0 {
            format!("{}\n{line}", *CSV_HEADER)
        } else {
            let mut last = [0u8; 1];
            f.read_exact_at(&mut last, len - 1).map_err(|e| self.io("cannot read", &e))?;
            if last[0] == b'\n' {
                line.to_string()
            } else {
                log.warning(format!("{}: the last line had no line end (truncated?); starting a new line", self.path.display()));
                format!("\n{line}")
            }
        };
        append_whole(&f, text.as_bytes()).map_err(|e| self.io("cannot write to", &e))
    }

    /// `update` mode: creates the file with header and `line` when it is missing, empty or has
    /// another header. Returns true when `line` was written.
    fn start_new_file_if_needed(&self, line: &str, log: &Logger) -> Result<bool> {
        match File::open(&self.path) {
            Ok(f) => {
                let len = f.metadata().map_err(|e| self.io("cannot read", &e))?.len();
                if len > 0 {
                    if read_first_line(&f).map_err(|e| self.io("cannot read", &e))? == *CSV_HEADER {
                        return Ok(false);
                    }
                    drop(f);
                    self.move_aside(log)?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io("cannot read", &e)),
        }
        let f = self.open_for_append()?;
        // Another writer may have created it meanwhile: only the first adds the header.
        let len = f.metadata().map_err(|e| self.io("cannot read", &e))?.len();
        let text = if len == 0 { format!("{}\n{line}", *CSV_HEADER) } else { line.to_string() };
        append_whole(&f, text.as_bytes()).map_err(|e| self.io("cannot write to", &e))?;
        Ok(true)
    }

    fn update(&self, row: &EmissionsData, line: &str, log: &Logger) -> Result<()> {
        let bytes = fs::read(&self.path).map_err(|e| self.io("cannot read", &e))?;
        let corrupt = |why: String| {
            Error::new(
                ErrorKind::Io,
                format!("{}: corrupt emissions CSV ({why}); not modified", self.path.display()),
            )
        };
        let text = String::from_utf8(bytes).map_err(|_| corrupt("not valid UTF-8".into()))?;
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
        let mut records = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| corrupt(e.to_string()))?;
            if rec.len() != COLUMNS.len() {
                return Err(corrupt(format!("a row has {} fields instead of {}", rec.len(), COLUMNS.len())));
            }
            records.push(rec.iter().map(str::to_string).collect::<Vec<String>>());
        }
        let matching: Vec<usize> =
            records.iter().enumerate().filter(|(_, r)| r[*RUN_ID_COLUMN] == row.run.run_id).map(|(i, _)| i).collect();
        let mut out = format!("{}\n", *CSV_HEADER);
        if matching.len() > 1 {
            log.warning(format!(
                "{}: {} rows have run_id {}; appending instead of updating",
                self.path.display(),
                matching.len(),
                row.run.run_id
            ));
        }
        for (i, r) in records.iter().enumerate() {
            if matching.len() == 1 && matching[0] == i {
                out.push_str(line);
            } else {
                out.push_str(&format_line(r));
            }
        }
        if matching.len() != 1 {
            out.push_str(line);
        }
        let tmp = self.path.with_file_name(format!(
            ".{}.tmp-{}-{}",
            self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let res = fs::write(&tmp, out.as_bytes()).and_then(|_| fs::rename(&tmp, &self.path));
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(self.io("cannot rewrite", &e));
        }
        Ok(())
    }
}

/// The first line of `f` (without its line end), read up to the header's length.
fn read_first_line(f: &File) -> std::io::Result<String> {
    let mut buf = vec![0u8; CSV_HEADER.len() + 2];
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    let head = &buf[..n];
    let end = head.iter().position(|b| *b == b'\n').unwrap_or(n);
    let first = &head[..end];
    Ok(String::from_utf8_lossy(first.strip_suffix(b"\r").unwrap_or(first)).into_owned())
}

/// `emissions.csv.bak`, or `emissions.csv_0.bak`, `emissions.csv_1.bak`, … (CodeCarbon's `backup`).
fn backup_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut candidate = path.with_file_name(format!("{name}.bak"));
    let mut i = 0;
    while candidate.exists() {
        candidate = path.with_file_name(format!("{name}_{i}.bak"));
        i += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Level;
    use crate::record::run::RunInfo;
    use crate::record::EmissionsSnapshot;

    fn quiet() -> Logger {
        Logger { threshold: Level::Critical, preamble: String::new() }
    }

    pub fn sample(run_id: &str, duration_s: f64) -> EmissionsData {
        let run = RunInfo {
            project_name: "codecarbon".into(),
            run_id: run_id.into(),
            experiment_id: "5b0fa12a-3dd7-45bb-9766-cc326314d9f1".into(),
            location: crate::record::location::Location { country_name: Some("France".into()), country_iso_code: Some("FRA".into()), ..Default::default() },
            os: "Linux-6.18.44-fc-v657-x86_64-with-glibc2.36".into(),
            python_version: Some("3.11.7".into()),
            version: "3.3.2".into(),
            cpu_count: 2,
            cpu_model: "AMD EPYC".into(),
            ram_total_size_gib: 23.540584564208984,
            tracking_mode: "machine".into(),
            pue: 1.0,
            ..Default::default()
        };
        let numbers = EmissionsSnapshot {
            duration_s,
            emissions_kg: 9.92104039994053e-07,
            emissions_rate_kg_per_s: 3.301055162209909e-07,
            cpu_power_w: 1.484752137342498,
            ram_power_w: 20.0,
            cpu_energy_kwh: 1.4130529959951885e-06,
            ram_energy_kwh: 1.6290761133344253e-05,
            energy_consumed_kwh: 1.770381412933944e-05,
            cpu_utilization_percent: 25.0,
            ram_utilization_percent: 1.7,
            ram_used_gb: 0.3892021179199219,
            ..Default::default()
        };
        EmissionsData { timestamp: "2026-11-24T17:13:03".into(), run: Arc::new(run), numbers }
    }

    const BASELINE_ROW: &str = "2026-11-24T17:13:03,codecarbon,7eb46be8-03a3-4615-a370-7c5a8b252c46,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,3.005414909001047,9.92104039994053e-07,3.301055162209909e-07,1.484752137342498,0.0,20.0,1.4130529959951885e-06,0.0,1.6290761133344253e-05,1.770381412933944e-05,0.0,France,FRA,,,,Linux-6.18.44-fc-v657-x86_64-with-glibc2.36,3.11.7,3.3.2,2,AMD EPYC,0,,,,23.540584564208984,machine,25.0,0,1.7,0.3892021179199219,N,1.0,0.0\n";

    #[test]
    fn baseline_row_byte_for_byte() {
        let row = sample("7eb46be8-03a3-4615-a370-7c5a8b252c46", 3.005414909001047);
        assert_eq!(row.csv_line(), BASELINE_ROW);
    }

    #[test]
    fn new_file_then_append_then_read_back() {
        let d = tempfile::tempdir().unwrap();
        let sink = CsvSink::new(d.path().join("emissions.csv"), CsvWriteMode::Append);
        sink.write(&sample("r1", 1.0), &quiet()).unwrap();
        let mut row2 = sample("r1", 2.0);
        let run = Arc::make_mut(&mut row2.run);
        run.project_name = "with, comma \"and quote\"".into();
        run.location.region = Some("quebec".into());
        sink.write(&row2, &quiet()).unwrap();
        let text = fs::read_to_string(&sink.path).unwrap();
        assert!(text.starts_with(&format!("{}\n", *CSV_HEADER)));
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let recs: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert!(recs.iter().all(|r| r.len() == COLUMNS.len())); // no shifted columns (#1304)
        assert_eq!(&recs[1][1], "with, comma \"and quote\"");
        assert_eq!(&recs[1][17], "quebec");
        assert_eq!(&recs[0][17], "");
        assert_eq!(&recs[1][4], "2.0");
    }

    #[test]
    fn empty_file_counts_as_new() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("emissions.csv");
        fs::write(&p, "").unwrap();
        CsvSink::new(p.clone(), CsvWriteMode::Append).write(&sample("r", 1.0), &quiet()).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap().lines().count(), 2);
    }

    #[test]
    fn other_header_is_backed_up() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("emissions.csv");
        fs::write(&p, "a,b\n1,2\n").unwrap();
        fs::write(d.path().join("emissions.csv.bak"), "older").unwrap();
        CsvSink::new(p.clone(), CsvWriteMode::Append).write(&sample("r", 1.0), &quiet()).unwrap();
        assert_eq!(fs::read_to_string(d.path().join("emissions.csv_0.bak")).unwrap(), "a,b\n1,2\n");
        assert_eq!(fs::read_to_string(d.path().join("emissions.csv.bak")).unwrap(), "older");
        assert!(fs::read_to_string(&p).unwrap().starts_with(CSV_HEADER.as_str()));
    }

    #[test]
    fn truncated_last_line_does_not_swallow_the_row() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("emissions.csv");
        fs::write(&p, format!("{}\n2026-11-24T17:13:03,codecar", *CSV_HEADER)).unwrap();
        CsvSink::new(p.clone(), CsvWriteMode::Append).write(&sample("r", 1.0), &quiet()).unwrap();
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.ends_with(&sample("r", 1.0).csv_line()));
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn update_replaces_own_row_only() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("emissions.csv");
        let append = CsvSink::new(p.clone(), CsvWriteMode::Append);
        append.write(&sample("other", 5.0), &quiet()).unwrap();
        let update = CsvSink::new(p.clone(), CsvWriteMode::Update);
        update.write(&sample("mine", 1.0), &quiet()).unwrap(); // 0 rows: appended
        update.write(&sample("mine", 2.0), &quiet()).unwrap(); // 1 row: replaced
        let text = fs::read_to_string(&p).unwrap();
        let recs: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!((&recs[0][2], &recs[0][4]), ("other", "5.0"));
        assert_eq!((&recs[1][2], &recs[1][4]), ("mine", "2.0"));
        assert!(!d.path().read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("tmp")));
    }

    #[test]
    fn update_refuses_a_corrupt_file_and_leaves_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("emissions.csv");
        let corrupt = format!("{}\nonly,three,fields\n", *CSV_HEADER);
        fs::write(&p, &corrupt).unwrap();
        let e = CsvSink::new(p.clone(), CsvWriteMode::Update).write(&sample("r", 1.0), &quiet()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Io);
        assert!(e.message.contains("corrupt") && e.message.contains("emissions.csv"), "{}", e.message);
        assert_eq!(fs::read_to_string(&p).unwrap(), corrupt);
        let mut bad_utf8 = format!("{}\n", *CSV_HEADER).into_bytes();
        bad_utf8.extend_from_slice(&[0xff, 0xfe, b'\n']);
        fs::write(&p, &bad_utf8).unwrap();
        let e = CsvSink::new(p.clone(), CsvWriteMode::Update).write(&sample("r", 1.0), &quiet()).unwrap_err();
        assert!(e.message.contains("UTF-8"), "{}", e.message);
    }

    /// Several trackers (own sinks, own threads) on one file: one header, no lost or torn rows.
    fn concurrent_writers(mode: CsvWriteMode, rows: usize) -> String {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("emissions.csv");
        let start = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let p = p.clone();
                let start = start.clone();
                std::thread::spawn(move || {
                    let sink = CsvSink::new(p, mode);
                    start.wait(); // first writes collide on the file's creation
                    for k in 0..rows {
                        sink.write(&sample(&format!("run-{i}"), k as f64), &quiet()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        fs::read_to_string(&p).unwrap()
    }

    #[test]
    fn concurrent_appends_write_one_header_and_every_row() {
        for _ in 0..20 {
            let text = concurrent_writers(CsvWriteMode::Append, 5);
            assert_eq!(text.matches("timestamp,project_name").count(), 1);
            let recs: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect();
            assert_eq!(recs.len(), 8 * 5);
        }
    }

    #[test]
    fn concurrent_updates_keep_one_row_per_run() {
        let text = concurrent_writers(CsvWriteMode::Update, 50);
        let recs: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 8, "{text}");
        assert!(recs.iter().all(|r| &r[4] == "49.0"), "each run's last row wins");
    }

    #[test]
    fn unwritable_directory_is_an_io_error_naming_the_path() {
        let e = CsvSink::new("/nonexistent-dir/emissions.csv".into(), CsvWriteMode::Append)
            .write(&sample("r", 1.0), &quiet())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Io);
        assert!(e.message.contains("/nonexistent-dir/emissions.csv"), "{}", e.message);
    }
}

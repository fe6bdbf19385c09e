//! Reading emissions.csv files written by this library or by CodeCarbon (same header; columns
//! are found by name, so files of other CodeCarbon versions with extra or moved columns work).
//! Rows are cumulative totals since a run's start: a run with `append` mode and flushes has
//! several rows, the last one (longest duration) being its total.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

/// One row of a run, as needed by the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line in its file.
    pub line: u64,
    pub timestamp: Option<NaiveDateTime>,
    pub project: String,
    pub run_id: String,
    pub duration_s: f64,
    pub emissions_kg: f64,
    pub energy_kwh: f64,
    pub tracker_version: String,
    pub tracking_mode: String,
}

/// A problem with one file or one line; the other lines and files are still read.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

const REQUIRED: [&str; 6] = ["timestamp", "project_name", "run_id", "duration", "emissions", "energy_consumed"];

/// A first line with the columns the report needs (CodeCarbon's header, of any version), but not
/// a task file's (`task_name` first, with its run's `run_id`).
pub fn looks_like_emissions_header(line: &str) -> bool {
    let cols: Vec<&str> = line.split(',').map(str::trim).collect();
    cols.first() != Some(&"task_name") && REQUIRED.iter().all(|r| cols.contains(r))
}

/// The rows of `path` and the problems found (a file that cannot be used at all gives no rows
/// and one problem).
pub fn read(path: &Path) -> (Vec<Row>, Vec<Problem>) {
    let problem = |line: Option<u64>, message: String| Problem { file: path.to_path_buf(), line, message };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return (vec![], vec![problem(None, format!("cannot read: {e}"))]),
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return (vec![], vec![problem(None, "empty file (no header)".into())]);
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes.as_slice());
    let columns = match reader.headers() {
        Ok(h) => Columns::find(h),
        Err(e) => Err(format!("unreadable header: {}", csv_reason(&e))),
    };
    let columns = match columns {
        Ok(c) => c,
        Err(m) => return (vec![], vec![problem(Some(1), m)]),
    };
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line());
                problems.push(problem(line, csv_reason(&e)));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        match columns.row(&record, line) {
            Ok(r) => rows.push(r),
            Err(m) => problems.push(problem(Some(line), m)),
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(problem(None, "no rows after the header".into()));
    }
    (rows, problems)
}

/// Where the report's columns are in a file's header.
struct Columns {
    width: usize,
    /// The `REQUIRED` columns, in that order.
    required: Vec<usize>,
    version: Option<usize>,
    mode: Option<usize>,
}

impl Columns {
    /// The columns of `header`, or the problem with it (the required columns it lacks).
    fn find(header: &csv::StringRecord) -> Result<Columns, String> {
        // A UTF-8 byte order mark (spreadsheet exports) is not part of the first column's name.
        let col = |name: &str| header.iter().position(|h| h.trim_start_matches('\u{feff}').trim() == name);
        let missing: Vec<String> =
            REQUIRED.iter().copied().filter(|n| col(n).is_none()).map(|m| format!("`{m}`")).collect();
        if !missing.is_empty() {
            return Err(format!("not an emissions.csv header: no {} column", missing.join(", ")));
        }
        Ok(Columns {
            width: header.len(),
            required: REQUIRED.iter().map(|n| col(n).unwrap()).collect(),
            version: col("codecarbon_version"),
            mode: col("tracking_mode"),
        })
    }

    /// One record as a row, or what is wrong with it.
    fn row(&self, record: &csv::StringRecord, line: u64) -> Result<Row, String> {
        if record.len() != self.width {
            return Err(format!("{} fields where the header has {}", record.len(), self.width));
        }
        let field = |i: usize| record.get(self.required[i]).unwrap_or("").trim();
        let number = |i: usize| -> Result<f64, String> {
            let v = field(i);
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("column `{}`: `{v}` is not a non-negative number", REQUIRED[i]))
        };
        let ts = field(0);
        let timestamp = if ts.is_empty() {
            None
        } else {
            Some(parse_timestamp(ts).ok_or_else(|| format!("column `timestamp`: `{ts}` is not a date and time"))?)
        };
        if field(2).is_empty() {
            return Err("column `run_id` is empty".into());
        }
        let optional = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim().to_string();
        Ok(Row {
            line,
            timestamp,
            project: field(1).to_string(),
            run_id: field(2).to_string(),
            duration_s: number(3)?,
            emissions_kg: number(4)?,
            energy_kwh: number(5)?,
            tracker_version: optional(self.version),
            tracking_mode: optional(self.mode),
        })
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
        csv::ErrorKind::Io(e) => e.to_string(),
        _ => e.to_string(),
    }
}

/// `2026-11-25T11:43:25` (CodeCarbon and this library), with optional fraction, space or zone.
pub fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.naive_local())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "timestamp,project_name,run_id,experiment_id,duration,emissions,energy_consumed";

    fn read_text(text: &str) -> (Vec<Row>, Vec<Problem>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.csv");
        std::fs::write(&p, text).unwrap();
        read(&p)
    }

    #[test]
    fn good_and_bad_lines() {
        let text = format!(
            "{HEADER}\n2026-01-02T03:04:05,p,r1,e,1.5,2e-7,3e-6\n2026-01-02T03:04:06,p,r1,e,oops,2e-7,3e-6\n2026-01-02T03:04:07,p,r2,e,1\n2026-01-02T03:04:08,\"p, q\",r3,e,2.0,1e-7,1e-6\n"
        );
        let (rows, problems) = read_text(&text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].project, "p, q");
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].line, Some(3));
        assert!(problems[0].message.contains("`duration`") && problems[0].message.contains("oops"), "{}", problems[0]);
        assert_eq!(problems[1].line, Some(4));
        assert!(problems[1].message.contains("5 fields"), "{}", problems[1]);
    }

    #[test]
    fn byte_order_mark_and_crlf() {
        let (rows, problems) = read_text(&format!("\u{feff}{HEADER}\r\n2026-01-02T03:04:05,p,r1,e,1.5,2e-7,3e-6\r\n"));
        assert_eq!((rows.len(), problems.len()), (1, 0), "{problems:?}");
    }

    #[test]
    fn not_an_emissions_file() {
        let (rows, problems) = read_text("a,b\n1,2\n");
        assert!(rows.is_empty());
        assert_eq!(problems[0].line, Some(1));
        assert!(problems[0].message.contains("`timestamp`"), "{}", problems[0]);
        let (_, problems) = read_text("");
        assert!(problems[0].message.contains("empty"));
        let (_, problems) = read(Path::new("/nonexistent/emissions.csv"));
        assert!(problems[0].to_string().starts_with("/nonexistent/emissions.csv: cannot read"));
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2026-11-25T11:43:25").is_some());
        assert!(parse_timestamp("2026-11-25 11:43:25.123").is_some());
        assert!(parse_timestamp("2026-11-25T11:43:25+01:00").is_some());
        assert!(parse_timestamp("yesterday").is_none());
    }
}

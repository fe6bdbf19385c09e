//! Logging to stderr in CodeCarbon's line format: `[carbon_tracker LEVEL @ HH:MM:SS] message`.
//! The threshold is per tracker (its `log_level` option); default `warning`, so a healthy run
//! prints nothing (CodeCarbon's per-tick INFO lines are a known annoyance, its issues #298/#369).

use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warning" | "warn" => Some(Level::Warning),
            "error" => Some(Level::Error),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

/// Where a tracker's log lines go and which ones it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Logger {
    pub threshold: Level,
    /// Inserted as `[preamble]` after the bracket, like CodeCarbon's `logger_preamble`.
    pub preamble: String,
}

impl Default for Logger {
    fn default() -> Self {
        Logger { threshold: Level::Warning, preamble: String::new() }
    }
}

impl Logger {
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.threshold
    }

    pub fn log(&self, level: Level, message: impl AsRef<str>) {
        if !self.enabled(level) {
            return;
        }
        let line = format_line(level, &self.preamble, message.as_ref(), &crate::clock::LocalTime::now().hms());
        // One write call per line so lines from several threads do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    pub fn debug(&self, m: impl AsRef<str>) {
        self.log(Level::Debug, m)
    }
    pub fn info(&self, m: impl AsRef<str>) {
        self.log(Level::Info, m)
    }
    pub fn warning(&self, m: impl AsRef<str>) {
        self.log(Level::Warning, m)
    }
    pub fn error(&self, m: impl AsRef<str>) {
        self.log(Level::Error, m)
    }
}

fn format_line(level: Level, preamble: &str, message: &str, clock: &str) -> String {
    let pre = if preamble.is_empty() { String::new() } else { format!("[{preamble}]") };
    format!("[carbon_tracker {} @ {}]{} {}\n", level.name(), clock, pre, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format_matches_codecarbon_shape() {
        assert_eq!(format_line(Level::Warning, "", "hi", "17:16:05"), "[carbon_tracker WARNING @ 17:16:05] hi\n");
        assert_eq!(format_line(Level::Info, "job1", "x", "01:02:03"), "[carbon_tracker INFO @ 01:02:03][job1] x\n");
    }

    #[test]
    fn threshold_filters() {
        let l = Logger { threshold: Level::Error, preamble: String::new() };
        assert!(!l.enabled(Level::Warning));
        assert!(l.enabled(Level::Error));
        assert_eq!(Level::parse("WARNING"), Some(Level::Warning));
        assert_eq!(Level::parse("verbose"), None);
    }
}

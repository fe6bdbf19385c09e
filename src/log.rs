//! Logging to stderr in CodeCarbon's line format: `[carbon_tracker LEVEL @ HH:MM:SS] message`.
//! The threshold is per tracker (its `log_level` option); default `warning`, so a healthy run
//! prints nothing (CodeCarbon's per-tick INFO lines are a known annoyance, its issues #298/#369).

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A log line's level (Python's `logging` levels, which CodeCarbon uses), lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Each measurement (10).
    Debug,
    /// What the tracker found and decided (20).
    Info,
    /// Something the user should know (30): the default `log_level`.
    Warning,
    /// An output failed (40).
    Error,
    /// The most severe (50). As a `log_level`: nothing below it (the library makes no critical
    /// lines), i.e. silence.
    Critical,
}

/// The name used inside the crate.
pub type Level = LogLevel;

impl LogLevel {
    /// A level name in any case, or Python's `logging` numbers (10, 20, 30, 40, 50).
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" | "10" => Some(Level::Debug),
            "info" | "20" => Some(Level::Info),
            "warning" | "warn" | "30" => Some(Level::Warning),
            "error" | "40" => Some(Level::Error),
            "critical" | "50" => Some(Level::Critical),
            _ => None,
        }
    }

    /// Python's `logging` number of the level (also the C ABI's `ct_log_level` values).
    pub fn number(self) -> u32 {
        match self {
            Level::Debug => 10,
            Level::Info => 20,
            Level::Warning => 30,
            Level::Error => 40,
            Level::Critical => 50,
        }
    }
    /// The level's name, upper case (`WARNING`).
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
        if let Some(cb) = callback() {
            let text = if self.preamble.is_empty() { message.as_ref().to_string() } else { format!("[{}] {}", self.preamble, message.as_ref()) };
            // Inside the library: held until it leaves; outside: handed over now.
            let now = PENDING.with(|p| {
                let mut p = p.borrow_mut();
                if p.depth > 0 {
                    p.lines.push((level, text));
                    None
                } else {
                    Some(text)
                }
            });
            if let Some(text) = now {
                deliver(&cb, level, &text);
            }
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

/// A function that receives every log line instead of standard error ([`set_logger`]): the
/// level and the message (with the tracker's `logger_preamble`, without CodeCarbon's line
/// prefix). It may run on any thread, the library's included.
pub type LogCallback = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

type Callback = LogCallback;

static CALLBACK: Mutex<Option<Callback>> = Mutex::new(None);

/// Routes every tracker's log lines to `callback` (`None`: back to standard error, where they
/// go by default as `[carbon_tracker LEVEL @ HH:MM:SS] message`). Each tracker's `log_level`
/// still decides which lines are made. The callback is called once the library holds no lock,
/// so it may call the library (and `set_logger`).
///
/// ```
/// use std::sync::Arc;
/// carbon_tracker::set_logger(Some(Arc::new(|level, line: &str| eprintln!("carbon-tracker {level:?}: {line}"))));
/// carbon_tracker::set_logger(None);
/// ```
pub fn set_logger(callback: Option<LogCallback>) {
    *CALLBACK.lock().unwrap_or_else(|p| p.into_inner()) = callback;
}

/// A copy of the current callback: it is called with no lock held, so it may set another.
fn callback() -> Option<Callback> {
    CALLBACK.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn deliver(cb: &Callback, level: Level, text: &str) {
    cb(level, text)
}

/// Lines logged while this thread is inside the library (an entry point, a background tick):
/// they reach the callback when it leaves, with no library lock held, so a callback may call
/// back into the library.
#[derive(Default)]
struct Pending {
    depth: u32,
    lines: Vec<(Level, String)>,
}

thread_local! {
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

/// Held while this thread runs library code; see [`Pending`].
pub struct Deferred(());

pub fn defer() -> Deferred {
    let _ = PENDING.try_with(|p| p.borrow_mut().depth += 1);
    Deferred(())
}

/// Lines a thread leaving the library hands over, with the callback to give them to (read
/// while still inside, so that the callback's lock is only ever taken inside the fork gate).
#[must_use = "held lines are lost unless delivered"]
pub struct Held {
    lines: Vec<(Level, String)>,
    callback: Option<Callback>,
}

impl Deferred {
    /// Leaves the library: the lines held since [`defer`] when this is the outermost level.
    /// Deliver them once no lock is held.
    pub fn finish(self) -> Held {
        std::mem::forget(self);
        let lines = PENDING
            .try_with(|p| {
                let mut p = p.borrow_mut();
                p.depth -= 1;
                if p.depth == 0 {
                    std::mem::take(&mut p.lines)
                } else {
                    Vec::new()
                }
            })
            .unwrap_or_default();
        let callback = if lines.is_empty() { None } else { callback() };
        Held { lines, callback }
    }
}

impl Held {
    #[cfg_attr(not(feature = "capi"), allow(dead_code))] // for the C ABI's guard
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Hands the lines to the callback (to standard error if it was unset meanwhile: nothing
    /// is lost).
    pub fn deliver(self) {
        match &self.callback {
            Some(cb) => self.lines.iter().for_each(|(level, text)| deliver(cb, *level, text)),
            None => self.lines.iter().for_each(|(level, text)| {
                let line = format_line(*level, "", text, &crate::clock::LocalTime::now().hms());
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }),
        }
    }
}

impl Drop for Deferred {
    /// Leaving by unwinding: the lines are delivered all the same.
    fn drop(&mut self) {
        Deferred(()).finish().deliver();
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

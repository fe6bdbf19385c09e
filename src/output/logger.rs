//! The `logger` output (CodeCarbon's `LoggerOutput`): each total, all CSV columns, as one JSON
//! line through the library's log at info level. Turning the output on is asking for these
//! lines, so they are written even when `log_level` is above info.

use super::emissions_data::EmissionsData;
use super::sink::{Record, Sink};
use crate::config::Config;
use crate::log::{Level, Logger};

/// The log as a sink (`save_to_logger`).
pub struct LogSink;

impl LogSink {
    pub fn open(c: &Config) -> Option<Box<dyn Sink>> {
        c.save_to_logger.then(|| Box::new(LogSink) as Box<dyn Sink>)
    }
}

impl Sink for LogSink {
    fn on_report(&mut self, record: &Record<'_>, log: &Logger) -> crate::error::Result<()> {
        log_total(record.row, log);
        Ok(())
    }
}

pub fn log_total(row: &EmissionsData, log: &Logger) {
    let out = Logger { threshold: log.threshold.min(Level::Info), ..log.clone() };
    out.info(row.to_json().to_string());
}

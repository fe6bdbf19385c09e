//! The `logger` output (CodeCarbon's `LoggerOutput`): each total, all CSV columns, as one JSON
//! line through the library's log at info level. Turning the output on is asking for these
//! lines, so they are written even when `log_level` is above info.

use super::emissions_data::EmissionsData;
use crate::log::{Level, Logger};

pub fn log_total(row: &EmissionsData, log: &Logger) {
    let out = Logger { threshold: log.threshold.min(Level::Info), ..log.clone() };
    out.info(row.to_json().to_string());
}

//! Reading the files trackers write, for programs that read them (`carbon-tracker report`):
//! what the public `carbon_tracker::files` module is.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::record::identity::Identity;
use crate::record::region::RegionTotals;

/// The header line of an emissions CSV as this version writes it (CodeCarbon 3.3's columns),
/// without the line break.
pub fn emissions_csv_header() -> &'static str {
    super::CSV_HEADER.as_str()
}

/// The header line of a region file (`regions_<experiment_name>_<run_id>.csv`), without the
/// line break: a timestamp, the run's identity (project, experiment, run, job, rank, local
/// rank, node), then [`RegionTotals`]' fields.
pub fn region_file_header() -> &'static str {
    super::region_file::HEADER.as_str()
}

/// The identity in a run file (`run_<experiment_name>_<run_id>.json`, written by a rank of a
/// job at its first report). An [`ErrorKind::Io`] error says why it cannot be read or is not a
/// run file (the message does not repeat the path).
pub fn read_run_file(path: &Path) -> Result<Identity> {
    super::run_file::read(path).map_err(|why| Error::new(ErrorKind::Io, why))
}

/// A region's totals as the JSON object of `ct_tracker_json`'s `"regions"` (and of
/// `Tracker::describe`): its fields by name, in the region file's order.
pub fn region_json(region: &RegionTotals) -> Value {
    super::region_file::to_json(region)
}

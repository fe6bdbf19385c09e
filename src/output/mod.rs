//! Output sinks, one file each. This version writes `emissions.csv`.

pub mod csv_file;
pub mod emissions_data;
pub mod py_format;

pub use emissions_data::{EmissionsData, CSV_HEADER};

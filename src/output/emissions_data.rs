//! One row of `emissions.csv`: CodeCarbon's `EmissionsData`, 38 columns in its order (docs/outputs.md).
//! [`COLUMNS`] is the one declaration of the row: the header, the CSV fields and the JSON of
//! `emissions_endpoint` are all read from it.

use std::fmt::Write;
use std::sync::Arc;

use once_cell::sync::Lazy;
use serde_json::Value;

use super::py_format;
use crate::record::run::RunInfo;
use crate::record::EmissionsSnapshot;

/// Cumulative totals since start, with the run's description.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmissionsData {
    /// CodeCarbon's timestamp: local time, no zone, `%Y-%m-%dT%H:%M:%S`.
    pub timestamp: String,
    pub run: Arc<RunInfo>,
    pub numbers: EmissionsSnapshot,
}

/// One field of a row, before it is written as CSV or JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Text(&'a str),
    /// Empty in the CSV, null in JSON.
    Missing,
    Float(f64),
    Count(usize),
    /// `Y` / `N`.
    Flag(bool),
}

impl Cell<'_> {
    fn text(s: &Option<String>) -> Cell<'_> {
        s.as_deref().map_or(Cell::Missing, Cell::Text)
    }
    fn float(x: Option<f64>) -> Cell<'static> {
        x.map_or(Cell::Missing, Cell::Float)
    }

    /// The CSV field, formatted as CodeCarbon (pandas) formats it, appended to `out`.
    pub fn write_csv(self, out: &mut String) {
        match self {
            Cell::Text(s) => out.push_str(s),
            Cell::Missing => {}
            Cell::Float(x) => py_format::push_float(out, x),
            Cell::Count(n) => {
                let _ = write!(out, "{n}");
            }
            Cell::Flag(b) => out.push(if b { 'Y' } else { 'N' }),
        }
    }

    pub fn to_json(self) -> Value {
        match self {
            Cell::Text(s) => Value::from(s),
            Cell::Missing => Value::Null,
            Cell::Float(x) => Value::from(x),
            Cell::Count(n) => Value::from(n),
            Cell::Flag(b) => Value::from(if b { "Y" } else { "N" }),
        }
    }
}

pub type Column = (&'static str, fn(&EmissionsData) -> Cell<'_>);

/// The columns, in CodeCarbon 3.3's order, with where each value comes from.
pub const COLUMNS: [Column; 38] = [
    ("timestamp", |r| Cell::Text(&r.timestamp)),
    ("project_name", |r| Cell::Text(&r.run.project_name)),
    ("run_id", |r| Cell::Text(&r.run.run_id)),
    ("experiment_id", |r| Cell::Text(&r.run.experiment_id)),
    ("duration", |r| Cell::Float(r.numbers.duration_s)),
    ("emissions", |r| Cell::Float(r.numbers.emissions_kg)),
    ("emissions_rate", |r| Cell::Float(r.numbers.emissions_rate_kg_per_s)),
    ("cpu_power", |r| Cell::Float(r.numbers.cpu_power_w)),
    ("gpu_power", |r| Cell::Float(r.numbers.gpu_power_w)),
    ("ram_power", |r| Cell::Float(r.numbers.ram_power_w)),
    ("cpu_energy", |r| Cell::Float(r.numbers.cpu_energy_kwh)),
    ("gpu_energy", |r| Cell::Float(r.numbers.gpu_energy_kwh)),
    ("ram_energy", |r| Cell::Float(r.numbers.ram_energy_kwh)),
    ("energy_consumed", |r| Cell::Float(r.numbers.energy_consumed_kwh)),
    ("water_consumed", |r| Cell::Float(r.numbers.water_consumed_l)),
    ("country_name", |r| Cell::text(&r.run.location.country_name)),
    ("country_iso_code", |r| Cell::text(&r.run.location.country_iso_code)),
    ("region", |r| Cell::text(&r.run.location.region)),
    // CodeCarbon writes "" (not NaN) for these two.
    ("cloud_provider", |r| Cell::Text(r.run.location.cloud_provider.as_deref().unwrap_or(""))),
    ("cloud_region", |r| Cell::Text(r.run.location.cloud_region.as_deref().unwrap_or(""))),
    ("os", |r| Cell::Text(&r.run.os)),
    ("python_version", |r| Cell::text(&r.run.python_version)),
    ("codecarbon_version", |r| Cell::Text(&r.run.version)),
    ("cpu_count", |r| Cell::Count(r.run.cpu_count)),
    ("cpu_model", |r| Cell::Text(&r.run.cpu_model)),
    ("gpu_count", |r| Cell::Count(r.run.gpu_count)),
    ("gpu_model", |r| Cell::Text(&r.run.gpu_model)),
    ("longitude", |r| Cell::float(r.run.location.longitude)),
    ("latitude", |r| Cell::float(r.run.location.latitude)),
    ("ram_total_size", |r| Cell::Float(r.run.ram_total_size_gib)),
    ("tracking_mode", |r| Cell::Text(&r.run.tracking_mode)),
    ("cpu_utilization_percent", |r| Cell::Float(r.numbers.cpu_utilization_percent)),
    // Without GPUs CodeCarbon writes the integer 0.
    ("gpu_utilization_percent", |r| match r.run.gpu_count {
        0 => Cell::Count(0),
        _ => Cell::Float(r.numbers.gpu_utilization_percent),
    }),
    ("ram_utilization_percent", |r| Cell::Float(r.numbers.ram_utilization_percent)),
    ("ram_used_gb", |r| Cell::Float(r.numbers.ram_used_gb)),
    ("on_cloud", |r| Cell::Flag(r.run.on_cloud())),
    ("pue", |r| match r.run.pue_is_integer {
        true => Cell::Count(r.run.pue as usize),
        false => Cell::Float(r.run.pue),
    }),
    ("wue", |r| Cell::Float(r.run.wue_l_per_kwh)),
];

/// The header line (no line end).
pub static CSV_HEADER: Lazy<String> = Lazy::new(|| COLUMNS.map(|(name, _)| name).join(","));

/// Position of `run_id`, the key of `update` mode.
pub static RUN_ID_COLUMN: Lazy<usize> =
    Lazy::new(|| COLUMNS.iter().position(|(name, _)| *name == "run_id").expect("a run_id column"));

impl EmissionsData {
    /// The CSV line with its `\n`, quoted where needed like pandas' `QUOTE_MINIMAL`.
    pub fn csv_line(&self) -> String {
        let mut line = String::with_capacity(640);
        self.push_csv_fields(&mut line, COLUMNS.iter());
        line.push('\n');
        line
    }

    /// The fields of `columns`, comma-separated, appended to `line` (no line end).
    pub fn push_csv_fields<'c>(&self, line: &mut String, columns: impl Iterator<Item = &'c Column>) {
        let mut field = String::with_capacity(64);
        for (i, (_, value)) in columns.enumerate() {
            if i > 0 {
                line.push(',');
            }
            field.clear();
            value(self).write_csv(&mut field);
            push_csv_field(line, &field);
        }
    }

    /// The row as JSON with the CSV's column names (numbers as numbers, missing as null), for
    /// `emissions_endpoint`.
    pub fn to_json(&self) -> Value {
        Value::Object(COLUMNS.iter().map(|(name, value)| (name.to_string(), value(self).to_json())).collect())
    }
}

/// Appends `field`, quoted (with `"` doubled) when it holds a comma, quote or line break.
pub fn push_csv_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact header CodeCarbon 3.3 writes (baseline section 2).
    const CODECARBON_HEADER: &str = "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,\
cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,\
country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,\
gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,\
gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue";

    #[test]
    fn header_is_codecarbons() {
        assert_eq!(*CSV_HEADER, CODECARBON_HEADER);
        assert_eq!(*RUN_ID_COLUMN, 2);
    }

    #[test]
    fn csv_and_json_come_from_the_same_columns() {
        let run = RunInfo { run_id: "r,1".into(), cpu_model: "A \"quoted\" CPU".into(), location: crate::record::location::Location { longitude: Some(2.5), ..Default::default() }, ..Default::default() };
        let numbers = EmissionsSnapshot { duration_s: 1.5, ..Default::default() };
        let row = EmissionsData { timestamp: "t".into(), run: Arc::new(run), numbers };
        let line = row.csv_line();
        let rec = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes()).records().next().unwrap().unwrap();
        assert_eq!(rec.len(), COLUMNS.len());
        assert_eq!(&rec[2], "r,1");
        assert_eq!(&rec[24], "A \"quoted\" CPU");
        let json = row.to_json();
        for (i, (name, _)) in COLUMNS.iter().enumerate() {
            let csv_field = &rec[i];
            match &json[*name] {
                Value::Null => assert_eq!(csv_field, "", "{name}"),
                Value::String(s) => assert_eq!(csv_field, s, "{name}"),
                Value::Number(n) => assert_eq!(csv_field.parse::<f64>().unwrap(), n.as_f64().unwrap(), "{name}"),
                other => panic!("{name}: {other}"),
            }
        }
        assert_eq!(json["gpu_utilization_percent"], serde_json::json!(0));
    }
}

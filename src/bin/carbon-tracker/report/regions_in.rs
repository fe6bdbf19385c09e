//! Reading region files (`regions_<experiment>_<run_id>.csv`, one row per region of a run,
//! rewritten whole by the library at each flush): columns found by name.

use std::path::Path;

use carbon_tracker::RegionTotals;

use super::csv_in::Problem;

/// One region of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionRow {
    pub run_id: String,
    pub totals: RegionTotals,
}

pub fn read(path: &Path) -> (Vec<RegionRow>, Vec<Problem>) {
    let problem = |line: Option<u64>, message: String| Problem { file: path.to_path_buf(), line, message };
    let mut reader = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(e) => return (vec![], vec![problem(None, format!("cannot read: {e}"))]),
    };
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return (vec![], vec![problem(Some(1), format!("unreadable header: {e}"))]),
    };
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(problem(e.position().map(|p| p.line()), e.to_string()));
                continue;
            }
        };
        let line = record.position().map(|p| p.line());
        let text = |name: &str| col(name).and_then(|i| record.get(i)).unwrap_or("").to_string();
        let parsed = (|| -> Result<RegionRow, String> {
            let num = |name: &str| -> Result<f64, String> {
                let v = text(name);
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("column `{name}`: `{v}` is not a number"))
            };
            let count = |name: &str| -> Result<u64, String> {
                let v = text(name);
                v.parse::<u64>().map_err(|_| format!("column `{name}`: `{v}` is not a count"))
            };
            let mut totals = RegionTotals::default();
            totals.name = text("name");
            (totals.calls, totals.open_calls) = (count("calls")?, count("open_calls")?);
            let numbers = [
                (&mut totals.duration_s, "duration_s"),
                (&mut totals.min_duration_s, "min_duration_s"),
                (&mut totals.max_duration_s, "max_duration_s"),
                (&mut totals.wall_s, "wall_s"),
                (&mut totals.cpu_energy_kwh, "cpu_energy_kwh"),
                (&mut totals.gpu_energy_kwh, "gpu_energy_kwh"),
                (&mut totals.ram_energy_kwh, "ram_energy_kwh"),
                (&mut totals.energy_consumed_kwh, "energy_consumed_kwh"),
                (&mut totals.emissions_kg, "emissions_kg"),
                (&mut totals.water_consumed_l, "water_consumed_l"),
            ];
            for (field, column) in numbers {
                *field = num(column)?;
            }
            Ok(RegionRow { run_id: text("run_id"), totals })
        })();
        match parsed {
            Ok(r) => rows.push(r),
            Err(m) => problems.push(problem(line, m)),
        }
    }
    (rows, problems)
}

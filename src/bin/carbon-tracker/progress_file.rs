//! `monitor --progress-file F`: the command writes `done total` on one line (rewritten in place,
//! e.g. `echo "$i $n" > F`); the monitor reads it about once a second, hands it to the tracker
//! (`set_progress`) and shows the prediction in the status line.

use std::path::{Path, PathBuf};

use carbon_tracker::Prediction;

use crate::format;

pub struct ProgressFile {
    path: PathBuf,
    last: Option<(f64, f64)>,
    /// A complaint about the file is made once.
    complained: bool,
}

/// `done total` (any whitespace around or between; `total` may be left out for a fraction).
pub fn parse(text: &str) -> Option<(f64, f64)> {
    let mut words = text.split_whitespace();
    let done: f64 = words.next()?.parse().ok()?;
    let total: f64 = match words.next() {
        Some(w) => w.parse().ok()?,
        None => 1.0,
    };
    words.next().is_none().then_some((done, total))
}

impl ProgressFile {
    pub fn new(path: &Path) -> ProgressFile {
        ProgressFile { path: path.to_path_buf(), last: None, complained: false }
    }

    /// Reads the file and reports a new value to the tracker. A missing file, or one caught
    /// half-written, is skipped until the next read; a value the tracker refuses is said once.
    pub fn poll(&mut self, tracker: &carbon_tracker::Tracker) -> Option<String> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let value = parse(&text)?;
        if self.last == Some(value) {
            return None;
        }
        self.last = Some(value);
        match tracker.set_progress(value.0, value.1) {
            Ok(()) => None,
            Err(e) if !self.complained => {
                self.complained = true;
                Some(format!("carbon-tracker: --progress-file {}: {e}", self.path.display()))
            }
            Err(_) => None,
        }
    }
}

/// The status line's part about progress, most useful first (a narrow terminal cuts the end):
/// `42.0 % | 3 min 05 s left | at the end 1.23 Wh [1.10 Wh, 1.40 Wh] 56.0 mg CO2e`.
pub fn status(p: &Prediction) -> Option<String> {
    if !p.progress.is_finite() {
        return None;
    }
    let pct = format!("{} %", format::sig3(p.progress * 100.0));
    if !p.predicted_energy_kwh.is_finite() {
        return Some(format!("{pct} (predicting...)"));
    }
    Some(format!(
        "{pct} | {} left | at the end {} [{}, {}] {}",
        format::duration_s(p.time_left_s),
        format::energy_kwh(p.predicted_energy_kwh),
        format::energy_kwh(p.predicted_energy_low_kwh),
        format::energy_kwh(p.predicted_energy_high_kwh),
        format::mass_kg(p.predicted_emissions_kg)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use carbon_tracker::PredictionState;

    #[test]
    fn parses_done_and_total() {
        assert_eq!(parse("3 10\n"), Some((3.0, 10.0)));
        assert_eq!(parse("  0.25 "), Some((0.25, 1.0)));
        assert_eq!(parse("3 1"), Some((3.0, 1.0)), "the tracker says what is wrong with it");
        assert_eq!(parse(""), None);
        assert_eq!(parse("3 10 x"), None);
        assert_eq!(parse("x 10"), None);
    }

    #[test]
    fn status_text() {
        let mut p = Prediction::unknown();
        p.progress = 0.42;
        assert_eq!(status(&p).unwrap(), "42.0 % (predicting...)");
        p.state = PredictionState::Ready;
        p.predicted_energy_kwh = 0.00123;
        p.predicted_energy_low_kwh = 0.0011;
        p.predicted_energy_high_kwh = 0.0014;
        p.predicted_emissions_kg = 5.6e-5;
        p.time_left_s = 185.0;
        assert_eq!(
            status(&p).unwrap(),
            "42.0 % | 3 min 05 s left | at the end 1.23 Wh [1.10 Wh, 1.40 Wh] 56.0 mg CO2e"
        );
        assert_eq!(status(&Prediction::unknown()), None);
    }
}

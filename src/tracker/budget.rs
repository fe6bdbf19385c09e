//! Budgets (`energy_budget_kwh`, `emissions_budget_kg`): where a run stands against them, and one
//! warning per budget when it is first predicted to exceed it and one when it exceeds it. The
//! library only reports; the `carbon-tracker monitor` command can stop a command at a limit.

use crate::log::Logger;
use crate::record::{BudgetState, Prediction, PredictionState};

/// One budget's numbers from a prediction.
struct Budget {
    what: &'static str,
    unit: &'static str,
    limit: f64,
    measured: f64,
    predicted: f64,
    low: f64,
    high: f64,
}

fn budgets(p: &Prediction) -> [Budget; 2] {
    [
        Budget {
            what: "energy",
            unit: "kWh",
            limit: p.energy_budget_kwh,
            measured: p.measured_energy_kwh,
            predicted: p.predicted_energy_kwh,
            low: p.predicted_energy_low_kwh,
            high: p.predicted_energy_high_kwh,
        },
        Budget {
            what: "emissions",
            unit: "kg CO2e",
            limit: p.emissions_budget_kg,
            measured: p.measured_emissions_kg,
            predicted: p.predicted_emissions_kg,
            low: p.predicted_emissions_low_kg,
            high: p.predicted_emissions_high_kg,
        },
    ]
}

impl Budget {
    fn state(&self, prediction_ready: bool) -> BudgetState {
        if self.limit <= 0.0 {
            BudgetState::None
        } else if self.measured >= self.limit {
            BudgetState::Exceeded
        } else if prediction_ready && self.predicted > self.limit {
            BudgetState::PredictedToExceed
        } else {
            BudgetState::Below
        }
    }
}

/// The worst state of the two budgets: `Exceeded` when a measured total has reached its budget,
/// `PredictedToExceed` when a predicted total at completion (the point, not the interval's high
/// end) is above it.
pub fn state(p: &Prediction) -> BudgetState {
    let ready = p.state == PredictionState::Ready;
    budgets(p).iter().map(|b| b.state(ready)).max().unwrap_or_default()
}

/// Four significant digits, as people read them.
fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    if x.abs() < 1e-3 || x.abs() >= 1e7 {
        return format!("{x:.3e}");
    }
    let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 15) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Which warnings were logged already (per budget: energy, emissions).
#[derive(Debug, Default)]
pub struct BudgetWatch {
    warned_predicted: [bool; 2],
    warned_exceeded: [bool; 2],
}

impl BudgetWatch {
    /// Logs the warnings of state changes that were not logged yet.
    pub fn check(&mut self, p: &Prediction, log: &Logger) {
        let ready = p.state == PredictionState::Ready;
        let progress = if p.progress.is_finite() { format!(" at {} % progress", num(p.progress * 100.0)) } else { String::new() };
        for (i, b) in budgets(p).iter().enumerate() {
            match b.state(ready) {
                BudgetState::Exceeded if !self.warned_exceeded[i] => {
                    self.warned_exceeded[i] = true;
                    self.warned_predicted[i] = true;
                    log.warning(format!(
                        "{} budget exceeded: {} {} measured{progress}, for a budget of {} {} (measuring goes on)",
                        b.what,
                        num(b.measured),
                        b.unit,
                        num(b.limit),
                        b.unit
                    ));
                }
                BudgetState::PredictedToExceed if !self.warned_predicted[i] => {
                    self.warned_predicted[i] = true;
                    log.warning(format!(
                        "{} budget: predicted to be exceeded: {} {} at completion (90 % interval {} to {}), for a budget of {} {}; {} {} measured so far{progress}",
                        b.what,
                        num(b.predicted),
                        b.unit,
                        num(b.low),
                        num(b.high),
                        num(b.limit),
                        b.unit,
                        num(b.measured),
                        b.unit
                    ));
                }
                // Back below after a warning (a rollback, a faster pace): withdrawn, so the state
                // can rise again and warn again.
                BudgetState::Below if self.warned_predicted[i] && !self.warned_exceeded[i] => {
                    self.warned_predicted[i] = false;
                    log.warning(format!(
                        "{} budget: no longer predicted to be exceeded: {} {} at completion, for a budget of {} {} (the earlier warning is withdrawn)",
                        b.what,
                        num(b.predicted),
                        b.unit,
                        num(b.limit),
                        b.unit
                    ));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(measured: f64, predicted: f64, budget: f64) -> Prediction {
        Prediction {
            state: PredictionState::Ready,
            progress: 0.5,
            measured_energy_kwh: measured,
            predicted_energy_kwh: predicted,
            predicted_energy_low_kwh: predicted * 0.9,
            predicted_energy_high_kwh: predicted * 1.1,
            energy_budget_kwh: budget,
            emissions_budget_kg: 0.0,
            measured_emissions_kg: 0.0,
            ..Prediction::unknown()
        }
    }

    #[test]
    fn states() {
        assert_eq!(state(&prediction(1.0, 2.0, 0.0)), BudgetState::None);
        assert_eq!(state(&prediction(1.0, 2.0, 3.0)), BudgetState::Below);
        assert_eq!(state(&prediction(1.0, 2.0, 1.5)), BudgetState::PredictedToExceed);
        assert_eq!(state(&prediction(1.5, 2.0, 1.5)), BudgetState::Exceeded);
        let mut p = prediction(1.0, 2.0, 1.5);
        p.state = PredictionState::NotEnoughEvidence;
        assert_eq!(state(&p), BudgetState::Below, "no prediction: no 'predicted to exceed'");
        p.emissions_budget_kg = 0.001;
        p.measured_emissions_kg = 0.002;
        assert_eq!(state(&p), BudgetState::Exceeded, "the worst of the two");
    }

    #[test]
    fn a_warning_is_withdrawn_when_the_state_goes_back_down_and_can_come_again() {
        let mut watch = BudgetWatch::default();
        let quiet = Logger { threshold: crate::log::Level::Critical, preamble: String::new() };
        watch.check(&prediction(1.0, 2.0, 1.5), &quiet);
        assert!(watch.warned_predicted[0]);
        watch.check(&prediction(1.1, 1.2, 1.5), &quiet);
        assert!(!watch.warned_predicted[0], "withdrawn");
        watch.check(&prediction(1.2, 2.0, 1.5), &quiet);
        assert!(watch.warned_predicted[0], "and warned again");
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(num(1.23456), "1.235");
        assert_eq!(num(0.00123456), "0.001235");
        assert_eq!(num(0.000123456), "1.235e-4");
        assert_eq!(num(12345.6), "12346");
        assert_eq!(num(2.0), "2");
    }
}

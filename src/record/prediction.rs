//! The prediction record, declared once: [`for_each_prediction_number!`] lists the numbers of a
//! run's prediction (what `ct_tracker_predict` fills), with their units. The Rust
//! [`Prediction`], the C ABI's `ct_prediction` (filled and layout-checked from this list in
//! `ffi`), and the Prometheus and OTLP metrics come from it.

/// Calls `$m!` with the prediction's numbers, in the order of `ct_prediction`:
/// `doc, name: "unit"`. All are `f64`; NaN where a number is not known.
macro_rules! for_each_prediction_number {
    ($m:ident) => {
        $m! {
            /// Steps done / total steps at the latest `set_progress`, 0 to 1 (NaN before the first).
            progress: "1",
            /// Seconds since start, at the latest measurement.
            measured_duration_s: "s",
            /// kWh measured since start (PUE included), at the latest measurement.
            measured_energy_kwh: "kWh",
            /// kg CO2e measured since start, at the latest measurement.
            measured_emissions_kg: "kg",
            /// Predicted duration of the whole run at completion (100 % progress), s.
            predicted_duration_s: "s",
            /// Low end of its interval, s.
            predicted_duration_low_s: "s",
            /// High end of its interval, s.
            predicted_duration_high_s: "s",
            /// Predicted energy of the whole run at completion, kWh.
            predicted_energy_kwh: "kWh",
            /// Low end of its interval, kWh.
            predicted_energy_low_kwh: "kWh",
            /// High end of its interval, kWh.
            predicted_energy_high_kwh: "kWh",
            /// Predicted emissions of the whole run at completion, kg CO2e.
            predicted_emissions_kg: "kg",
            /// Low end of its interval, kg CO2e.
            predicted_emissions_low_kg: "kg",
            /// High end of its interval, kg CO2e.
            predicted_emissions_high_kg: "kg",
            /// Predicted seconds from now to completion.
            time_left_s: "s",
            /// The nominal confidence of the low/high intervals (0.9).
            confidence: "1",
            /// The `energy_budget_kwh` option (0: none).
            energy_budget_kwh: "kWh",
            /// The `emissions_budget_kg` option (0: none).
            emissions_budget_kg: "kg",
        }
    };
}

pub(crate) use for_each_prediction_number;

/// Whether the numbers of a [`Prediction`] are there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PredictionState {
    /// `set_progress` was never called: nothing to predict from.
    #[default]
    NoProgress = 0,
    /// Progress is known, but too little yet (fewer than 3 progress updates, or less than 1 % of
    /// the work done): the predicted numbers are NaN rather than a guess.
    NotEnoughEvidence = 1,
    /// The predicted numbers and their intervals are filled.
    Ready = 2,
}

/// Where the run stands against its budgets (`energy_budget_kwh`, `emissions_budget_kg`): the
/// worst of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum BudgetState {
    /// No budget is set.
    #[default]
    None = 0,
    /// Measured and predicted totals are within the budgets (or no prediction yet).
    Below = 1,
    /// The predicted total at completion exceeds a budget.
    PredictedToExceed = 2,
    /// A measured total has reached a budget.
    Exceeded = 3,
}

impl BudgetState {
    pub fn name(self) -> &'static str {
        match self {
            BudgetState::None => "none",
            BudgetState::Below => "below",
            BudgetState::PredictedToExceed => "predicted_to_exceed",
            BudgetState::Exceeded => "exceeded",
        }
    }
}

impl PredictionState {
    pub fn name(self) -> &'static str {
        match self {
            PredictionState::NoProgress => "no_progress",
            PredictionState::NotEnoughEvidence => "not_enough_evidence",
            PredictionState::Ready => "ready",
        }
    }
}

macro_rules! declare_prediction {
    ($( $(#[$doc:meta])* $f:ident : $unit:literal ),* $(,)?) => {
        /// A run's predicted totals at completion, from its progress and measurements so far, and
        /// its budget state. See `ct_prediction` in the C header for the method.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct Prediction {
            pub state: PredictionState,
            pub budget_state: BudgetState,
            $( $(#[$doc])* pub $f: f64, )*
        }

        impl Prediction {
            /// The numbers' names and units, in declaration (and `ct_prediction`) order.
            pub const NUMBERS: &'static [(&'static str, &'static str)] = &[$((stringify!($f), $unit)),*];

            /// Everything unknown: states at their defaults, numbers NaN.
            pub fn unknown() -> Prediction {
                Prediction { state: PredictionState::NoProgress, budget_state: BudgetState::None, $( $f: f64::NAN, )* }
            }

            /// (name, value) of each number, in order.
            pub fn numbers(&self) -> [(&'static str, f64); Self::NUMBERS.len()] {
                [$((stringify!($f), self.$f)),*]
            }

            /// The record as a JSON object (NaN numbers as null).
            pub fn to_json(&self) -> serde_json::Value {
                let num = |x: f64| if x.is_finite() { serde_json::json!(x) } else { serde_json::Value::Null };
                serde_json::json!({
                    "state": self.state.name(),
                    "budget_state": self.budget_state.name(),
                    $( stringify!($f): num(self.$f), )*
                })
            }
        }
    };
}

for_each_prediction_number!(declare_prediction);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_is_nan_and_json_has_every_field() {
        let p = Prediction::unknown();
        assert!(p.numbers().iter().all(|(_, v)| v.is_nan()));
        let v = p.to_json();
        for (name, _) in Prediction::NUMBERS {
            assert!(v[name].is_null(), "{name}");
        }
        assert_eq!(v["state"], "no_progress");
        assert_eq!(v["budget_state"], "none");
    }
}

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

#[cfg_attr(not(feature = "capi"), allow(unused_imports))] // the C ABI's struct is made from it
pub(crate) use for_each_prediction_number;

/// Whether the numbers of a [`Prediction`] are there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
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
#[non_exhaustive]
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
    /// The state's name, as in the gauges and the command's progress file (`below`).
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
    /// The state's name (`not_enough_evidence`).
    pub fn name(self) -> &'static str {
        match self {
            PredictionState::NoProgress => "no_progress",
            PredictionState::NotEnoughEvidence => "not_enough_evidence",
            PredictionState::Ready => "ready",
        }
    }
}

macro_rules! declare_prediction {
    ($( $(#[doc = $doc:literal])* $f:ident : $unit:literal ),* $(,)?) => {
        /// A run's predicted totals at completion, from its progress and measurements so far, and
        /// its budget state ([`Tracker::predict`](crate::Tracker::predict)). The method is in the
        /// docs/predictions.md. Numbers not known are NaN.
        #[derive(Debug, Clone, Copy, PartialEq)]
        #[non_exhaustive]
        pub struct Prediction {
            /// Whether the predicted numbers are there.
            pub state: PredictionState,
            /// Where the run stands against its budgets.
            pub budget_state: BudgetState,
            $( $(#[doc = $doc])* pub $f: f64, )*
        }

        impl Prediction {
            /// The numbers' names, units and descriptions, in declaration (and `ct_prediction`) order.
            pub const NUMBERS: &'static [(&'static str, &'static str, &'static str)] = &[$((stringify!($f), $unit, concat!($($doc),*))),*];

            /// Everything unknown: states at their defaults, numbers NaN.
            pub fn unknown() -> Prediction {
                Prediction { state: PredictionState::NoProgress, budget_state: BudgetState::None, $( $f: f64::NAN, )* }
            }

            /// (name, value) of each number, in order (an iterator, not an array: its length
            /// grows with the record).
            pub fn numbers(&self) -> impl ExactSizeIterator<Item = (&'static str, f64)> {
                [$((stringify!($f), self.$f)),*].into_iter()
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

/// A number of a prediction as a monitoring gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    pub name: String,
    pub unit: &'static str,
    pub help: String,
    pub value: f64,
}

impl Prediction {
    /// The prediction as gauges for the Prometheus and OTLP outputs: `codecarbon_<number>` for
    /// each known number (`codecarbon_prediction_confidence` for the confidence; the measured
    /// totals are left out, those outputs carry them already; a budget only when set), and the two states as
    /// `codecarbon_prediction_state` (0 no progress, 1 not enough evidence, 2 ready) and
    /// `codecarbon_budget_state` (0 none, 1 below, 2 predicted to exceed, 3 exceeded).
    pub(crate) fn gauges(&self) -> Vec<Gauge> {
        let mut out = vec![
            Gauge {
                name: "codecarbon_prediction_state".into(),
                unit: "1",
                help: "Prediction state: 0 no progress reported, 1 not enough evidence, 2 ready".into(),
                value: self.state as i32 as f64,
            },
            Gauge {
                name: "codecarbon_budget_state".into(),
                unit: "1",
                help: "Budget state: 0 no budget, 1 below, 2 predicted to exceed, 3 exceeded".into(),
                value: self.budget_state as i32 as f64,
            },
        ];
        for ((name, unit, doc), (_, value)) in Prediction::NUMBERS.iter().zip(self.numbers()) {
            let no_budget = name.ends_with("_budget_kwh") || name.ends_with("_budget_kg");
            if name.starts_with("measured_") || !value.is_finite() || (no_budget && value == 0.0) {
                continue;
            }
            let name = if *name == "confidence" { "codecarbon_prediction_confidence".to_string() } else { format!("codecarbon_{name}") };
            out.push(Gauge { name, unit, help: doc.trim().to_string(), value });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_is_nan_and_json_has_every_field() {
        let p = Prediction::unknown();
        assert!(p.numbers().all(|(_, v)| v.is_nan()));
        assert_eq!(p.numbers().len(), Prediction::NUMBERS.len());
        let v = p.to_json();
        for (name, _, doc) in Prediction::NUMBERS {
            assert!(!doc.trim().is_empty(), "{name}");
            assert!(v[name].is_null(), "{name}");
        }
        assert_eq!(v["state"], "no_progress");
        let names: Vec<String> = p.gauges().into_iter().map(|g| g.name).collect();
        assert_eq!(names, ["codecarbon_prediction_state", "codecarbon_budget_state"], "NaN numbers are left out");
        let ready = Prediction { state: PredictionState::Ready, progress: 0.5, confidence: 0.9, measured_energy_kwh: 1.0, ..p };
        let g = ready.gauges();
        assert_eq!(g[0].value, 2.0);
        assert_eq!(g.len(), 4);
        assert_eq!((g[2].name.as_str(), g[2].unit, g[2].value), ("codecarbon_progress", "1", 0.5));
        assert!(g[2].help.starts_with("Steps done"), "{}", g[2].help);
        assert_eq!(g[3].name, "codecarbon_prediction_confidence");
        assert_eq!(v["budget_state"], "none");
    }
}

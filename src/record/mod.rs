//! The measurement record, declared once: [`for_each_measurement!`] lists every number a
//! tracker reports, with its unit and how it combines over time. [`EmissionsSnapshot`] (what
//! Rust callers get), the C ABI's `ct_emissions` (filled and layout-checked from this list in
//! `ffi`), the CSV row and the JSON of `emissions_endpoint` (through [`run::RunInfo`] and the
//! column table of `output::emissions_data`), and the API deltas ([`EmissionsSnapshot::since`],
//! [`EmissionsSnapshot::merge`]) all come from it.

pub mod identity;
pub mod job;
pub mod location;
pub mod region;
pub mod prediction;
pub mod run;

pub use prediction::{BudgetState, Prediction, PredictionState};

/// Calls `$m!` with the measurement fields, in the order of `ct_emissions`:
/// `doc, name: type => how it combines` where `total` is a running total (deltas subtract,
/// merges add) and `latest` a run mean or setting (the newer value wins).
macro_rules! for_each_measurement {
    ($m:ident) => {
        $m! {
            /// Seconds since start.
            duration_s: f64 => total,
            /// kg CO2-equivalent.
            emissions_kg: f64 => total,
            /// `emissions_kg / duration_s`.
            emissions_rate_kg_per_s: f64 => rate,
            /// Mean CPU power, W.
            cpu_power_w: f64 => latest,
            /// Mean GPU power, W.
            gpu_power_w: f64 => latest,
            /// Mean RAM power, W.
            ram_power_w: f64 => latest,
            /// kWh.
            cpu_energy_kwh: f64 => total,
            /// kWh.
            gpu_energy_kwh: f64 => total,
            /// kWh.
            ram_energy_kwh: f64 => total,
            /// cpu + gpu + ram, kWh.
            energy_consumed_kwh: f64 => total,
            /// Litres (`wue` × energy).
            water_consumed_l: f64 => total,
            /// Mean machine-wide CPU use, %.
            cpu_utilization_percent: f64 => latest,
            /// Mean GPU use, %.
            gpu_utilization_percent: f64 => latest,
            /// Mean RAM use, %.
            ram_utilization_percent: f64 => latest,
            /// Mean RAM used, GiB.
            ram_used_gb: f64 => latest,
            /// The intensity applied, gCO2e/kWh.
            carbon_intensity_g_per_kwh: f64 => latest,
            /// The PUE applied.
            pue: f64 => latest,
            /// Number of measured intervals since start.
            measurements: u64 => total,
        }
    };
}

#[cfg_attr(not(feature = "capi"), allow(unused_imports))] // the C ABI's struct is made from it
pub(crate) use for_each_measurement;

macro_rules! declare_snapshot {
    ($( $(#[$doc:meta])* $f:ident : $t:ty => $how:ident ),* $(,)?) => {
        /// A tracker's numbers (CodeCarbon's `EmissionsData` numbers): the totals since start
        /// ([`Tracker::flush`](crate::Tracker::flush), [`stop`](crate::Tracker::stop),
        /// [`peek`](crate::Tracker::peek)) or a task's window
        /// ([`stop_task`](crate::Tracker::stop_task)). Powers are time-weighted means in W;
        /// energies in kWh including PUE; emissions in kg CO2e; the same fields, in the same
        /// order, as the C ABI's `ct_emissions`.
        ///
        /// More numbers may come in later versions (as `ct_emissions` grows at its end): start
        /// from `EmissionsSnapshot::default()` to make one.
        #[derive(Debug, Clone, Copy, PartialEq, Default)]
        #[non_exhaustive]
        pub struct EmissionsSnapshot {
            $( $(#[$doc])* pub $f: $t, )*
        }

        impl EmissionsSnapshot {
            /// The field names, in declaration (and `ct_emissions`) order.
            pub const FIELD_NAMES: &'static [&'static str] = &[$(stringify!($f)),*];

            /// What happened between `earlier` and `self`: running totals subtract (a total
            /// that went down, after a counter reset, gives 0, never a negative), means and
            /// settings are the newer values. Returns the delta and whether a total was clamped.
            #[must_use]
            pub fn since(&self, earlier: &EmissionsSnapshot) -> (EmissionsSnapshot, bool) {
                let mut clamped = false;
                let mut d = EmissionsSnapshot {
                    $( $f: combine!($how, since, self.$f, earlier.$f, clamped), )*
                };
                d.emissions_rate_kg_per_s = rate(d.emissions_kg, d.duration_s);
                (d, clamped)
            }

            /// `self` followed by `later` as one interval: totals add, the newer means win.
            pub(crate) fn merge(&mut self, later: &EmissionsSnapshot) {
                $( self.$f = combine!($how, merge, self.$f, later.$f); )*
                self.emissions_rate_kg_per_s = rate(self.emissions_kg, self.duration_s);
            }

            /// The numbers as a JSON object keyed by field name.
            #[must_use]
            pub fn to_json(&self) -> serde_json::Value {
                serde_json::json!({ $( stringify!($f): self.$f, )* })
            }
        }
    };
}

macro_rules! combine {
    (total, since, $now:expr, $before:expr, $clamped:ident) => {
        if $now >= $before {
            $now - $before
        } else {
            $clamped = true;
            Default::default()
        }
    };
    (total, merge, $a:expr, $b:expr) => {{
        let (a, b) = ($a, $b);
        a + b
    }};
    (latest, since, $now:expr, $before:expr, $c:ident) => {
        $now
    };
    (latest, merge, $a:expr, $b:expr) => {
        $b
    };
    // Recomputed from the combined totals.
    (rate, since, $a:expr, $b:expr, $c:ident) => {
        0.0
    };
    (rate, merge, $a:expr, $b:expr) => {
        0.0
    };
}

for_each_measurement!(declare_snapshot);

fn rate(kg: f64, duration_s: f64) -> f64 {
    if duration_s > 0.0 {
        kg / duration_s
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(duration_s: f64, energy: f64) -> EmissionsSnapshot {
        EmissionsSnapshot {
            duration_s,
            energy_consumed_kwh: energy,
            emissions_kg: energy * 0.5,
            cpu_power_w: duration_s, // a mean: the newer one is kept
            measurements: duration_s as u64,
            ..Default::default()
        }
    }

    #[test]
    fn deltas_subtract_totals_and_keep_newer_means() {
        let (d, clamped) = total(3.0, 5.0).since(&total(1.0, 2.0));
        assert!(!clamped);
        assert_eq!((d.duration_s, d.energy_consumed_kwh, d.cpu_power_w, d.measurements), (2.0, 3.0, 3.0, 2));
        assert!((d.emissions_rate_kg_per_s - 1.5 / 2.0).abs() < 1e-15);
        let (d, clamped) = total(4.0, 1.0).since(&total(1.0, 2.0));
        assert!(clamped);
        assert_eq!(d.energy_consumed_kwh, 0.0);
    }

    #[test]
    fn merging_deltas_gives_the_delta_of_the_whole() {
        let (a, b, c) = (total(1.0, 1.0), total(2.5, 4.0), total(7.0, 4.5));
        let mut m = b.since(&a).0;
        m.merge(&c.since(&b).0);
        let whole = c.since(&a).0;
        assert_eq!(m, whole);
    }

    #[test]
    fn json_has_every_field_once() {
        let v = total(1.0, 2.0).to_json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = EmissionsSnapshot::FIELD_NAMES.to_vec();
        want.sort();
        let mut got = keys.clone();
        got.sort();
        assert_eq!(got, want);
    }
}

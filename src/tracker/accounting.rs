//! Exact accounting: every measured interval is added once, under the tracker's lock, and the
//! totals are the plain sums of the interval deltas.

use crate::emissions::Intensity;
use crate::hardware::Sample;
pub use crate::record::EmissionsSnapshot;

const WS_PER_KWH: f64 = 3.6e6;

/// Cumulative totals since start. Energies include PUE, and so do the mean powers made from them
/// (CodeCarbon 3.3 multiplies both: with `pue=1.5` a 100 W CPU is reported at 150 W).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    pub measured_s: f64,
    pub measurements: u64,
    pub cpu_kwh: f64,
    pub gpu_kwh: f64,
    pub ram_kwh: f64,
    pub energy_kwh: f64,
    pub emissions_kg: f64,
    pub water_l: f64,
    cpu_util_pct_s: f64,
    cpu_util_s: f64,
    gpu_util_pct_s: f64,
    gpu_util_s: f64,
    ram_util_pct_s: f64,
    ram_used_gib_s: f64,
    ram_s: f64,
}

impl Totals {
    /// Adds one interval of `dt_s` seconds.
    pub fn add(&mut self, dt_s: f64, s: &Sample, pue: f64, wue_l_per_kwh: f64, intensity: &Intensity) {
        let energy = (s.cpu_energy_kwh + s.gpu_energy_kwh + s.ram_energy_kwh) * pue;
        self.measured_s += dt_s;
        self.measurements += 1;
        self.cpu_kwh += s.cpu_energy_kwh * pue;
        self.gpu_kwh += s.gpu_energy_kwh * pue;
        self.ram_kwh += s.ram_energy_kwh * pue;
        self.energy_kwh += energy;
        self.emissions_kg += intensity.kg_for(energy);
        self.water_l += wue_l_per_kwh * energy;
        if let Some(u) = s.cpu_utilization_percent {
            self.cpu_util_pct_s += u * dt_s;
            self.cpu_util_s += dt_s;
        }
        if let Some(u) = s.gpu_utilization_percent {
            self.gpu_util_pct_s += u * dt_s;
            self.gpu_util_s += dt_s;
        }
        if let Some(m) = s.ram {
            self.ram_util_pct_s += m.used_percent() * dt_s;
            self.ram_used_gib_s += m.used_gib() * dt_s;
            self.ram_s += dt_s;
        }
    }

    /// What was added after `earlier` (an earlier copy of these totals): the totals of that
    /// window, every field a plain difference.
    pub fn since(&self, earlier: &Totals) -> Totals {
        Totals {
            measured_s: self.measured_s - earlier.measured_s,
            measurements: self.measurements - earlier.measurements,
            cpu_kwh: self.cpu_kwh - earlier.cpu_kwh,
            gpu_kwh: self.gpu_kwh - earlier.gpu_kwh,
            ram_kwh: self.ram_kwh - earlier.ram_kwh,
            energy_kwh: self.energy_kwh - earlier.energy_kwh,
            emissions_kg: self.emissions_kg - earlier.emissions_kg,
            water_l: self.water_l - earlier.water_l,
            cpu_util_pct_s: self.cpu_util_pct_s - earlier.cpu_util_pct_s,
            cpu_util_s: self.cpu_util_s - earlier.cpu_util_s,
            gpu_util_pct_s: self.gpu_util_pct_s - earlier.gpu_util_pct_s,
            gpu_util_s: self.gpu_util_s - earlier.gpu_util_s,
            ram_util_pct_s: self.ram_util_pct_s - earlier.ram_util_pct_s,
            ram_used_gib_s: self.ram_used_gib_s - earlier.ram_used_gib_s,
            ram_s: self.ram_s - earlier.ram_s,
        }
    }

    /// The numbers a caller sees, `duration_s` after start.
    pub fn snapshot(&self, duration_s: f64, intensity: &Intensity, pue: f64) -> EmissionsSnapshot {
        let mean_w = |kwh: f64| if self.measured_s > 0.0 { kwh * WS_PER_KWH / self.measured_s } else { 0.0 };
        let per = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
        EmissionsSnapshot {
            duration_s,
            emissions_kg: self.emissions_kg,
            emissions_rate_kg_per_s: per(self.emissions_kg, duration_s),
            cpu_power_w: mean_w(self.cpu_kwh),
            gpu_power_w: mean_w(self.gpu_kwh),
            ram_power_w: mean_w(self.ram_kwh),
            cpu_energy_kwh: self.cpu_kwh,
            gpu_energy_kwh: self.gpu_kwh,
            ram_energy_kwh: self.ram_kwh,
            energy_consumed_kwh: self.energy_kwh,
            water_consumed_l: self.water_l,
            // Means of values in [0, 100] can round just past 100.
            cpu_utilization_percent: per(self.cpu_util_pct_s, self.cpu_util_s).clamp(0.0, 100.0),
            gpu_utilization_percent: per(self.gpu_util_pct_s, self.gpu_util_s).clamp(0.0, 100.0),
            ram_utilization_percent: per(self.ram_util_pct_s, self.ram_s).clamp(0.0, 100.0),
            ram_used_gb: per(self.ram_used_gib_s, self.ram_s),
            carbon_intensity_g_per_kwh: intensity.g_per_kwh,
            pue,
            measurements: self.measurements,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emissions::{Intensity, Location};

    fn fra() -> Intensity {
        Intensity { g_per_kwh: 56.039, source: "test".into(), location: Location::default() }
    }

    #[test]
    fn totals_are_sums_of_deltas_with_pue_and_wue() {
        let mut t = Totals::default();
        let s = Sample { cpu_energy_kwh: 1e-6, ram_energy_kwh: 2e-6, cpu_utilization_percent: Some(50.0), ..Default::default() };
        t.add(1.0, &s, 1.5, 2.0, &fra());
        t.add(3.0, &Sample { cpu_utilization_percent: Some(10.0), ..s }, 1.5, 2.0, &fra());
        assert_eq!(t.measurements, 2);
        assert!((t.energy_kwh - 9e-6).abs() < 1e-18);
        assert!((t.cpu_kwh - 3e-6).abs() < 1e-18);
        assert!((t.water_l - 18e-6).abs() < 1e-18);
        let snap = t.snapshot(4.0, &fra(), 1.5);
        assert!((snap.emissions_kg / snap.energy_consumed_kwh - 0.056039).abs() < 1e-12);
        // Power includes PUE, as CodeCarbon 3.3: 2e-6 kWh x 1.5 over 4 s = 2.7 W.
        assert!((snap.cpu_power_w - 2.7).abs() < 1e-9);
        assert!((snap.cpu_utilization_percent - 20.0).abs() < 1e-12); // (50×1 + 10×3) / 4
        assert!((snap.emissions_rate_kg_per_s - snap.emissions_kg / 4.0).abs() < 1e-24);
    }

    #[test]
    fn utilisation_means_never_exceed_100() {
        let mut t = Totals::default();
        let s = Sample { cpu_utilization_percent: Some(100.0), ..Default::default() };
        for dt in [0.1, 0.7, 0.2, 1.3, 0.05, 0.33, 2.9] {
            t.add(dt, &s, 1.0, 0.0, &fra());
        }
        assert!(t.snapshot(1.0, &fra(), 1.0).cpu_utilization_percent <= 100.0);
    }

    #[test]
    fn empty_totals_are_zero_not_nan() {
        let s = Totals::default().snapshot(0.0, &fra(), 1.0);
        assert_eq!(s.cpu_power_w, 0.0);
        assert_eq!(s.emissions_rate_kg_per_s, 0.0);
        assert!(!s.cpu_utilization_percent.is_nan());
    }
}

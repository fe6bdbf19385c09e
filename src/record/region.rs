//! A region's accumulated numbers: what `ct_tracker_json` reports under `"regions"` and the
//! region file holds, one per name.

/// The totals of one region since the tracker started. Call counts and durations are up to
/// the moment they are read; energies and emissions are attributed up to the run's last
/// measurement (see `tracker::regions` for the rule).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct RegionTotals {
    /// The region's name.
    pub name: String,
    /// Finished calls (a call still open is counted when it ends, or at stop).
    pub calls: u64,
    /// Calls open now, in any thread.
    pub open_calls: u64,
    /// Sum of the finished calls' durations (calls open at once in several threads each count).
    pub duration_s: f64,
    /// Shortest finished call (0 before the first one).
    pub min_duration_s: f64,
    /// Longest finished call (0 before the first one).
    pub max_duration_s: f64,
    /// Wall-clock time during which at least one call was open, up to the last measurement:
    /// the time the region's energy is attributed over.
    pub wall_s: f64,
    /// CPU energy attributed to the region, kWh (PUE included, as the run's).
    pub cpu_energy_kwh: f64,
    /// GPU energy attributed to the region, kWh.
    pub gpu_energy_kwh: f64,
    /// RAM energy attributed to the region, kWh.
    pub ram_energy_kwh: f64,
    /// cpu + gpu + ram, kWh (PUE included, as the run's).
    pub energy_consumed_kwh: f64,
    /// Emissions attributed to the region, kg CO2e.
    pub emissions_kg: f64,
    /// Water attributed to the region, litres (`wue` × energy).
    pub water_consumed_l: f64,
}

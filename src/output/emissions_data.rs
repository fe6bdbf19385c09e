//! One row of `emissions.csv`: CodeCarbon's `EmissionsData`, 38 columns in its order (spec 6.1).

use super::py_format;

/// The exact header CodeCarbon 3.3 writes (baseline section 2).
pub const CSV_HEADER: &str = "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,\
cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,\
country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,\
gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,\
gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue";

pub const COLUMNS: usize = 38;
/// Index of `run_id`, the key of `update` mode.
pub const RUN_ID_COLUMN: usize = 2;

/// Cumulative totals since start, with the run's metadata. Units: s, kg CO2e, kg/s, W, kWh, L,
/// GiB, %. `None` prints as an empty field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmissionsData {
    pub timestamp: String,
    pub project_name: String,
    pub run_id: String,
    pub experiment_id: String,
    pub duration_s: f64,
    pub emissions_kg: f64,
    pub emissions_rate_kg_per_s: f64,
    pub cpu_power_w: f64,
    pub gpu_power_w: f64,
    pub ram_power_w: f64,
    pub cpu_energy_kwh: f64,
    pub gpu_energy_kwh: f64,
    pub ram_energy_kwh: f64,
    pub energy_consumed_kwh: f64,
    pub water_consumed_l: f64,
    pub country_name: Option<String>,
    pub country_iso_code: Option<String>,
    pub region: Option<String>,
    pub cloud_provider: String,
    pub cloud_region: String,
    pub os: String,
    /// The host language's version where known; empty for a native library.
    pub python_version: Option<String>,
    /// This library's version.
    pub codecarbon_version: String,
    pub cpu_count: usize,
    pub cpu_model: String,
    pub gpu_count: usize,
    pub gpu_model: String,
    pub longitude: Option<f64>,
    pub latitude: Option<f64>,
    pub ram_total_size_gib: f64,
    pub tracking_mode: String,
    pub cpu_utilization_percent: f64,
    /// `None` without GPUs, printed `0` as CodeCarbon does.
    pub gpu_utilization_percent: Option<f64>,
    pub ram_utilization_percent: f64,
    pub ram_used_gb: f64,
    pub on_cloud: bool,
    pub pue: f64,
    pub wue: f64,
}

impl EmissionsData {
    /// The row as JSON with the CSV's column names (numbers as numbers, missing as null), for
    /// `emissions_endpoint`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "timestamp": self.timestamp,
            "project_name": self.project_name,
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "duration": self.duration_s,
            "emissions": self.emissions_kg,
            "emissions_rate": self.emissions_rate_kg_per_s,
            "cpu_power": self.cpu_power_w,
            "gpu_power": self.gpu_power_w,
            "ram_power": self.ram_power_w,
            "cpu_energy": self.cpu_energy_kwh,
            "gpu_energy": self.gpu_energy_kwh,
            "ram_energy": self.ram_energy_kwh,
            "energy_consumed": self.energy_consumed_kwh,
            "water_consumed": self.water_consumed_l,
            "country_name": self.country_name,
            "country_iso_code": self.country_iso_code,
            "region": self.region,
            "cloud_provider": self.cloud_provider,
            "cloud_region": self.cloud_region,
            "os": self.os,
            "python_version": self.python_version,
            "codecarbon_version": self.codecarbon_version,
            "cpu_count": self.cpu_count,
            "cpu_model": self.cpu_model,
            "gpu_count": self.gpu_count,
            "gpu_model": self.gpu_model,
            "longitude": self.longitude,
            "latitude": self.latitude,
            "ram_total_size": self.ram_total_size_gib,
            "tracking_mode": self.tracking_mode,
            "cpu_utilization_percent": self.cpu_utilization_percent,
            "gpu_utilization_percent": self.gpu_utilization_percent.unwrap_or(0.0),
            "ram_utilization_percent": self.ram_utilization_percent,
            "ram_used_gb": self.ram_used_gb,
            "on_cloud": if self.on_cloud { "Y" } else { "N" },
            "pue": self.pue,
            "wue": self.wue,
        })
    }

    /// The CSV fields, formatted as CodeCarbon (pandas) formats them.
    pub fn to_record(&self) -> Vec<String> {
        let f = |x: f64| py_format::float(x);
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        let optf = |x: Option<f64>| x.map(py_format::float).unwrap_or_default();
        vec![
            self.timestamp.clone(),
            self.project_name.clone(),
            self.run_id.clone(),
            self.experiment_id.clone(),
            f(self.duration_s),
            f(self.emissions_kg),
            f(self.emissions_rate_kg_per_s),
            f(self.cpu_power_w),
            f(self.gpu_power_w),
            f(self.ram_power_w),
            f(self.cpu_energy_kwh),
            f(self.gpu_energy_kwh),
            f(self.ram_energy_kwh),
            f(self.energy_consumed_kwh),
            f(self.water_consumed_l),
            opt(&self.country_name),
            opt(&self.country_iso_code),
            opt(&self.region),
            self.cloud_provider.clone(),
            self.cloud_region.clone(),
            self.os.clone(),
            opt(&self.python_version),
            self.codecarbon_version.clone(),
            self.cpu_count.to_string(),
            self.cpu_model.clone(),
            self.gpu_count.to_string(),
            self.gpu_model.clone(),
            optf(self.longitude),
            optf(self.latitude),
            f(self.ram_total_size_gib),
            self.tracking_mode.clone(),
            f(self.cpu_utilization_percent),
            self.gpu_utilization_percent.map(py_format::float).unwrap_or_else(|| "0".into()),
            f(self.ram_utilization_percent),
            f(self.ram_used_gb),
            if self.on_cloud { "Y" } else { "N" }.into(),
            f(self.pue),
            f(self.wue),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_has_38_columns_and_run_id_third() {
        let cols: Vec<_> = CSV_HEADER.split(',').collect();
        assert_eq!(cols.len(), COLUMNS);
        assert_eq!(cols[RUN_ID_COLUMN], "run_id");
        assert_eq!(cols[37], "wue");
    }
}

//! The descriptive columns of a CSV row: platform string, hardware, location.

use crate::config::Config;
use crate::emissions::Intensity;
use crate::hardware::host::OS;
use crate::hardware::HardwarePlan;
use crate::record::run::{RunInfo, LIBRARY_VERSION};

/// CodeCarbon's timestamp: local time, no zone, `%Y-%m-%dT%H:%M:%S`.
pub fn timestamp_now() -> String {
    crate::clock::LocalTime::now().iso_seconds()
}

/// The transparency document of `Tracker::describe`.
pub fn describe(c: &Config, run_id: &str, state: &str, plan: &HardwarePlan, intensity: Option<&Intensity>) -> serde_json::Value {
    use crate::hardware::CpuSource;
    let cpu_source = match &plan.cpu {
        CpuSource::Rapl(zones) => serde_json::json!({
            "model": "intel_rapl",
            "zones": zones.iter().map(|z| serde_json::json!({"name": z.name, "path": z.dir.display().to_string()})).collect::<Vec<_>>(),
        }),
        CpuSource::Load { tdp_w } => serde_json::json!({"model": "cpu_load", "tdp_w": tdp_w, "formula": "tdp_w * (0.1 + 0.9 * load^3), load sampled ~1 Hz"}),
        CpuSource::Constant { tdp_w } => serde_json::json!({"model": "constant", "tdp_w": tdp_w, "formula": "tdp_w * 0.5"}),
    };
    serde_json::json!({
        "version": LIBRARY_VERSION,
        "run_id": run_id,
        "state": state,
        "project_name": c.project_name,
        "measure_power_secs": c.measure_power_secs,
        "force_carbon_intensity_g_co2e_kwh": c.force_carbon_intensity_g_per_kwh,
        "experiment_id": c.experiment_id,
        "experiment_name": c.experiment_name,
        "api_call_interval": c.api_call_interval,
        "wue": c.wue_l_per_kwh,
        "tracking_mode": c.tracking_mode.name(),
        "gpu_share": c.gpu_share.name(),
        "cpu": {
            "model_name": plan.cpu_model,
            "threads": plan.cpu_count,
            "sockets": plan.cpu_physical_count,
            "tdp_match": plan.tdp_match.as_ref().map(|m| serde_json::json!({"name": m.name, "tdp_w": m.tdp_w})),
            "source": cpu_source,
        },
        "ram": {
            "total_gib": plan.ram_total_gib,
            "power_w": plan.ram_power_w,
            "source": if c.force_ram_power_w.is_some() { "force_ram_power" } else { "dimm_heuristic" },
        },
        "gpus": plan.gpus.iter().map(|g| serde_json::json!({
            "index": g.index,
            "name": g.name,
            "uuid": g.uuid,
            "mig_uuids": g.mig_uuids,
            "source": if g.has_energy_counter { "nvml_total_energy_counter" } else { "nvml_power_integration" },
        })).collect::<Vec<_>>(),
        "methods": plan.methods,
        "intensity": intensity.map(|i| serde_json::json!({
            "g_per_kwh": i.g_per_kwh,
            "source": i.source,
            "country_iso_code": i.location.country_iso_code,
            "country_name": i.location.country_name,
            "region": i.location.region,
            "cloud_provider": i.location.cloud_provider,
            "cloud_region": i.location.cloud_region,
        })),
        "outputs": {
            "csv": c.save_to_file.then(|| c.output_path().display().to_string()),
            "api": c.save_to_api.then(|| c.api_endpoint.clone()),
            "emissions_endpoint": c.emissions_endpoint,
        },
        "os": OS.as_str(),
    })
}

/// The run's description for its rows and the API run, from the config, the probed hardware
/// and the location behind `intensity`.
pub fn run_info(config: &Config, run_id: &str, plan: &HardwarePlan, intensity: &Intensity) -> RunInfo {
    let loc = &intensity.location;
    RunInfo {
        project_name: config.project_name.clone(),
        run_id: run_id.to_string(),
        experiment_id: config.experiment_id.clone(),
        location: loc.clone(),
        os: OS.clone(),
        python_version: config.python_version.clone(),
        version: LIBRARY_VERSION.to_string(),
        cpu_count: plan.cpu_count,
        cpu_model: plan.cpu_model.clone(),
        gpu_count: plan.gpus.len(),
        gpu_model: crate::hardware::gpu::model_summary(&plan.gpus),
        ram_total_size_gib: plan.ram_total_gib,
        tracking_mode: config.tracking_mode.name().into(),
        pue: config.pue,
        pue_is_integer: config.pue_written_as_integer,
        wue_l_per_kwh: config.wue_l_per_kwh,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_shape() {
        let t = super::timestamp_now();
        assert_eq!(t.len(), 19);
        assert_eq!(&t[10..11], "T");
    }
}

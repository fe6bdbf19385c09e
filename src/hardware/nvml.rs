//! NVIDIA GPUs through NVML, loaded at run time: a machine without the driver simply has no GPU.
//! `libnvidia-ml.so` is tried first, then `libnvidia-ml.so.1` (distributions often ship only
//! the versioned name). NVML is initialised once per process and never shut down.

use std::ffi::OsStr;
use std::sync::Arc;

use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml};
use once_cell::sync::Lazy;

use super::gpu::{GpuDevice, GpuError};
use super::gpu_device::UtilSample;

static NVML: Lazy<Result<Nvml, String>> = Lazy::new(|| {
    let mut errors = Vec::new();
    for name in ["libnvidia-ml.so", "libnvidia-ml.so.1"] {
        match Nvml::builder().lib_path(OsStr::new(name)).init() {
            Ok(n) => return Ok(n),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    Err(errors.join("; "))
});

fn err(e: NvmlError) -> GpuError {
    match e {
        NvmlError::NotSupported | NvmlError::FunctionNotFound => GpuError::NotSupported,
        NvmlError::GpuLost => GpuError::Lost,
        other => GpuError::Other(other.to_string()),
    }
}

struct NvmlGpu {
    index: u32,
    device: Device<'static>,
}

impl GpuDevice for NvmlGpu {
    fn index(&self) -> u32 {
        self.index
    }
    fn name(&self) -> String {
        self.device.name().unwrap_or_else(|_| "NVIDIA GPU".into())
    }
    fn uuid(&self) -> String {
        self.device.uuid().unwrap_or_else(|_| format!("GPU-index-{}", self.index))
    }
    fn total_energy_mj(&self) -> Result<u64, GpuError> {
        self.device.total_energy_consumption().map_err(err)
    }
    fn power_mw(&self) -> Result<u32, GpuError> {
        self.device.power_usage().map_err(err)
    }
    fn utilization_percent(&self) -> Result<u32, GpuError> {
        self.device.utilization_rates().map(|u| u.gpu).map_err(err)
    }
    fn mig_uuids(&self) -> Vec<String> {
        // NVML_DEVICE_MIG_ENABLE = 1; instance slots may be empty (an error each).
        if !self.device.mig_mode().is_ok_and(|m| m.current == 1) {
            return Vec::new();
        }
        let slots = self.device.mig_device_count().unwrap_or(0);
        (0..slots).filter_map(|i| self.device.mig_device_by_index(i).ok()?.uuid().ok()).collect()
    }
    fn max_power_mw(&self) -> Option<u32> {
        self.device.power_management_limit_constraints().map(|c| c.max_limit).or_else(|_| self.device.enforced_power_limit()).ok()
    }
    fn running_pids(&self) -> Result<Vec<u32>, GpuError> {
        // Compute and graphics contexts; one of the two lists may be unsupported alone.
        let compute = self.device.running_compute_processes().map_err(err);
        let graphics = self.device.running_graphics_processes().map_err(err);
        if let (Err(e), Err(_)) | (Err(e @ GpuError::Lost), _) | (_, Err(e @ GpuError::Lost)) = (&compute, &graphics) {
            return Err(e.clone());
        }
        let mut pids: Vec<u32> = compute.into_iter().chain(graphics).flatten().map(|p| p.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }
    fn process_samples(&self, since_us: u64) -> Result<Vec<UtilSample>, GpuError> {
        match self.device.process_utilization_stats(since_us) {
            Ok(s) => Ok(s.into_iter().map(|s| UtilSample { pid: s.pid, timestamp_us: s.timestamp, sm_percent: s.sm_util }).collect()),
            // No sample newer than `since_us`.
            Err(NvmlError::NotFound) => Ok(Vec::new()),
            Err(e) => Err(err(e)),
        }
    }
}

/// The GPUs NVML could open, and a line for each one it could not.
pub struct Devices {
    pub opened: Vec<Arc<dyn GpuDevice>>,
    pub skipped: Vec<String>,
}

/// Every NVIDIA GPU of the machine (empty without a driver); `Err` says why NVML is absent. A
/// device that cannot be opened (lost, no permission) is skipped with a line naming it: one
/// failing GPU never hides the others.
pub fn devices() -> Result<Devices, String> {
    let nvml: &'static Nvml = NVML.as_ref().map_err(|e| e.clone())?;
    let count = nvml.device_count().map_err(|e| e.to_string())?;
    let mut out = Devices { opened: Vec::new(), skipped: Vec::new() };
    for index in 0..count {
        match nvml.device_by_index(index) {
            Ok(device) => out.opened.push(Arc::new(NvmlGpu { index, device })),
            Err(e) => out.skipped.push(format!("NVIDIA GPU {index} cannot be opened ({e}): it is not measured; the others are")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_driver_means_no_gpu_not_an_error_elsewhere() {
        // On machines without NVIDIA's driver this is an Err with the reason; with one, a list.
        match super::devices() {
            Ok(d) => eprintln!("{} NVIDIA GPU(s), {} skipped", d.opened.len(), d.skipped.len()),
            Err(why) => assert!(why.contains("libnvidia-ml"), "{why}"),
        }
    }
}

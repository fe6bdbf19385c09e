//! What the tracker needs from one GPU ([`GpuDevice`]: NVML implements it, tests use fakes),
//! and what a device can answer: its errors and its per-process utilisation samples.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuError {
    NotSupported,
    Lost,
    Other(String),
}

/// What the tracker needs from one GPU; NVML implements it, tests use fakes.
pub trait GpuDevice: Send + Sync {
    fn index(&self) -> u32;
    fn name(&self) -> String;
    fn uuid(&self) -> String;
    /// mJ since the driver loaded.
    fn total_energy_mj(&self) -> Result<u64, GpuError>;
    fn power_mw(&self) -> Result<u32, GpuError>;
    fn utilization_percent(&self) -> Result<u32, GpuError>;
    /// The UUIDs of the MIG instances of this GPU (`MIG-…`), if MIG is enabled.
    fn mig_uuids(&self) -> Vec<String> {
        Vec::new()
    }
    /// The highest power limit the device can be set to, mW, if it says.
    fn max_power_mw(&self) -> Option<u32> {
        None
    }
    /// The processes running on it (compute and graphics), `NotSupported` where NVML does not say.
    fn running_pids(&self) -> Result<Vec<u32>, GpuError> {
        Err(GpuError::NotSupported)
    }
    /// Its per-process utilisation samples newer than `since_us` (NVML's timestamps; 0: all
    /// it holds), `NotSupported` where NVML has none (MIG, older GPUs, some vGPUs).
    fn process_samples(&self, since_us: u64) -> Result<Vec<UtilSample>, GpuError> {
        let _ = since_us;
        Err(GpuError::NotSupported)
    }
}

/// One per-process utilisation sample (`nvmlProcessUtilizationSample_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtilSample {
    pub pid: u32,
    /// NVML's CPU timestamp, µs (only compared with other samples of the device).
    pub timestamp_us: u64,
    pub sm_percent: u32,
}

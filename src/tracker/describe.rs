//! `Tracker::describe`: what a tracker measures and how, as JSON.

use super::*;

impl Tracker {
    /// What this tracker measures and how, as JSON (the document of `ct_tracker_json` and
    /// `carbon-tracker detect --json`): the detected hardware, which source or model gives each
    /// of the CPU, GPU and RAM numbers, the carbon intensity and where it comes from, the
    /// outputs, the job, the regions' totals. Probes the hardware (once per process) if the
    /// tracker is not started yet.
    #[must_use]
    pub fn describe(&self) -> serde_json::Value {
        let c = &self.inner.config;
        let phase = self.inner.lock();
        let (state, plan, intensity) = match &*phase {
            Phase::Running(r) => ("running", r.meters.plan().clone(), Some(r.intensity.clone())),
            Phase::Created => ("created", hardware::plan_for(c, &self.inner.log), None),
            Phase::Stopped(_) => ("stopped", hardware::plan_for(c, &self.inner.log), None),
        };
        let counts_node = match &*phase {
            Phase::Running(r) => r.node.as_ref().map(|n| n.is_counter()),
            _ => None,
        };
        // How this rank shares the node: "shared", or why not (it counts the whole machine).
        let coordination = match &*phase {
            Phase::Running(r) if r.node.is_some() => Some("shared".to_string()),
            Phase::Running(r) => r.coordination_refused.clone(),
            _ => None,
        };
        // The GPUs this tracker counts now: in a job that counts the node once, those whose
        // lock it holds; otherwise every GPU it tracks (null when not running).
        let gpus_counted: Option<Vec<String>> = match &*phase {
            Phase::Running(r) => Some(match &r.node {
                Some(n) => n.gpus_counted().map(str::to_string).collect(),
                None => r.meters.gpus_counted().map(str::to_string).collect(),
            }),
            _ => None,
        };
        // gpu_share=split: each GPU's last interval, in parts (null when not split).
        let gpu_splits: Vec<serde_json::Value> = match &*phase {
            Phase::Running(r) => r.meters.gpu_splits().zip(r.meters.gpu_intervals()).map(|(s, iv)| split_json(s, &iv)).collect(),
            _ => Vec::new(),
        };
        drop(phase);
        let mut d = metadata::describe(c, &self.inner.run_id, state, &plan, intensity.as_ref());
        if let Some(gpus) = d["gpus"].as_array_mut() {
            for (g, s) in gpus.iter_mut().zip(gpu_splits) {
                g["last_split"] = s;
            }
        }
        d["job"] = self.inner.job.as_ref().map_or(serde_json::Value::Null, |j| {
            let mut v = serde_json::to_value(j).unwrap_or_default();
            v["count_node_once"] = serde_json::json!(self.inner.shares_node().is_some());
            v["counts_node_now"] = serde_json::json!(counts_node);
            v["coordination"] = serde_json::json!(coordination);
            v["gpus_counted_now"] = serde_json::json!(gpus_counted);
            v
        });
        d["outputs"]["prometheus"] = serde_json::json!(c.save_to_prometheus.then(|| c.prometheus_url.clone()));
        d["outputs"]["otlp"] = serde_json::json!((c.save_to_otlp || c.save_to_logfire).then(|| c.otlp_endpoint.clone().unwrap_or_default()));
        d["outputs"]["logger"] = serde_json::json!(c.save_to_logger);
        d["regions"] = serde_json::Value::Array(self.regions().iter().map(region_file::to_json).collect());
        d
    }
}

/// A GPU's last split for `ct_tracker_json`: the device's energy, this tracker's part, how it
/// was split and between how many processes.
fn split_json(s: Option<&hardware::gpu_share::Split>, iv: &hardware::gpu::DeviceInterval) -> serde_json::Value {
    s.map_or(serde_json::Value::Null, |s| {
        serde_json::json!({
            "method": s.method.name(),
            "device_j": s.device_j,
            "own_j": iv.own_j,
            "idle_j": s.idle_j,
            "unattributed_j": s.unattributed_j,
            "processes": s.parts.len(),
            "parts_j": s.parts.iter().map(|(pid, j)| serde_json::json!({"pid": pid, "j": j})).collect::<Vec<_>>(),
        })
    })
}

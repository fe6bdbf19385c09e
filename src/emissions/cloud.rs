//! Cloud detection through the instance metadata services (docs/measuring.md): AWS, Azure and GCP probed
//! in parallel with a short timeout (CodeCarbon probes them one after another, up to ~3 s on a
//! machine that is not in a cloud, its #1352). The base URL is an option so tests use a fake.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Cloud {
    pub provider: String,
    pub region: String,
}

/// GCP `zone` (`projects/1/zones/us-central1-a`) → region `us-central1`.
pub fn gcp_region(zone: &str) -> Option<String> {
    let last = zone.rsplit('/').next()?;
    let (region, suffix) = last.rsplit_once('-')?;
    (suffix.len() == 1 && region.contains('-')).then(|| region.to_string())
}

/// Reads a cloud region out of a provider's metadata document.
type RegionPick = fn(&serde_json::Value) -> Option<String>;

fn probe(base: &str, provider: &str, timeout: Duration) -> Option<Cloud> {
    let (path, header, pick): (&str, (&str, &str), RegionPick) = match provider {
        "aws" => ("/latest/dynamic/instance-identity/document", ("Accept", "application/json"), |v| {
            v["region"].as_str().map(str::to_string)
        }),
        "azure" => ("/metadata/instance?api-version=2019-08-15", ("Metadata", "true"), |v| {
            v["compute"]["location"].as_str().map(str::to_string)
        }),
        _ => ("/computeMetadata/v1/instance/?recursive=true&alt=json", ("Metadata-Flavor", "Google"), |v| {
            gcp_region(v["zone"].as_str()?)
        }),
    };
    let r = crate::http::get(&format!("{base}{path}"), &[header], timeout).ok()?;
    if r.status != 200 {
        return None;
    }
    let region = pick(&r.json()?)?;
    Some(Cloud { provider: provider.to_string(), region: region.to_ascii_lowercase() })
}

/// The first provider that answers, or `None` (not in a cloud, or metadata unreachable).
pub fn detect(base: &str, timeout: Duration) -> Option<Cloud> {
    std::thread::scope(|s| {
        let probes: Vec<_> = ["aws", "azure", "gcp"].iter().map(|p| s.spawn(move || probe(base, p, timeout))).collect();
        probes.into_iter().filter_map(|h| h.join().ok().flatten()).next()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn gcp_zone_to_region() {
        assert_eq!(super::gcp_region("projects/123/zones/us-central1-a").as_deref(), Some("us-central1"));
        assert_eq!(super::gcp_region("europe-west1-b").as_deref(), Some("europe-west1"));
        assert_eq!(super::gcp_region("nonsense"), None);
    }
}

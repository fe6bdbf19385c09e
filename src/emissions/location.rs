//! The network location lookup (geo + cloud), run once per process per set of endpoints on the
//! background runtime's blocking pool. Trackers start it at `start` and read the result when it
//! is there; nobody waits for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use once_cell::sync::Lazy;

use super::cloud::{self, Cloud};
use super::geo::{self, Geo};
use super::place::Place;
use crate::config::Config;
use crate::log::Logger;

const GEO_TIMEOUT: Duration = Duration::from_secs(2);
const CLOUD_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// `Err` says why both geo services failed.
    pub geo: Result<Geo, String>,
    pub cloud: Option<Cloud>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    geo: String,
    geo_backup: String,
    cloud: Option<String>,
}

enum State {
    Running,
    Done(Arc<Located>),
}

static LOOKUPS: Lazy<Mutex<HashMap<Key, State>>> = Lazy::new(|| Mutex::new(HashMap::new()));

fn key(c: &Config) -> Key {
    Key {
        geo: c.geo_api_url.clone(),
        geo_backup: c.geo_backup_api_url.clone(),
        cloud: c.cloud_detection.then(|| c.cloud_metadata_url.clone()),
    }
}

/// Starts the lookup for `config`'s endpoints unless it ran or runs already.
pub fn start(config: &Config, log: &Logger) {
    let k = key(config);
    let mut all = LOOKUPS.lock().unwrap_or_else(|p| p.into_inner());
    if all.contains_key(&k) {
        return;
    }
    all.insert(k.clone(), State::Running);
    let log = log.clone();
    let job_key = k.clone();
    let spawned = crate::background::spawn_blocking(move || {
        let k = job_key;
        let cloud_base = k.cloud.clone();
        let (geo, cloud) = std::thread::scope(|s| {
            let c = s.spawn(|| cloud_base.as_deref().and_then(|b| cloud::detect(b, CLOUD_TIMEOUT)));
            let g = geo::lookup(&k.geo, &k.geo_backup, GEO_TIMEOUT);
            (g, c.join().ok().flatten())
        });
        match &geo {
            Ok(g) => log.info(format!("Location: {} ({})", g.country_name, g.country_iso_code)),
            Err(e) => log.warning(format!(
                "Could not find where this machine is ({e}); using the world average carbon intensity. \
                 Set country_iso_code to give the location."
            )),
        }
        if let Some(c) = &cloud {
            log.info(format!("Running on {} in {}", c.provider, c.region));
        }
        let done = Arc::new(Located { geo, cloud });
        LOOKUPS.lock().unwrap_or_else(|p| p.into_inner()).insert(k, State::Done(done));
    });
    if !spawned {
        all.insert(k, State::Done(Arc::new(Located { geo: Err("no background runtime".into()), cloud: None })));
    }
}

/// The result, once the lookup for `config`'s endpoints has finished.
pub fn get(config: &Config) -> Option<Arc<Located>> {
    match LOOKUPS.lock().unwrap_or_else(|p| p.into_inner()).get(&key(config)) {
        Some(State::Done(l)) => Some(l.clone()),
        _ => None,
    }
}

/// Whether a tracker began the lookup for `config`'s endpoints (running, or finished).
pub fn begun(config: &Config) -> bool {
    LOOKUPS.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&key(config))
}

/// `place` completed with what the lookup found, for the intensity tables.
pub fn apply(place: &Place, located: &Located) -> Place {
    let mut p = place.clone();
    if let Ok(g) = &located.geo {
        p.country_iso_code = Some(g.country_iso_code.clone());
        p.region = g.region.clone();
        if p.country_2letter_iso_code.is_none() {
            p.country_2letter_iso_code = g.country_2letter_iso_code.clone();
        }
    }
    if let Some(cl) = &located.cloud {
        p.cloud_provider = Some(cl.provider.clone());
        p.cloud_region = Some(cl.region.clone());
    }
    p
}

//! The options string, parsed and resolved into a Config: any input gives Ok or an option
//! error, never a panic.
#![no_main]
use carbon_tracker::config::{options, Config, Origin, Sources};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(pairs) = options::parse(text) {
        let _ = Config::from_sources(&Sources { layers: vec![(Origin::Options, pairs)] });
    }
});

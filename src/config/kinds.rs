//! The types of option values that are more than a number or a string.

/// `output_methods`: which outputs it turns on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputMethods {
    pub file: bool,
    pub api: bool,
    pub prometheus: bool,
    pub logger: bool,
    /// CodeCarbon's name of the OpenTelemetry output (OTLP/HTTP to `otlp_endpoint`).
    pub logfire: bool,
    pub otlp: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvWriteMode {
    /// A row per flush/stop.
    Append,
    /// The row of this run is replaced in place.
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackingMode {
    /// The whole machine's CPU, GPU and RAM.
    Machine,
    /// This process and its descendants: their share of CPU time and memory.
    Process,
}

impl TrackingMode {
    pub fn name(self) -> &'static str {
        match self {
            TrackingMode::Machine => "machine",
            TrackingMode::Process => "process",
        }
    }
}

/// A value that must never reach a log line, a CSV or a `Debug` print (the API key).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

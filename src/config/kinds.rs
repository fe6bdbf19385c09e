//! The types of option values that are more than a number or a string.

/// `output_methods`: which outputs it turns on (it replaces the `save_to_*` keys).
///
/// More outputs may come in later versions: start from `OutputMethods::default()` (none) and
/// turn on the ones wanted.
///
/// ```
/// use carbon_tracker::{options::OutputMethods, Options};
///
/// let mut outputs = OutputMethods::default();
/// outputs.file = true;
/// outputs.logger = true;
/// let options = Options::new().output_methods(outputs);
/// assert_eq!(options.get("output_methods"), Some("csv,logger"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OutputMethods {
    /// `csv`: the CSV file (`save_to_file`).
    pub file: bool,
    /// `api`: the CodeCarbon API (`save_to_api`).
    pub api: bool,
    /// `prometheus`: a Prometheus Pushgateway (`save_to_prometheus`).
    pub prometheus: bool,
    /// `logger`: each total as a JSON line in the log (`save_to_logger`).
    pub logger: bool,
    /// CodeCarbon's name of the OpenTelemetry output (OTLP/HTTP to `otlp_endpoint`).
    pub logfire: bool,
    /// `otlp`: OpenTelemetry metrics over OTLP/HTTP (`save_to_otlp`).
    pub otlp: bool,
}

/// `on_csv_write`: how the CSV takes a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsvWriteMode {
    /// A row per flush/stop.
    Append,
    /// The row of this run is replaced in place.
    Update,
}

/// `tracking_mode`: what is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrackingMode {
    /// The whole machine's CPU, GPU and RAM.
    Machine,
    /// This process and its descendants: their share of CPU time and memory.
    Process,
}

impl TrackingMode {
    /// The option's word (`machine`).
    pub fn name(self) -> &'static str {
        match self {
            TrackingMode::Machine => "machine",
            TrackingMode::Process => "process",
        }
    }
}

/// `gpu_share`: what a process-mode tracker, or a rank of a job, counts of a GPU it shares
/// with other processes (docs/gpu-sharing.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GpuShare {
    /// Its share: the idle part equally, the active part by SM utilisation.
    Split,
    /// The whole GPU (CodeCarbon's process mode; a job's GPU counted by one rank).
    Whole,
}

impl GpuShare {
    /// The option's words, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["split", "whole"];

    /// The option's word (`split`).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
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

impl CsvWriteMode {
    /// The option's words, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["append", "update"];
}

impl TrackingMode {
    /// The option's words, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["machine", "process"];
}

/// `on_invalid_value`: what a value that does not parse does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnInvalidValue {
    /// `Tracker::new` fails, naming the key and what it expects.
    #[default]
    Error,
    /// It is logged (error level) and the key keeps its default, as CodeCarbon does.
    Ignore,
}

impl OnInvalidValue {
    /// The option's words, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["error", "ignore"];
}

/// What kind of value a key takes: for the command's help and switches, and the bindings'
/// declared types (bindings/python/carbon_tracker/_options.py is generated from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// Any text.
    Text,
    /// Never shown nor logged (`api_key`, tokens).
    Secret,
    /// A file or directory.
    Path,
    /// true/false/1/0/yes/no/on/off.
    Boolean,
    /// A number (each key has its range).
    Number,
    /// A whole number.
    Integer,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A level name or Python's `logging` number.
    LogLevel,
    /// `output_methods`: a comma-separated list of output names.
    OutputMethods,
    /// A comma-separated list.
    List,
}

/// The type of a `Config` field seen as an option value: its kind and how its value is shown
/// (`None`: nothing to show, e.g. an unset optional value or a secret).
pub trait KeyValue {
    const KIND: ValueKind;
    /// The value as the option's text, exactly (the typed setters of `Options` write it).
    fn to_text(&self) -> String;
    /// The value as help shows it (`None`: nothing to show, e.g. unset, empty or secret).
    fn shown(&self) -> Option<String> {
        Some(self.to_text()).filter(|s| !s.is_empty())
    }
}

impl KeyValue for String {
    const KIND: ValueKind = ValueKind::Text;
    fn to_text(&self) -> String {
        self.clone()
    }
}

impl KeyValue for Secret {
    const KIND: ValueKind = ValueKind::Secret;
    fn to_text(&self) -> String {
        self.0.clone()
    }
    fn shown(&self) -> Option<String> {
        None
    }
}

impl KeyValue for std::path::PathBuf {
    const KIND: ValueKind = ValueKind::Path;
    fn to_text(&self) -> String {
        self.display().to_string()
    }
}

/// Values written as they print (`Display`).
macro_rules! displayed_values {
    ($($ty:ty => $kind:expr),* $(,)?) => {$(
        impl KeyValue for $ty {
            const KIND: ValueKind = $kind;
            fn to_text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

displayed_values!(bool => ValueKind::Boolean, i64 => ValueKind::Integer, u32 => ValueKind::Integer);

impl KeyValue for f64 {
    const KIND: ValueKind = ValueKind::Number;
    /// `2.0`, not `2`: a float from Rust is a float (`pue=2`, an integer, is written `2` in the
    /// CSV, as CodeCarbon writes a Python int).
    fn to_text(&self) -> String {
        format!("{self:?}")
    }
    fn shown(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl KeyValue for CsvWriteMode {
    const KIND: ValueKind = ValueKind::Choice(CsvWriteMode::NAMES);
    fn to_text(&self) -> String {
        CsvWriteMode::NAMES[*self as usize].to_string()
    }
}

impl KeyValue for TrackingMode {
    const KIND: ValueKind = ValueKind::Choice(TrackingMode::NAMES);
    fn to_text(&self) -> String {
        self.name().to_string()
    }
}

impl KeyValue for GpuShare {
    const KIND: ValueKind = ValueKind::Choice(GpuShare::NAMES);
    fn to_text(&self) -> String {
        self.name().to_string()
    }
}

impl KeyValue for OnInvalidValue {
    const KIND: ValueKind = ValueKind::Choice(OnInvalidValue::NAMES);
    fn to_text(&self) -> String {
        OnInvalidValue::NAMES[*self as usize].to_string()
    }
}

impl KeyValue for crate::log::Level {
    const KIND: ValueKind = ValueKind::LogLevel;
    fn to_text(&self) -> String {
        self.name().to_ascii_lowercase()
    }
}

impl KeyValue for OutputMethods {
    const KIND: ValueKind = ValueKind::OutputMethods;
    fn to_text(&self) -> String {
        let names = [(self.file, "csv"), (self.api, "api"), (self.prometheus, "prometheus"), (self.logger, "logger"), (self.logfire, "logfire"), (self.otlp, "otlp")];
        names.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect::<Vec<_>>().join(",")
    }
    fn shown(&self) -> Option<String> {
        Some(self.to_text())
    }
}

impl KeyValue for Vec<String> {
    const KIND: ValueKind = ValueKind::List;
    fn to_text(&self) -> String {
        self.join(",")
    }
    fn shown(&self) -> Option<String> {
        Some(self.to_text())
    }
}

impl<T: KeyValue> KeyValue for Option<T> {
    const KIND: ValueKind = T::KIND;
    /// Empty for `None` (what the parsers read as unset).
    fn to_text(&self) -> String {
        self.as_ref().map(T::to_text).unwrap_or_default()
    }
    fn shown(&self) -> Option<String> {
        self.as_ref().and_then(T::shown)
    }
}

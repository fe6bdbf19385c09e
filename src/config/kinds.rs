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

impl CsvWriteMode {
    /// The option's words, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["append", "update"];
}

impl TrackingMode {
    /// The option's words, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["machine", "process"];
}

/// What kind of value a key takes: for the command's help and switches, and the bindings'
/// declared types (bindings/python/carbon_tracker/_options.py is generated from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    /// Never shown nor logged (`api_key`, tokens).
    Secret,
    Path,
    /// true/false/1/0/yes/no/on/off.
    Boolean,
    Number,
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
    fn shown(&self) -> Option<String>;
}

impl KeyValue for String {
    const KIND: ValueKind = ValueKind::Text;
    fn shown(&self) -> Option<String> {
        Some(self.clone()).filter(|s| !s.is_empty())
    }
}

impl KeyValue for Secret {
    const KIND: ValueKind = ValueKind::Secret;
    fn shown(&self) -> Option<String> {
        None
    }
}

impl KeyValue for std::path::PathBuf {
    const KIND: ValueKind = ValueKind::Path;
    fn shown(&self) -> Option<String> {
        Some(self.display().to_string())
    }
}

/// Values shown as they print (`Display`).
macro_rules! displayed_values {
    ($($ty:ty => $kind:expr),* $(,)?) => {$(
        impl KeyValue for $ty {
            const KIND: ValueKind = $kind;
            fn shown(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )*};
}

displayed_values!(bool => ValueKind::Boolean, f64 => ValueKind::Number, i64 => ValueKind::Integer, u32 => ValueKind::Integer);

impl KeyValue for CsvWriteMode {
    const KIND: ValueKind = ValueKind::Choice(CsvWriteMode::NAMES);
    fn shown(&self) -> Option<String> {
        Some(CsvWriteMode::NAMES[*self as usize].to_string())
    }
}

impl KeyValue for TrackingMode {
    const KIND: ValueKind = ValueKind::Choice(TrackingMode::NAMES);
    fn shown(&self) -> Option<String> {
        Some(self.name().to_string())
    }
}

impl KeyValue for crate::log::Level {
    const KIND: ValueKind = ValueKind::LogLevel;
    fn shown(&self) -> Option<String> {
        Some(self.name().to_ascii_lowercase())
    }
}

impl KeyValue for OutputMethods {
    const KIND: ValueKind = ValueKind::OutputMethods;
    fn shown(&self) -> Option<String> {
        let names = [(self.file, "csv"), (self.api, "api"), (self.prometheus, "prometheus"), (self.logger, "logger"), (self.logfire, "logfire"), (self.otlp, "otlp")];
        Some(names.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect::<Vec<_>>().join(","))
    }
}

impl KeyValue for Vec<String> {
    const KIND: ValueKind = ValueKind::List;
    fn shown(&self) -> Option<String> {
        Some(self.join(","))
    }
}

impl<T: KeyValue> KeyValue for Option<T> {
    const KIND: ValueKind = T::KIND;
    fn shown(&self) -> Option<String> {
        self.as_ref().and_then(T::shown)
    }
}

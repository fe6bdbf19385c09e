//! What a flush or stop gives back: the numbers, and the errors of the outputs that failed.

use super::*;

/// What a report (flush, stop) made: the numbers always, and the errors of outputs that failed
/// (the totals are kept in memory, so the next flush writes them again; at stop, uploads not
/// delivered within `api_timeout_s`). [`Tracker::flush`] and [`Tracker::stop`] turn it into a
/// `Result`.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) emissions: EmissionsSnapshot,
    pub(crate) errors: Vec<Error>,
}

impl Report {
    pub(super) fn into_result(self) -> std::result::Result<EmissionsSnapshot, ReportError> {
        if self.errors.is_empty() {
            Ok(self.emissions)
        } else {
            Err(ReportError { emissions: Some(Box::new(self.emissions)), errors: self.errors })
        }
    }
}

/// Why [`Tracker::flush`] or [`Tracker::stop`] failed, with the numbers when they were measured.
///
/// Measuring and saving are separate: when an output could not take the numbers (the CSV or a
/// file beside it could not be written, uploads were not delivered within `api_timeout_s` at
/// stop), the numbers are still measured and kept, the next flush writes them again, and this
/// error carries them: [`ReportError::emissions`]. When nothing was measured (the tracker was
/// not running), it carries none.
///
/// ```
/// # use carbon_tracker::{Options, Tracker, ErrorKind};
/// # let dir = std::env::temp_dir().join(format!("ct-doc-report-error-{}", std::process::id()));
/// let tracker = Tracker::new(Options::new().offline(true).country_iso_code("FRA").output_dir(&dir))?;
/// tracker.start()?;
/// std::fs::remove_dir_all(&dir)?; // the CSV cannot be written any more
/// match tracker.flush() {
///     Ok(e) => println!("{} kg CO2e", e.emissions_kg),
///     Err(e) => {
///         eprintln!("not saved: {e}");
///         if let Some(numbers) = e.emissions() {
///             println!("{} kg CO2e (measured, kept for the next flush)", numbers.emissions_kg);
///         }
/// #       assert_eq!(e.kind(), ErrorKind::Io);
/// #       assert!(e.emissions().is_some());
///     }
/// }
/// # assert!(tracker.stop().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReportError {
    // Boxed: the error stays small, as clippy's result_large_err asks of an `Err` variant.
    emissions: Option<Box<EmissionsSnapshot>>,
    /// At least one.
    errors: Vec<Error>,
}

impl ReportError {
    /// The numbers measured despite the failure (the totals since start, as `Ok` would have
    /// given them); `None` when the call measured nothing.
    pub fn emissions(&self) -> Option<&EmissionsSnapshot> {
        self.emissions.as_deref()
    }

    /// What failed, at least one error (several outputs may fail at once), in the order met.
    pub fn errors(&self) -> &[Error] {
        &self.errors
    }

    /// The kind of the first error.
    pub fn kind(&self) -> crate::error::ErrorKind {
        self.errors[0].kind
    }

    /// The numbers and the errors, taken apart.
    pub fn into_parts(self) -> (Option<EmissionsSnapshot>, Vec<Error>) {
        (self.emissions.map(|e| *e), self.errors)
    }
}

impl From<Error> for ReportError {
    /// An error of a call that measured nothing.
    fn from(e: Error) -> ReportError {
        ReportError { emissions: None, errors: vec![e] }
    }
}

impl From<ReportError> for Error {
    /// For `?` in a function that returns [`carbon_tracker::Result`](crate::Result): the kind of
    /// the first error and every message. The numbers are not kept: match the `ReportError`
    /// ([`ReportError::emissions`]) where they matter.
    ///
    /// ```
    /// # use carbon_tracker::{Options, Tracker};
    /// fn measured(t: &Tracker) -> carbon_tracker::Result<f64> {
    ///     Ok(t.flush()?.energy_consumed_kwh)
    /// }
    /// # let t = Tracker::new(Options::new().offline(true).country_iso_code("FRA").save_to_file(false))?;
    /// # t.start()?;
    /// # assert!(measured(&t)? >= 0.0);
    /// # let not_running = Tracker::new(Options::new().offline(true).country_iso_code("FRA"))?;
    /// # assert_eq!(measured(&not_running).unwrap_err().kind, carbon_tracker::ErrorKind::InvalidState);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from(e: ReportError) -> Error {
        Error::new(e.kind(), e.to_string())
    }
}

impl std::fmt::Display for ReportError {
    /// The errors' messages, joined by `; `.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<&str> = self.errors.iter().map(|e| e.message.as_str()).collect();
        f.write_str(&messages.join("; "))
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors.first().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

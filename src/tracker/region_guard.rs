//! A call of a region that ends when its guard is dropped.

use super::*;

/// A call of a region ([`Tracker::region`]): it ends when this is dropped.
#[must_use = "the call ends when the guard is dropped: bind it to a variable (`let _r = ...`), not to `_`"]
#[derive(Debug)]
pub struct RegionGuard<'a> {
    pub(super) tracker: &'a Tracker,
    /// `None` once the call has ended ([`RegionGuard::end`]).
    pub(super) name: Option<Cow<'a, str>>,
}

impl RegionGuard<'_> {
    /// Ends the call now, reporting an error (after `stop`:
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState)) that dropping the guard
    /// would ignore.
    pub fn end(mut self) -> Result<()> {
        let name = self.name.take().expect("a guard's call is open until it ends");
        self.tracker.region_end(&name)
    }
}

impl Drop for RegionGuard<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            let _ = self.tracker.region_end(&name);
        }
    }
}

//! The C ABI of progress, predictions and budgets: `ct_tracker_set_progress`,
//! `ct_tracker_predict` and the `ct_prediction` record.

use super::{arg, ct_status, ct_tracker, guarded};
use crate::error::{Error, Result};
use crate::record::{BudgetState, Prediction, PredictionState};

/// Whether a `ct_prediction`'s numbers are there.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ct_prediction_state {
    /// `ct_tracker_set_progress` was never called: nothing to predict from.
    CT_PREDICTION_NO_PROGRESS = 0,
    /// Not enough evidence yet (fewer than 3 progress reports, under 1 % of the work reported
    /// done, or no measurement): the predicted numbers are NaN rather than a guess.
    CT_PREDICTION_NOT_ENOUGH_EVIDENCE = 1,
    /// The predicted totals and their intervals are filled.
    CT_PREDICTION_READY = 2,
}

/// Where the run stands against its budgets (options `energy_budget_kwh`,
/// `emissions_budget_kg`): the worse of the two.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ct_budget_state {
    /// No budget is set.
    CT_BUDGET_NONE = 0,
    /// Measured totals are under the budgets, and so are the predicted ones (or there is no
    /// prediction yet).
    CT_BUDGET_BELOW = 1,
    /// A predicted total at completion (the point, not the interval's high end) is above its budget.
    CT_BUDGET_PREDICTED_TO_EXCEED = 2,
    /// A measured total has reached its budget. Measuring goes on.
    CT_BUDGET_EXCEEDED = 3,
}

impl From<PredictionState> for ct_prediction_state {
    fn from(s: PredictionState) -> Self {
        match s {
            PredictionState::NoProgress => ct_prediction_state::CT_PREDICTION_NO_PROGRESS,
            PredictionState::NotEnoughEvidence => ct_prediction_state::CT_PREDICTION_NOT_ENOUGH_EVIDENCE,
            PredictionState::Ready => ct_prediction_state::CT_PREDICTION_READY,
        }
    }
}

impl From<BudgetState> for ct_budget_state {
    fn from(s: BudgetState) -> Self {
        match s {
            BudgetState::None => ct_budget_state::CT_BUDGET_NONE,
            BudgetState::Below => ct_budget_state::CT_BUDGET_BELOW,
            BudgetState::PredictedToExceed => ct_budget_state::CT_BUDGET_PREDICTED_TO_EXCEED,
            BudgetState::Exceeded => ct_budget_state::CT_BUDGET_EXCEEDED,
        }
    }
}

/// A run's predicted totals at completion (100 % progress), from its progress reports and
/// measurements so far, and its budget state. Numbers that are not known are NaN.
///
/// Method: each of duration, energy and emissions is a cost per step. The reported progress is
/// cut into up to 16 equal segments; the current regime is the longest run of latest segments
/// whose time and energy per step agree within 15 % (a warm-up or a pace before a change is left
/// out); the cost per step is the least-squares slope over the regime, and the prediction is that
/// line's value at the latest report plus the steps left times the slope (exact for a steady run).
/// Intervals (`confidence`, 0.9): 5 % and 95 % quantiles of the remaining part taken as
/// log-normal, with the slope's standard error, a drift of the pace over the work left (0.5 per
/// unit of the work's fraction, so a change not seen yet is allowed for), and for a regime younger
/// than 3 segments half the distance to the pace before it. See docs/predictions.md.
///
/// Set `struct_size = sizeof(ct_prediction)` before passing it: fields past `struct_size` are
/// not written, so callers built against an older, shorter struct keep working.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ct_prediction {
    /// Set by the caller: `sizeof(ct_prediction)`.
    pub struct_size: u32,
    /// Whether the predicted numbers are there.
    pub state: ct_prediction_state,
    /// Against the budgets (also without a prediction: a measured total may exceed one).
    pub budget_state: ct_budget_state,
    /// Steps done / total steps at the latest `ct_tracker_set_progress`, 0 to 1 (NaN before the first).
    pub progress: f64,
    /// Seconds since start, at the latest measurement.
    pub measured_duration_s: f64,
    /// kWh measured since start (PUE included), at the latest measurement.
    pub measured_energy_kwh: f64,
    /// kg CO2e measured since start, at the latest measurement.
    pub measured_emissions_kg: f64,
    /// Predicted duration of the whole run at completion (100 % progress), s.
    pub predicted_duration_s: f64,
    /// Low end of its interval, s.
    pub predicted_duration_low_s: f64,
    /// High end of its interval, s.
    pub predicted_duration_high_s: f64,
    /// Predicted energy of the whole run at completion, kWh.
    pub predicted_energy_kwh: f64,
    /// Low end of its interval, kWh.
    pub predicted_energy_low_kwh: f64,
    /// High end of its interval, kWh.
    pub predicted_energy_high_kwh: f64,
    /// Predicted emissions of the whole run at completion, kg CO2e.
    pub predicted_emissions_kg: f64,
    /// Low end of its interval, kg CO2e.
    pub predicted_emissions_low_kg: f64,
    /// High end of its interval, kg CO2e.
    pub predicted_emissions_high_kg: f64,
    /// Predicted seconds from now to completion.
    pub time_left_s: f64,
    /// The nominal confidence of the low/high intervals (0.9).
    pub confidence: f64,
    /// The `energy_budget_kwh` option (0: none).
    pub energy_budget_kwh: f64,
    /// The `emissions_budget_kg` option (0: none).
    pub emissions_budget_kg: f64,
}

/// `ct_prediction` is the prediction record of `crate::record::prediction` behind a
/// `struct_size` and the two states: the conversion names every number of the record, and the
/// assertions check that the numbers follow in the record's order, without gaps, to the end.
macro_rules! ct_prediction_from_record {
    ($( $(#[$doc:meta])* $f:ident : $unit:literal ),* $(,)?) => {
        impl ct_prediction {
            fn from_record(struct_size: u32, p: &Prediction) -> ct_prediction {
                ct_prediction { struct_size, state: p.state.into(), budget_state: p.budget_state.into(), $( $f: p.$f, )* }
            }
        }
        const _: () = {
            assert!(std::mem::offset_of!(ct_prediction, state) == 4 && std::mem::offset_of!(ct_prediction, budget_state) == 8);
            assert!(std::mem::size_of::<ct_prediction_state>() == 4 && std::mem::size_of::<ct_budget_state>() == 4);
            let mut offset = FIRST_NUMBER;
            $(
                assert!(std::mem::offset_of!(ct_prediction, $f) == offset, "ct_prediction follows the record's order");
                offset += 8;
            )*
            assert!(std::mem::size_of::<ct_prediction>() == offset, "no field past the record's");
        };
    };
}

/// Offset of `progress`, the first number (after 4 bytes of padding).
const FIRST_NUMBER: usize = 16;
crate::record::prediction::for_each_prediction_number!(ct_prediction_from_record);

/// Reports progress: `done` steps out of `total` (`total` 1 when `done` is a fraction). Cheap
/// enough to call at every step: it records the time and the numbers, nothing else (no
/// measurement, no I/O, no lock held by measurements). A `done` lower than before is a rollback
/// (work to be done again); `total` may change between calls (the latest one counts).
/// Errors: `CT_ERR_NULL_ARGUMENT`, `CT_ERR_INVALID_OPTION` (not finite, `total` <= 0, `done`
/// outside 0..`total`: nothing is recorded), `CT_ERR_INVALID_STATE` (not running).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_set_progress(t: *mut ct_tracker, done: f64, total: f64) -> ct_status {
    // SAFETY: `t` is NULL or a live handle (the contract above).
    guarded(|| unsafe { arg(t, "ct_tracker_set_progress", "t") }?.tracker.set_progress(done, total))
}

/// Fills `out` with the run's predicted totals at completion and its budget state (see
/// `ct_prediction`). Measures first unless the last measurement is under 50 ms old (as
/// `ct_tracker_flush`); writes no row and sends nothing. "Not enough evidence" is not an error:
/// `CT_OK` with `out->state` saying so and the predicted numbers NaN.
/// Errors: `CT_ERR_NULL_ARGUMENT` (`t` or `out` NULL), `CT_ERR_INVALID_OPTION`
/// (`out->struct_size` under 24: set it to `sizeof(ct_prediction)`), `CT_ERR_INVALID_STATE`
/// (not running).
#[no_mangle]
pub unsafe extern "C" fn ct_tracker_predict(t: *mut ct_tracker, out: *mut ct_prediction) -> ct_status {
    const F: &str = "ct_tracker_predict";
    guarded(|| {
        // SAFETY: the contract above.
        let (t, size) = unsafe { (arg(t, F, "t")?, check_out(out)?) };
        let p = t.tracker.predict()?;
        // SAFETY: `check_out` read `size` from a caller-owned struct of that size.
        unsafe { fill(out, size, &p) };
        Ok(())
    })
}

/// The bytes of whole fields that fit in `size`: the three 4-byte leading fields, then 8-byte
/// numbers from offset 16.
fn whole_fields(size: usize) -> usize {
    let n = if size >= FIRST_NUMBER { FIRST_NUMBER + ((size - FIRST_NUMBER) & !7) } else { size & !3 };
    n.min(size_of::<ct_prediction>())
}

/// Checks `out` and its `struct_size` before anything happens.
///
/// # Safety
/// `out` is NULL or points to at least `out->struct_size` writable bytes.
unsafe fn check_out(out: *mut ct_prediction) -> Result<u32> {
    if out.is_null() {
        return Err(Error::new(crate::error::ErrorKind::NullArgument, "ct_tracker_predict: `out` is NULL"));
    }
    // SAFETY: non-null `out` points to at least the leading `struct_size` field.
    let size = unsafe { std::ptr::addr_of!((*out).struct_size).read_unaligned() };
    if (size as usize) < FIRST_NUMBER + 8 {
        return Err(Error::option(format!(
            "ct_tracker_predict: out->struct_size is {size}; set it to sizeof(ct_prediction) ({})",
            size_of::<ct_prediction>()
        )));
    }
    Ok(size)
}

/// Copies `p` into `out` (whole fields up to `size`).
///
/// # Safety
/// `out` points to at least `size` writable bytes.
unsafe fn fill(out: *mut ct_prediction, size: u32, p: &Prediction) {
    let full = ct_prediction::from_record(size, p);
    let n = whole_fields(size as usize);
    // SAFETY: the caller owns `size` bytes at `out`; we copy at most that many.
    unsafe { std::ptr::copy_nonoverlapping(&full as *const ct_prediction as *const u8, out as *mut u8, n) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{c_char, CStr};

    fn new_started(opts: &[u8]) -> *mut ct_tracker {
        let mut t = std::ptr::null_mut();
        assert_eq!(unsafe { super::super::ct_tracker_new(opts.as_ptr() as *const c_char, &mut t) }, ct_status::CT_OK);
        assert_eq!(unsafe { super::super::ct_tracker_start(t) }, ct_status::CT_OK);
        t
    }

    fn last() -> String {
        unsafe { CStr::from_ptr(super::super::ct_last_error()) }.to_string_lossy().into_owned()
    }

    fn zeroed() -> ct_prediction {
        // SAFETY: every field is a number or an enum whose 0 is a variant.
        let mut p: ct_prediction = unsafe { std::mem::zeroed() };
        p.struct_size = size_of::<ct_prediction>() as u32;
        p
    }

    #[test]
    fn whole_fields_only() {
        assert_eq!(whole_fields(24), 24);
        assert_eq!(whole_fields(31), 24);
        assert_eq!(whole_fields(10), 8);
        assert_eq!(whole_fields(1 << 20), size_of::<ct_prediction>());
    }

    #[test]
    fn arguments_and_struct_size_are_checked() {
        let mut p = zeroed();
        assert_eq!(unsafe { ct_tracker_set_progress(std::ptr::null_mut(), 1.0, 2.0) }, ct_status::CT_ERR_NULL_ARGUMENT);
        assert_eq!(unsafe { ct_tracker_predict(std::ptr::null_mut(), &mut p) }, ct_status::CT_ERR_NULL_ARGUMENT);
        let t = new_started(b"offline=true;save_to_file=false;country_iso_code=FRA\0");
        assert_eq!(unsafe { ct_tracker_predict(t, std::ptr::null_mut()) }, ct_status::CT_ERR_NULL_ARGUMENT);
        assert!(last().contains("`out` is NULL"), "{}", last());
        assert_eq!(unsafe { ct_tracker_set_progress(t, f64::NAN, 2.0) }, ct_status::CT_ERR_INVALID_OPTION);
        assert!(last().contains("done=NaN"), "{}", last());
        assert_eq!(unsafe { ct_tracker_set_progress(t, 3.0, 2.0) }, ct_status::CT_ERR_INVALID_OPTION);
        p.struct_size = 16;
        assert_eq!(unsafe { ct_tracker_predict(t, &mut p) }, ct_status::CT_ERR_INVALID_OPTION);
        assert!(last().contains("struct_size is 16"), "{}", last());
        // A caller built against a struct that ended at `progress`: nothing past it is written.
        #[repr(C)]
        struct V0 {
            head: [u32; 4],
            progress: f64,
            guard: f64,
        }
        let mut v = V0 { head: [24, 9, 9, 0], progress: -1.0, guard: 42.0 };
        assert_eq!(unsafe { ct_tracker_set_progress(t, 1.0, 4.0) }, ct_status::CT_OK);
        assert_eq!(unsafe { ct_tracker_predict(t, &mut v as *mut V0 as *mut ct_prediction) }, ct_status::CT_OK);
        assert_eq!((v.head[0], v.head[1], v.head[2]), (24, 1, 0)); // not enough evidence, no budget
        assert_eq!(v.progress, 0.25);
        assert_eq!(v.guard, 42.0, "wrote past struct_size");
        unsafe { super::super::ct_tracker_free(t) };
    }

    #[test]
    fn states_before_start_and_after_stop() {
        let mut t = std::ptr::null_mut();
        let opts = b"offline=true;save_to_file=false;energy_budget_kwh=1e-12\0";
        assert_eq!(unsafe { super::super::ct_tracker_new(opts.as_ptr() as *const c_char, &mut t) }, ct_status::CT_OK);
        let mut p = zeroed();
        assert_eq!(unsafe { ct_tracker_set_progress(t, 0.0, 1.0) }, ct_status::CT_ERR_INVALID_STATE);
        assert_eq!(unsafe { ct_tracker_predict(t, &mut p) }, ct_status::CT_ERR_INVALID_STATE);
        assert_eq!(unsafe { super::super::ct_tracker_start(t) }, ct_status::CT_OK);
        assert_eq!(unsafe { ct_tracker_predict(t, &mut p) }, ct_status::CT_OK);
        assert_eq!(p.state, ct_prediction_state::CT_PREDICTION_NO_PROGRESS);
        assert!(p.progress.is_nan() && p.predicted_energy_kwh.is_nan());
        assert_eq!(p.energy_budget_kwh, 1e-12);
        assert_eq!(p.emissions_budget_kg, 0.0);
        assert_eq!(p.confidence, 0.9);
        std::thread::sleep(std::time::Duration::from_millis(60)); // a fresh measurement: > 1e-12 kWh
        assert_eq!(unsafe { ct_tracker_predict(t, &mut p) }, ct_status::CT_OK);
        assert_eq!(p.budget_state, ct_budget_state::CT_BUDGET_EXCEEDED);
        assert_eq!(unsafe { super::super::ct_tracker_stop(t, std::ptr::null_mut()) }, ct_status::CT_OK);
        assert_eq!(unsafe { ct_tracker_set_progress(t, 0.5, 1.0) }, ct_status::CT_ERR_INVALID_STATE);
        assert_eq!(unsafe { ct_tracker_predict(t, &mut p) }, ct_status::CT_ERR_INVALID_STATE);
        unsafe { super::super::ct_tracker_free(t) };
    }
}

//! Test builds only (feature `test-hooks`): the test clock for C test programs linked to a
//! test build. Not in the header.

/// Moves the tracker's clock forward by `seconds` ([`crate::clock::advance_for_tests`]).
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn ct_test_advance_clock_s(seconds: f64) {
    if seconds.is_finite() && seconds > 0.0 {
        crate::clock::advance_for_tests(std::time::Duration::from_secs_f64(seconds));
    }
}
